"""A worker fed ~300 malformed records mixed with 100 good change events keeps running: every
good event becomes its command, every bad record lands in ``dlq`` with its reason and its
original bytes, and nothing is lost or doubled."""
from __future__ import annotations

import json
import random
import uuid
from collections import Counter

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from app.avro import MARKER, codec
from app.core.hashing import content_hash
from app.operator_cli import dlq_row, read_dlq
from app.topics import kafka_client_options
from tests.core import factories as f

pytestmark = pytest.mark.kafka

CHANGE, RESULT = codec("ChangeEvent"), codec("CommandResult")
GOOD, BAD = 100, 300


def _bad_records(run: str, names, rng: random.Random) -> list[tuple[str, bytes | None, bytes | None, str]]:
    """(topic, key, value, kind): each one a record the agent must reject."""
    changes, results = names.changes("odoo"), names.results("holded")

    def event(i: int, **over) -> dict:
        ev = f.change("odoo", f.contact(name=f"Bad {i}"), key=f"contact/odoo/{run}-bad-{i}",
                      ts=1_700_000_000_000 + i)
        ev.update(over)
        return ev

    def kinds(i: int) -> tuple[str, bytes | None, bytes | None, str]:
        ev = event(i)
        key = ev["entity_key"].encode()
        good_bytes = CHANGE.dumps(ev)
        match i % 16:
            case 0:
                return changes, key, b"\x00" + rng.randbytes(rng.randint(0, 300)), "random_bytes"
            case 1:
                return changes, key, good_bytes[:rng.randint(0, len(good_bytes) - 1)], "truncated"
            case 2:
                return changes, key, CHANGE.dumps({**ev, "content_hash": "0" * 64}), "hash_mismatch"
            case 3:
                return changes, f"contact/odoo/{run}-other-{i}".encode(), good_bytes, "key_mismatch"
            case 4:
                bad = event(i, entity_key=f"contact/odoo{i}", source_id="x")
                return changes, bad["entity_key"].encode(), CHANGE.dumps(bad), "bad_entity_key"
            case 5:
                bad = event(i, entity="invoice", op="delete", payload=None,
                            content_hash=content_hash(None))
                return changes, key, CHANGE.dumps(bad), "entity_mismatch"
            case 6:
                bad = event(i, payload=None)  # an upsert without a payload (hash of null)
                return changes, key, CHANGE.dumps(bad), "upsert_without_payload"
            case 7:
                return changes, key, MARKER + b"\xde\xad\xbe\xef" * 2 + good_bytes[10:], "unknown_schema"
            case 8:
                return changes, key, None, "tombstone"
            case 9:
                return changes, None, good_bytes, "no_record_key"
            case 10:
                text = json.dumps({"entity": "contact", "id": f"{i}", "data": {"name": "json"}})
                return changes, key, text.encode(), "json_not_avro"
            case 11:
                return changes, key, b"\x00" + rng.randbytes(400_000), "giant_garbage"
            case 12:
                raw = bytearray(good_bytes)
                raw[10] = 0xFF  # event_id length becomes a huge negative/positive varint
                raw[11] = 0xFF
                return changes, key, bytes(raw), "corrupt_length"
            case 13:
                res = f.result_for({"command_id": "c" * 32, "entity_key": ev["entity_key"],
                                    "target_system": "holded", "vector": {"odoo": 1},
                                    "content_hash": ev["content_hash"]})
                raw = RESULT.dumps(res)
                return results, key, raw[:rng.randint(10, len(raw) - 1)], "truncated_result"
            case 14:  # a key that is not UTF-8, whose lossy decoding is the entity key
                bad = event(i, entity_key=f"contact/odoo/{run}-\ufffd-{i}", source_id=f"{run}-\ufffd-{i}")
                return changes, f"contact/odoo/{run}-\xff-{i}".encode("latin-1"), CHANGE.dumps(bad), \
                    "non_utf8_key"
            case _:
                res = f.result_for({"command_id": "c" * 32, "entity_key": ev["entity_key"],
                                    "target_system": "holded", "vector": {"odoo": 1},
                                    "content_hash": ev["content_hash"]})
                return results, f"contact/odoo/{run}-else-{i}".encode(), RESULT.dumps(res), \
                    "result_key_mismatch"
    return [kinds(i) for i in range(BAD)]


async def test_malformed_records_are_dead_lettered_and_good_ones_still_flow(own_flow):
    flow = await own_flow()
    run, rng = uuid.uuid4().hex[:8], random.Random(20260301)
    good = [f.change("odoo", f.contact(name=f"Cliente {i}"), key=f"contact/odoo/{run}-good-{i}",
                     ts=1_700_000_000_000 + i) for i in range(GOOD)]
    records = [(flow.names.changes("odoo"), ev["entity_key"].encode(), CHANGE.dumps(ev), "good")
               for ev in good] + _bad_records(run, flow.names, rng)
    rng.shuffle(records)
    assert Counter(k for *_, k in records)["good"] == GOOD

    producer = AIOKafkaProducer(**kafka_client_options(flow.settings), acks="all",
                                max_request_size=2_000_000)
    await producer.start()
    where = {}  # (topic, key, value) -> (partition, offset) where it was first published
    try:
        for topic, key, value, _kind in records:  # one at a time: the order is the mix above
            meta = await producer.send_and_wait(topic, key=key, value=value)
            where[(topic, key, value)] = (meta.partition, meta.offset)
    finally:
        await producer.stop()

    # Wait for the good ones, then for the worker to have processed everything; then count.
    await flow.wait_commands("holded", GOOD, timeout=120)
    await flow.wait_idle(120)
    dlq, cmds = await flow.dlq(), await flow.commands("holded")

    # Every good event: exactly one command, nothing else anywhere.
    assert Counter(c["entity_key"] for c in cmds) == Counter(ev["entity_key"] for ev in good)
    assert {c["caused_by"] for c in cmds} == {ev["event_id"] for ev in good}
    assert await flow.commands("odoo") == []

    # Every bad record: exactly one dead letter, with a reason and its original bytes and key.
    sent_bad = Counter((t, k, v) for t, k, v, kind in records if kind != "good")
    got = Counter((d["source_topic"], d["key"], d["value"]) for d in dlq)
    lost, extra = sent_bad - got, got - sent_bad
    assert not lost and not extra, (f"{sum(lost.values())} lost, {sum(extra.values())} extra: "
                                    f"{[(t, k) for t, k, _ in lost][:5]}")
    assert len(dlq) == BAD
    assert all(d["reason"] and d["error"] for d in dlq)
    assert all(where[(d["source_topic"], d["key"], d["value"])] == (d["partition"], d["offset"])
               for d in dlq), "a dead letter does not say where its record was first published"
    kinds_by_value = {(t, k, v): kind for t, k, v, kind in records}
    errors = Counter((kinds_by_value[(d["source_topic"], d["key"], d["value"])], d["error"]) for d in dlq)
    assert {kind for kind, _ in errors} == {kind for *_, kind in records} - {"good"}
    reasons = {kinds_by_value[(d["source_topic"], d["key"], d["value"])]: d["reason"] for d in dlq}
    assert reasons["no_record_key"].startswith("the record has no key"), reasons["no_record_key"]
    assert reasons["tombstone"].startswith("the record has no value"), reasons["tombstone"]
    assert "is not the entity key" in reasons["non_utf8_key"], reasons["non_utf8_key"]

    # The operator's tools read every dead letter, the one whose key is not UTF-8 included.
    listed = [dlq_row(n, rec) for n, rec in await read_dlq(flow.settings)]
    assert len(listed) == BAD
    assert sum(1 for row in listed if row["key"] and "\ufffd" in row["key"]) == \
        Counter(kind for *_, kind in records)["non_utf8_key"]

    # The worker is alive and healthy, and no agent crashed on the way.
    assert flow.worker.proc.poll() is None
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"http://127.0.0.1:{flow.settings.web_port}/healthz")).status_code == 200
    log = flow.worker.log()
    assert "Traceback" not in log and "crashed" not in log.lower(), log[-3000:]
    print(f"\nbad input flow: {GOOD} good -> {len(cmds)} commands; {BAD} bad -> {len(dlq)} dead "
          f"letters; lost 0, extra 0; errors {dict(Counter(e for _, e in errors.elements()))}")
