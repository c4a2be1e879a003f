"""Tables survive a worker restart (changelog recovery) and are rebuilt identically by a replay."""
from __future__ import annotations

import asyncio

import pytest

from tests.core.factories import change, contact, invoice, result_for
from tests.support.flow import unique_key
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
    # A sink acknowledged some of them: links and replicas come from results.
    for cmd in cmds[:5]:
        await flow.send_result(result_for(cmd, target_id=f"h-{cmd['command_id'][:6]}"))
    return keys, events, expected


async def settled_tables(flow, predicate, what):
    await flow.wait_idle()

    async def tables():
        snap = {t: await flow.table(t) for t in ("entities", "replicas", "links")}
        return snap if predicate(snap) else None
    return await wait_for(tables, 60, what, flow.worker)


async def test_worker_restart_restores_tables_from_changelogs(own_flow):
    flow = await own_flow()
    keys, events, _ = await run_scenario(flow)
    before = await settled_tables(flow, lambda s: len(s["links"]) == 5, "5 links")
    commands_before = len(await flow.commands("holded"))

    await asyncio.to_thread(flow.worker.kill)  # kill -9: no clean shutdown
    flow.worker = WorkerProcess(flow.settings, flow.worker.log_path).start()
    await flow.wait_ready()

    # Everything again (a full redelivery) plus one genuinely new change.
    await flow.send_changes("odoo", *events["odoo"])
    await flow.send_changes("odoo", change("odoo", contact(name="Nuevo nombre"), key=keys[-1], ts=T0 + 900))
    [new] = [c for c in await flow.wait_commands("holded", commands_before + 1)
             if c["entity_key"] == keys[-1] and c["payload"]["name"] == "Nuevo nombre"]
    # The restored state knew this entity at {odoo: 1}: the new change builds on it.
    assert new["vector"] == {"odoo": 2}
    assert len(await flow.commands("holded")) == commands_before + 1  # redelivery sent nothing
    after = await flow.table("entities")
    for key, state in before["entities"].items():
        if key != keys[-1]:
            assert after[key] == state


async def test_replay_rebuilds_equal_tables_and_the_same_command_ids(own_flow):
    flow = await own_flow()
    _, _, expected = await run_scenario(flow)
    original = await settled_tables(flow, lambda s: len(s["links"]) == 5, "5 links")
    original_ids = [c["command_id"] for c in await flow.commands("holded")]
    await asyncio.to_thread(flow.worker.stop)

    replayed = await own_flow(topic_prefix=flow.settings.topic_prefix, generation=1)
    assert replayed.names.changelog("entities") != flow.names.changelog("entities")
    rebuilt = await settled_tables(
        replayed, lambda s: s["entities"] == original["entities"] and len(s["links"]) == 5,
        "the replayed tables to match")
    assert rebuilt["links"] == original["links"]
    for key, reps in original["replicas"].items():
        for system, rep in reps["systems"].items():
            got = rebuilt["replicas"][key]["systems"][system]
            assert (got["vector"], got["content_hash"]) == (rep["vector"], rep["content_hash"])
    re_emitted = [c["command_id"] for c in await replayed.commands("holded")][len(original_ids):]
    assert re_emitted and set(re_emitted) <= set(original_ids)
