"""A worker killed while a decision's records were on their way to Kafka loses none of them.

A decision writes its table value and sends its records (commands, conflicts, change-log
lines) to Kafka. The worker here runs on RocksDB, as in production, behind a proxy
(tests/support/kafka_proxy.py) that holds back its produce requests. It decides a concurrent
change, which makes a conflict, and is killed with those records still held; the proxy throws
them away. Before app/direct_table.py held the table value until its records were
acknowledged, the store kept the value; the change, read again, met the decision it had made
and was dropped as a duplicate, and its conflict and change-log line were gone for good.
"""
from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from app.devkafka import broker
from app.replay import WORKER_CLIENT_ID
from app.topics import ensure_topics
from tests.core.factories import change, contact
from tests.support.flow import Flow, metric_value, unique_key
from tests.support.kafka import KafkaBroker, WorkerProcess, wait_for
from tests.support.kafka_proxy import KafkaProxy

pytestmark = pytest.mark.kafka
T0 = 1_791_000_000_000


@pytest.fixture
async def proxied_kafka():
    """A broker of this test's own whose clients all connect through a KafkaProxy."""
    data_dir = Path(tempfile.mkdtemp(prefix="holded-sync-proxied-kafka-"))
    port, proxy_port = broker.free_port(), broker.free_port()
    proxy = await KafkaProxy(proxy_port, upstream=port).start()
    try:
        try:
            await asyncio.to_thread(broker.start, data_dir, port, advertised_port=proxy_port)
        except broker.DevKafkaError as exc:
            pytest.fail(f"the test's own Kafka broker could not start: {exc}")
        through = f"127.0.0.1:{proxy_port}"
        yield KafkaBroker(url=f"kafka://{through}", bootstrap=through), proxy
    finally:
        await asyncio.to_thread(broker.stop, data_dir)
        await proxy.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_a_decision_killed_in_flight_is_decided_again_with_its_conflict_and_change_log(
        proxied_kafka, tmp_path):
    kafka, proxy = proxied_kafka
    settings = kafka.settings(tmp_path, store="rocksdb://")
    await ensure_topics(settings)
    flow = Flow(settings, WorkerProcess(settings, tmp_path / "worker.log").start())
    try:
        await flow.wait_ready()
        key = unique_key()
        first = change("odoo", contact(name="Cliente Odoo", email="a@odoo.es"), key=key, ts=T0)
        await flow.send_changes("odoo", first)
        await flow.wait_entity(key, "the first change decided")

        # Holded changes the name too, not having seen Odoo's change: a conflict.
        proxy.hold_produce(WORKER_CLIENT_ID)
        concurrent = change("holded", contact(name="Cliente Holded", email="a@odoo.es"), key=key,
                            ts=T0 + 1000)
        await flow.send_changes("holded", concurrent)

        async def decided_and_held():
            merged = metric_value(await flow.metrics(),
                                  'holded_sync_decisions_total{outcome="merged"}', 0.0)
            return proxy.held and merged >= 1
        await wait_for(decided_and_held, 60, "the concurrent change decided, its records held",
                       flow.worker)
        await asyncio.to_thread(flow.worker.kill)
        proxy.drop()
        proxy.hold_produce(None)
        assert await flow.conflicts(key) == []  # the kill lost the records in flight
        assert await _lines(flow, key, concurrent["event_id"]) == []
        assert await flow.commands("odoo", key) == []  # Odoo was to get Holded's name

        flow.worker = WorkerProcess(settings, tmp_path / "again.log").start()
        await flow.wait_ready()
        [line] = await wait_for(lambda: _lines(flow, key, concurrent["event_id"]), 60,
                                "the concurrent change's change-log line after the restart",
                                flow.worker)
        entity = await flow.wait_entity(key, "the merged state in the table",
                                        lambda s: s["vector"] == {"odoo": 1, "holded": 1})
        [to_odoo] = await flow.wait_commands("odoo", 1, key=key)
    finally:
        await asyncio.to_thread(flow.worker.kill)
    assert line["kind"] == "merged"
    [conflict] = await flow.conflicts(key)
    assert (conflict["field"], conflict["decision"], conflict["event_id"]) == (
        "name", "took_incoming", concurrent["event_id"])
    assert (conflict["canonical_value"], conflict["incoming_value"]) == (
        '"Cliente Odoo"', '"Cliente Holded"')
    assert entity["record"]["name"] == "Cliente Holded"
    assert (to_odoo["vector"], to_odoo["payload"]["name"]) == ({"odoo": 1, "holded": 1},
                                                               "Cliente Holded")


async def _lines(flow: Flow, key: str, event_id: str) -> list[dict]:
    """Change-log lines of decisions that changed the state, for one change."""
    return [a for a in await flow.audit(key)
            if a["event_id"] == event_id and a["kind"] in ("applied", "merged")]
