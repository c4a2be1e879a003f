"""Stop the Kafka broker in the middle of a flow and start it again (same port, same data):
the worker rides it out and the flow ends as the fault-free run did.

The broker is this test's own, so the session broker the other tests use is not disturbed.
"""
from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from app.devkafka import broker
from tests.chaos import tally
from tests.chaos.harness import WRITES, ChaosRun
from tests.chaos.invariants import diff
from tests.support.kafka import KafkaBroker, wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
async def own_broker():
    """Started off the event loop: the reference run goes on beside it meanwhile."""
    data_dir = Path(tempfile.mkdtemp(prefix="holded-sync-chaos-kafka-"))
    try:
        info = await asyncio.to_thread(broker.start, data_dir)
    except broker.DevKafkaError as exc:
        pytest.fail(f"the chaos test's own Kafka broker could not start: {exc}")
    try:
        yield info
    finally:
        await asyncio.to_thread(broker.stop, data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_broker_restart_mid_flow_loses_and_duplicates_nothing(reference, own_broker, tmp_path, workload,
                                                                     soak):
    run = ChaosRun("broker", KafkaBroker(own_broker.url, own_broker.bootstrap), tmp_path, workload)
    half = len(workload.lines) // 2
    restarts = 0
    try:
        await run.start()
        await run.send_poison()
        for round_ in range(soak):
            lines = workload.lines[:half] if round_ == 0 else []
            if lines:
                await run.ingest(lines, "first-half")

            async def writing():  # the sink is mid-flow: some writes done, more to come
                return sum(r.method in WRITES for r in run.sandbox.requests) >= 10
            await wait_for(writing, 60, "the Holded sink to be writing", run.worker)
            log_size = run.worker.log_path.stat().st_size
            await asyncio.to_thread(broker.stop, own_broker.data_dir)

            async def worker_noticed():
                return "Unable connect to node" in run.worker.log_path.read_text(errors="replace")[log_size:] \
                    or None
            await wait_for(worker_noticed, 60, "the worker to lose the broker", run.worker)
            t0 = time.monotonic()
            info = await asyncio.to_thread(broker.start, own_broker.data_dir, own_broker.port)
            assert info.port == own_broker.port
            restarts += 1
            tally.note("broker_restart", broker_start_s=round(time.monotonic() - t0, 1))
            if round_ == 0:
                await run.ingest(workload.lines[half:], "second-half")
        got = await run.settle(timeout=180)
        assert run.worker.proc.poll() is None, "the worker exited instead of riding out the restart"
    finally:
        await run.close()
    tally.record("broker_restart", broker_restarts=restarts, duplicates=got.duplicates(),
                 lost=got.lost(workload), dlq_redeliveries=got.dlq_redeliveries)
    assert diff(await reference, got, workload) == []
