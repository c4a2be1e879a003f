"""Tables survive a worker restart (changelog recovery) and are rebuilt identically by a replay."""
from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from faust.stores.rocksdb import Store as RocksDBStore
from rocksdict import AccessType, Options, Rdict

from app.inspect import read_topic
from app.topics import CANONICAL_TABLE, TopicNames

from tests.core.factories import change, contact, invoice, result_for
from tests.support.flow import metric_value, unique_key
from tests.support.kafka import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
T0 = 1_772_000_000_000


def scenario(n: int = 20):
    """Contacts and invoices from Odoo, some edited again, one edited concurrently in Holded."""
    events = {"odoo": [], "holded": []}
    keys = [unique_key() for _ in range(n)]
    for i, key in enumerate(keys):
        events["odoo"].append(change("odoo", contact(name=f"Cliente {i}"), key=key, ts=T0 + i))
        inv_key = f"invoice/odoo/{key.rsplit('/', 1)[1]}"
        events["odoo"].append(change("odoo", invoice(customer_key=key), key=inv_key, ts=T0 + i))
    for i, key in enumerate(keys[: n // 2]):
        events["odoo"].append(change("odoo", contact(name=f"Cliente {i}", email=f"c{i}@x.es"),
                                     key=key, ts=T0 + 100 + i))
    events["holded"].append(change("holded", contact(name="Cliente 0", phone="600"), key=keys[0],
                                   ts=T0 + 200))
    return keys, events


async def run_scenario(flow, n: int = 20):
    keys, events = scenario(n)
    await flow.send_changes("odoo", *events["odoo"])
    expected = 2 * n + n // 2
    cmds = await flow.wait_commands("holded", expected)
    await flow.send_changes("holded", *events["holded"])
    cmds = await flow.wait_commands("holded", expected)
    # A sink acknowledged the first command of five entities: links and replicas come from
    # results. (Not simply cmds[:5]: a partition holding under five entities lists an update
    # of one of them before the next partition, and that entity would count once.)
    first = {}
    for cmd in cmds:
        first.setdefault(cmd["entity_key"], cmd)
    for cmd in list(first.values())[:5]:
        await flow.send_result(result_for(cmd, target_id=f"h-{cmd['command_id'][:6]}"))
    return keys, events, expected


async def settled_tables(flow, predicate, what):
    await flow.wait_idle()

    sizes: dict[str, int] = {}

    async def tables():
        snap = {t: await flow.table(t) for t in ("entities", "replicas", "links")}
        sizes.update((t, len(v)) for t, v in snap.items())
        return snap if predicate(snap) else None
    try:
        return await wait_for(tables, 60, what, flow.worker)
    except AssertionError as exc:
        raise AssertionError(f"last table sizes {sizes}; {exc}") from None


async def changelog_records(settings):
    """Every record of the canonical table's changelog."""
    return await read_topic(settings, TopicNames(settings).changelog(CANONICAL_TABLE))


async def last_changelog_offsets(flow) -> dict[int, int]:
    """Partition -> offset of the last record of the canonical table's changelog."""
    last: dict[int, int] = {}
    for r in await changelog_records(flow.settings):
        last[r.partition] = max(r.offset, last.get(r.partition, -1))
    return last


async def noted_offsets(flow) -> dict[int, int]:
    """Partition -> the changelog offset each RocksDB partition of a stopped worker says it
    holds (faust's own key): where its recovery will resume."""
    noted = {}
    for db_dir in sorted(Path(flow.settings.data_dir).glob(f"*/{flow.names.app_id}/{CANONICAL_TABLE}-*.db")):
        db = Rdict(str(db_dir), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            offset = db.get(RocksDBStore.offset_key)
        finally:
            db.close()
        if offset is not None:
            noted[int(db_dir.stem.rsplit("-", 1)[1])] = int(offset)
    return noted


# The memory store restores every table from its changelog; RocksDB (production's store)
# reopens its files and reads only the changelog past the offset it noted.
@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_worker_restart_restores_tables_from_changelogs(own_flow, store):
    flow = await own_flow(store=store, standby_replicas=0)
    keys, events, _ = await run_scenario(flow)
    before = await settled_tables(flow, lambda s: len(s["links"]) == 5, "5 links")
    ids_before = {c["command_id"] for c in await flow.commands("holded")}

    await asyncio.to_thread(flow.worker.kill)  # kill -9: no clean shutdown
    if store == "rocksdb://":
        last = await last_changelog_offsets(flow)
        assert last and await noted_offsets(flow) == last  # it will read no changelog again
    flow.worker = WorkerProcess(flow.settings, flow.worker.log_path).start()
    await flow.wait_ready()

    # Everything again (a full redelivery) plus one genuinely new change.
    await flow.send_changes("odoo", *events["odoo"])
    await flow.send_changes("odoo", change("odoo", contact(name="Nuevo nombre"), key=keys[-1], ts=T0 + 900))
    async def renamed():
        return [c for c in await flow.commands("holded", keys[-1])
                if c["payload"]["name"] == "Nuevo nombre"] or None
    [new] = await wait_for(renamed, 60, "the new change's command", flow.worker)
    # The restored state knew this entity at {odoo: 1}: the new change builds on it.
    assert new["vector"] == {"odoo": 2}
    # The redelivery decided nothing new. (A record read again after a rebalance sends again,
    # under its id, a write with no outcome yet: here every write but five, as no sink runs.)
    await flow.wait_idle()
    assert {c["command_id"] for c in await flow.commands("holded")} == \
        ids_before | {new["command_id"]}
    after = await flow.table("entities")
    for key, state in before["entities"].items():
        if key != keys[-1]:
            assert after[key] == state


async def test_replay_rebuilds_equal_tables_and_the_same_command_ids(own_flow):
    flow = await own_flow(store="rocksdb://")
    _, _, expected = await run_scenario(flow)
    original = await settled_tables(flow, lambda s: len(s["links"]) == 5, "5 links")
    original_ids = [c["command_id"] for c in await flow.commands("holded")]
    await asyncio.to_thread(flow.worker.stop)

    # on the same volume, as a StatefulSet's pod switched to the new generation keeps its own
    replayed = await own_flow(topic_prefix=flow.settings.topic_prefix, generation=1,
                              store="rocksdb://", data_dir=flow.settings.data_dir)
    assert replayed.names.changelog("canonical") != flow.names.changelog("canonical")
    rebuilt = await settled_tables(
        replayed, lambda s: s["entities"] == original["entities"] and len(s["links"]) == 5,
        "the replayed tables to match")
    assert rebuilt["links"] == original["links"]
    for key, reps in original["replicas"].items():
        for system, rep in reps["systems"].items():
            got = rebuilt["replicas"][key]["systems"][system]
            assert (got["vector"], got["content_hash"]) == (rep["vector"], rep["content_hash"])
    # Every command emitted once more, with its id (the topic is read partition by partition,
    # so the re-emitted ones are not simply the records after the originals).
    after = Counter(c["command_id"] for c in await replayed.commands("holded"))
    assert after == Counter({cid: 2 * n for cid, n in Counter(original_ids).items()})


async def _changelog(settings) -> dict:
    """The canonical table's latest raw value per key, as its changelog holds it."""
    return {r.key: r.value for r in await changelog_records(settings)}


async def test_bulk_replay_builds_the_agents_table_and_the_new_worker_carries_on(own_flow):
    from app.lag import GroupReader
    from tests.support.kafka import settings_env

    flow = await own_flow()
    keys, _, _ = await run_scenario(flow)
    await flow.send_raw(flow.names.changes("odoo"), keys[1].encode(), b"not an event")
    await settled_tables(flow, lambda s: len(s["links"]) == 5, "5 links")
    await wait_for(flow.dlq, 30, "the bad record dead-lettered", flow.worker)
    original = await _changelog(flow.settings)
    original_ids = [c["command_id"] for c in await flow.commands("holded")]
    dead_before = len(await flow.dlq())
    await asyncio.to_thread(flow.worker.stop)

    env = settings_env(flow.settings)
    args = ["replay", "--from-beginning", "--generation", "1", "--no-run", "--jobs", "2"]
    done = await _invoke(args, env)
    assert done.exit_code == 0, done.output
    assert "dead-lettered" in done.output and "committed at the end of inbox" in done.output
    rebuilt_settings = flow.settings.model_copy(update={"generation": 1})
    assert await _changelog(rebuilt_settings) == original  # byte for byte
    names = TopicNames(rebuilt_settings)
    async with GroupReader(rebuilt_settings) as reader:
        positions = await reader.read(names.app_id, [names.inbox])
    assert sum(p.end for p in positions.values()) > 0
    assert all(p.committed == p.end for p in positions.values())
    # Every command emitted once more, with its id (the topic is read partition by partition).
    after = Counter(c["command_id"] for c in await flow.commands("holded"))
    assert after == Counter({cid: 2 * n for cid, n in Counter(original_ids).items()})
    assert len(await flow.dlq()) == dead_before + 1

    again = await _invoke(args, env)  # e.g. a retried Job: the built generation is left as it is
    assert again.exit_code == 0 and "already read" in again.output and "no batch job" in again.output
    assert len(await flow.commands("holded")) == 2 * len(original_ids)  # nothing emitted again

    replayed = await own_flow(topic_prefix=flow.settings.topic_prefix, generation=1)
    await replayed.wait_idle()
    assert await replayed.lag() == 0
    await replayed.send_changes("odoo", change("odoo", contact(name="Nuevo nombre"), key=keys[-1], ts=T0 + 900))

    async def renamed():
        return [c for c in await replayed.commands("holded", keys[-1]) if c["payload"]["name"] == "Nuevo nombre"]
    [new] = await wait_for(renamed, 60, "the command of the new change", replayed.worker)
    assert new["vector"] == {"odoo": 2}  # decided on the table the worker restored


async def _invoke(args: list[str], env: dict[str, str]):
    """The CLI runs its own event loop: call it from a thread, as a shell would."""
    from click.testing import CliRunner

    from app.cli import cli
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)


async def test_replay_since_re_decides_the_inbox_from_a_time_and_emits_no_new_command(own_flow):
    import datetime as dt
    import time

    from tests.support.kafka import settings_env

    flow = await own_flow(metrics_interval_s=0.5)
    env = settings_env(flow.settings)
    before = [change("odoo", contact(name=f"Antes {i}"), key=unique_key(), ts=T0 + i) for i in range(5)]
    await flow.send_changes("odoo", *before)
    await flow.wait_commands("holded", 5)
    await flow.wait_idle()
    since = dt.datetime.now(dt.timezone.utc).isoformat()  # every earlier record is in inbox already
    after = [change("odoo", contact(name=f"Después {i}"), key=unique_key(), ts=T0 + i) for i in range(4)]
    await flow.send_changes("odoo", *after)
    commands = await flow.wait_commands("holded", 9)
    await flow.wait_idle()
    audit_before = len(await flow.audit())

    busy = await _invoke(["replay", "--since", since], env)
    assert busy.exit_code == 1 and "stop every worker" in busy.output, busy.output

    await asyncio.to_thread(flow.worker.stop)
    following = asyncio.create_task(_invoke(["replay", "--since", since, "--timeout", "90"], env))

    async def rewound():
        return following.done() or await flow.lag() == len(after)
    await wait_for(rewound, 60, "the inbox to be rewound")
    started = time.monotonic()
    flow.worker = WorkerProcess(flow.settings, flow.worker.log_path).start()
    res = await following
    assert res.exit_code == 0, res.output
    assert f"{len(after)} record(s) to decide again" in res.output
    assert f"{len(after)} record(s) read in" in res.output and "re-deciding" in res.output
    print(f"replay --since: {len(after)} records re-decided in {time.monotonic() - started:.1f}s "
          "including the worker's start")

    async def audited():
        records = await flow.audit()
        return records if {a["event_id"] for a in records} >= {e["event_id"] for e in after} else None
    # Each re-read change was decided again: a duplicate (audited). Only the
    # records since TIME were re-read (at-least-once may deliver one twice: same event id).
    audit = await wait_for(audited, 60, "audit records of the re-decided changes", flow.worker)
    assert audit_before == 0
    assert {(a["event_id"], a["kind"]) for a in audit} == {(e["event_id"], "duplicate") for e in after}
    await flow.wait_idle()
    # No new command. (A re-decided change sends again, under its id, a write with no outcome
    # yet: here all of them, as no sink runs.)
    assert {c["command_id"] for c in await flow.commands("holded")} == \
        {c["command_id"] for c in commands}

    async def replay_done():
        text = await flow.metrics()
        return text if metric_value(text, "holded_sync_replay_progress_ratio") == 1.0 else None
    text = await wait_for(replay_done, 30, "the replay gauge to reach 1", flow.worker)
    assert metric_value(text, "holded_sync_replay_planned_records") == len(after)
    assert metric_value(text, "holded_sync_replay_done_records") == len(after)

    bad = await _invoke(["replay", "--since", "last tuesday"], env)
    assert bad.exit_code == 2 and "is not a time" in bad.output
    both = await _invoke(["replay", "--since", "2h", "--from-beginning"], env)
    assert both.exit_code == 2 and "exactly one of" in both.output
