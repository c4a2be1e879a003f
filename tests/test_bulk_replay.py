"""The bulk replay decides an inbox partition exactly as the canonical agent does (no Kafka)."""
from __future__ import annotations

import random
from collections import namedtuple

from app.avro import codec
from app.bulk_replay import PartitionRebuild, _spread
from app.canonical_entry import decode
from app.canonical_step import CanonicalStep
from app.connections import engine_policy
from app.live_mapping import LiveMapping
from app.sequencer import SOURCE_HEADER
from app.settings import Settings
from app.topics import TopicNames
from tests.core.factories import change, contact, invoice, result_for

CHANGE, RESULT, COMMAND = codec("ChangeEvent"), codec("CommandResult"), codec("Command")
CONFLICT, AUDIT, DEAD = codec("Conflict"), codec("AuditRecord"), codec("DeadLetter")
Msg = namedtuple("Msg", "topic partition offset headers key value")
T0 = 1_772_000_000_000


def _policy():
    return engine_policy(Settings(systems=("holded", "odoo")), LiveMapping())


class Recorded:
    """Stands in for the producer: what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int | None]] = []

    async def send(self, topic, key, value, partition=None) -> None:
        self.sent.append((topic, key, value, partition))


def agent_run(names: TopicNames, records: list[tuple[bytes, bytes]], cache: int, version: int):
    """What app/worker.py's canonical agent stores and emits for these inbox records."""
    from app.worker import REJECTED

    step = CanonicalStep(_policy(), cache)
    table: dict[bytes, bytes] = {}
    emitted = []
    for key, value in records:
        try:
            done = step(key, value, table.get(key))
        except REJECTED:
            emitted.append((names.dlq, key))
            continue
        if done.entry is not None:
            table[key] = done.entry.raw
        for cmd in done.decision.commands:
            cmd["mapping_version"] = version
            emitted.append((names.commands(cmd["target_system"], cmd["lane"]), key, COMMAND.dumps(cmd)))
        emitted += [(names.conflicts, key, CONFLICT.dumps(c)) for c in done.decision.conflicts]
        emitted += [(names.audit, key, AUDIT.dumps(a)) for a in done.decision.audit]
    return table, emitted


def inbox(seed: int) -> list[tuple[bytes, bytes]]:
    """Changes from two systems (some concurrent, some redelivered or stale), results of some
    of the commands they cause, and records the agent must reject, in a shuffled order."""
    rng = random.Random(seed)
    step = CanonicalStep(_policy(), 0)
    table: dict[bytes, bytes] = {}
    records: list[tuple[bytes, bytes]] = []
    keys = [f"contact/odoo/C{i}" for i in range(6)] + ["invoice/odoo/F1"]
    for n in range(120):
        key = rng.choice(keys)
        if rng.random() < 0.05:
            records.append((key.encode(), b"\x00not avro"))
            continue
        system = rng.choice(("odoo", "odoo", "holded"))
        ts = T0 + rng.randrange(0, 200)  # out of order: stale and concurrent changes
        payload = (invoice(customer_key=keys[0]) if key.startswith("invoice")
                   else contact(name=f"Cliente {key[-1]}", email=f"v{rng.randrange(4)}@x.es"))
        event = change(system, payload, key=key, ts=ts, event_id=f"e{n % 90}")
        value = CHANGE.dumps(event)
        records.append((key.encode(), value))
        done = step(key.encode(), value, table.get(key.encode()))
        if done.entry is not None:
            table[key.encode()] = done.entry.raw
        for cmd in done.decision.commands:
            if rng.random() < 0.5:
                records.append((key.encode(), RESULT.dumps(result_for(cmd, target_id=f"t-{n}"))))
    return records


async def bulk_run(names: TopicNames, records, version: int, decoded_max: int = 1000):
    out = Recorded()
    rebuild = PartitionRebuild(names, _policy(), version, out, decoded_max)
    for offset, (key, value) in enumerate(records):
        await rebuild.take(Msg(names.inbox, 3, offset, [(SOURCE_HEADER, f"changes.odoo:1:{offset}".encode())],
                               key, value))
    return rebuild, out


async def test_bulk_decisions_store_and_emit_what_the_agent_does():
    names = TopicNames(Settings(systems=("holded", "odoo")))
    for seed in range(8):
        records = inbox(seed)
        # All entities kept decoded, or only the last 2 decided (the others encoded).
        for decoded_max in (1000, 2):
            rebuild, out = await bulk_run(names, records, version=7, decoded_max=decoded_max)
            emitted = [(t, k) if t == names.dlq else (t, k, v) for t, k, v, _ in out.sent]
            for cache in (0, 5000):  # the agent decodes from the table, or reuses its cache
                table, expected = agent_run(names, records, cache, version=7)
                assert rebuild.table() == table  # byte for byte
                assert emitted == expected
        assert len(rebuild.entries) <= 2 and rebuild.encoded
    assert any(t == names.dlq for t, *_ in out.sent)
    assert any(t == names.conflicts for t, *_ in out.sent)


async def test_a_rejected_record_is_dead_lettered_with_its_origin():
    names = TopicNames(Settings(systems=("holded", "odoo")))
    good = CHANGE.dumps(change("odoo", contact(), key="contact/odoo/C1", ts=T0))
    wrong_key = CHANGE.dumps(change("odoo", contact(), key="contact/odoo/C2", ts=T0))
    rebuild, out = await bulk_run(names, [(b"contact/odoo/C1", b"junk"), (b"contact/odoo/C1", wrong_key),
                                          (b"contact/odoo/C1", good)], version=1)
    dead = [DEAD.loads(v) for t, _, v, _ in out.sent if t == names.dlq]
    assert [(d["source_topic"], d["partition"], d["offset"]) for d in dead] == [
        ("changes.odoo", 1, 0), ("changes.odoo", 1, 1)]
    assert "entity key" in dead[1]["reason"]
    assert rebuild.dead == 2
    state = decode(rebuild.table()[b"contact/odoo/C1"])["state"]
    assert state["vector"] == {"odoo": 1}  # the good record still decided


def test_partitions_are_spread_evenly_over_the_jobs():
    spread = _spread({0: 100, 1: 90, 2: 10, 3: 10, 4: 0}, 2)
    assert sorted(p for share in spread for p in share) == [0, 1, 2, 3, 4]
    loads = sorted(sum({0: 100, 1: 90, 2: 10, 3: 10, 4: 0}[p] for p in share) for share in spread)
    assert loads == [100, 110]
    assert _spread({0: 5}, 4) == [[0]]  # never more jobs than partitions
