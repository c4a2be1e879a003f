"""A worker with a schema registry: what it writes to Kafka carries the registry's schema ids,
so any Confluent deserializer can read it, and the flow works as without one (bad records
still go to the DLQ)."""
from __future__ import annotations

import json

import pytest

from app.avro import use_registry
from app.devrun.schema_registry_sandbox import start_registry_sandbox
from app.inspect import read_topic
from app.ingest import ingest_file
from app.schema_registry import connect
from tests.support.flow import unique_key
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka


async def test_a_worker_with_a_registry_writes_its_records_with_the_registrys_ids(own_flow, tmp_path):
    sandbox = start_registry_sandbox()
    try:
        flow = await own_flow(schema_registry_url=sandbox.url)
        registry = connect(flow.settings)  # this process writes and reads as the worker does
        try:
            key = unique_key()
            # Bytes that only look framed (first byte 0, an id nobody registered) are a bad
            # record for the DLQ, not a registry outage: the agent goes on.
            await flow.send_raw(flow.names.changes("odoo"), b"contact/odoo/garbage",
                                b"\x00not avro at all")
            data = tmp_path / "contact.jsonl"
            data.write_text(json.dumps({
                "entity": "contact", "id": key.rsplit("/", 1)[1],
                "updated_at": "2026-03-01T10:00:00Z",
                "data": {"kind": "customer", "name": "Talleres Gómez SL", "tax_id": "B12345678"}
            }, ensure_ascii=False) + "\n")
            assert (await ingest_file(data, "odoo", flow.settings)).published == 1
            [command] = await flow.wait_commands("holded", 1, key=key)
            assert command["payload"]["tax_id"] == "B12345678"
            state = await flow.wait_entity(key, "the contact's state")
            assert state["record"]["name"] == "Talleres Gómez SL"

            written = {
                topic: [r.value for r in await read_topic(flow.settings, topic, None, key)]
                for topic in (flow.names.changes("odoo"), flow.names.inbox,
                              flow.names.commands("holded", "realtime"))}
            assert all(len(values) >= 1 for values in written.values()), written.keys()
            names = {topic: {registry.schema(int.from_bytes(v[1:5], "big"))["name"]
                             for v in values if v[0] == 0}
                     for topic, values in written.items()}
            assert all(v[0] == 0 for values in written.values() for v in values)
            assert names == {flow.names.changes("odoo"): {"holdedsync.ChangeEvent"},
                             flow.names.inbox: {"holdedsync.ChangeEvent"},
                             flow.names.commands("holded", "realtime"): {"holdedsync.Command"}}
            async def dead_letters():
                return await flow.dlq() or None
            [dead] = await wait_for(dead_letters, 60, "the dead letter", flow.worker)
            assert "is not in the schema registry" in dead["reason"], dead
            assert {"holdedsync.ChangeEvent", "holdedsync.Command",
                    "holdedsync.CanonicalEntry"} <= set(registry.subjects())
        finally:
            use_registry(None)
            registry.close()
    finally:
        sandbox.stop()


async def test_the_bulk_replay_with_a_registry_rebuilds_the_same_table_and_writes_registry_ids(
        own_flow):
    """The batch job's spawned processes register and write as the worker does."""
    import asyncio
    from collections import Counter

    from app.avro import codec
    from tests.integration.test_restart_and_replay import (
        _changelog, _invoke, run_scenario, settled_tables,
    )
    from tests.support.kafka import settings_env

    sandbox = start_registry_sandbox()
    try:
        flow = await own_flow(schema_registry_url=sandbox.url)
        registry = connect(flow.settings)
        try:
            await run_scenario(flow)  # 20 contacts: its first 5 results are 5 entities
            await settled_tables(flow, lambda s: len(s["links"]) == 5, "5 links")
            original = await _changelog(flow.settings)
            topic = flow.names.commands("holded", "realtime")
            before = [r.value for r in await read_topic(flow.settings, topic)]
            await asyncio.to_thread(flow.worker.stop)

            done = await _invoke(["replay", "--from-beginning", "--generation", "1", "--no-run",
                                  "--jobs", "1"], settings_env(flow.settings))
            assert done.exit_code == 0, done.output
            assert "committed at the end of inbox" in done.output, done.output
            rebuilt = flow.settings.model_copy(update={"generation": 1})
            assert await _changelog(rebuilt) == original  # byte for byte
            after = [r.value for r in await read_topic(flow.settings, topic)]
            assert len(after) == 2 * len(before)
            assert all(v[0] == 0 for v in after)  # every command in the registry's framing
            assert {registry.schema(int.from_bytes(v[1:5], "big"))["name"] for v in after} == {
                "holdedsync.Command"}
            ids = Counter(codec("Command").loads(v)["command_id"] for v in after)
            assert ids == Counter({cid: 2 * n for cid, n in Counter(
                codec("Command").loads(v)["command_id"] for v in before).items()})
        finally:
            use_registry(None)
            registry.close()
    finally:
        sandbox.stop()
