from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.topics import ensure_topics
from tests.support.flow import Flow
from tests.support.kafka import KafkaBroker, WorkerProcess

pytestmark = pytest.mark.kafka


async def start_flow(kafka: KafkaBroker, tmp: Path, **overrides) -> Flow:
    settings = kafka.settings(tmp, **overrides)
    await ensure_topics(settings)
    worker = WorkerProcess(settings, tmp / "worker.log").start()
    flow = Flow(settings, worker)
    await flow.wait_ready()
    return flow


@pytest.fixture(scope="module")
async def shared_flow(kafka, tmp_path_factory):
    """One worker for the tests that only need distinct entity keys."""
    flow = await start_flow(kafka, tmp_path_factory.mktemp("shared"))
    yield flow
    await asyncio.to_thread(flow.worker.kill)  # its topics and group are the module's own


@pytest.fixture
async def own_flow(kafka, tmp_path):
    """A factory of workers private to one test (restart, replay); all stopped at the end."""
    started: list[Flow] = []

    async def make(**overrides) -> Flow:
        flow = await start_flow(kafka, tmp_path / f"w{len(started)}", **overrides)
        started.append(flow)
        return flow
    yield make
    for flow in started:  # killed, not stopped: nothing reads its topics or group again
        await asyncio.to_thread(flow.worker.kill)
