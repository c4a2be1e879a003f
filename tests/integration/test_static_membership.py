"""Static group membership: a worker restarted with its ``group_instance_id`` (the StatefulSet
pod name, k8s/base/statefulset.yaml) takes its partitions back without a rebalance of the
others, and goes on deciding. Without the id, the same restart costs the other worker two
rebalances of each of its two groups (bench-measured: 4 more revocations)."""
from __future__ import annotations

import re

import httpx
import pytest

from app.devkafka.broker import free_port
from app.devrun.process import wait_ready
from app.replay import group_members
from app.topics import TopicNames, ensure_topics
from tests.core.factories import change, contact
from tests.support.flow import Flow, unique_key
from tests.support.kafka import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka


async def assignments(port: int) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    found = re.search(r"^holded_sync_partition_assignments_total (\S+)", text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_a_worker_restarted_with_its_instance_id_causes_no_rebalance(kafka, tmp_path):
    base = kafka.settings(tmp_path, session_timeout_s=30.0)  # a restart fits in the session
    await ensure_topics(base)
    names = TopicNames(base)
    runs = [base.model_copy(update={"web_port": free_port(), "data_dir": tmp_path / f"w{i}",
                                    "group_instance_id": f"holded-sync-{i}"}) for i in range(2)]
    workers = [WorkerProcess(s, tmp_path / f"w{i}.log").start() for i, s in enumerate(runs)]
    try:
        for s, w in zip(runs, workers):
            await wait_ready(s, w, 120)

        async def stable():
            groups = [await group_members(base, g) for g in (names.app_id, names.sequencer_group)]
            return groups if all(g == ("Stable", 2) for g in groups) else None
        await wait_for(stable, 60, "both groups stable with two members", workers[1])
        before = await assignments(runs[1].web_port)

        workers[0].stop()  # a static member sends no LeaveGroup: the group waits for it
        workers[0] = WorkerProcess(runs[0], tmp_path / "w0-again.log").start()
        await wait_ready(runs[0], workers[0], 120)

        # Every partition is decided again (both workers' shares), and the other worker was
        # never asked to give its partitions up.
        flow = Flow(runs[0], workers[0])
        keys = [unique_key() for _ in range(12)]
        await flow.send_changes("odoo", *(change("odoo", contact(), key=k) for k in keys))
        for key in keys:
            await flow.wait_commands("holded", 1, key=key)
        await wait_for(stable, 60, "both groups stable with two members", workers[1])
        assert await assignments(runs[1].web_port) == before
        assert await assignments(runs[0].web_port) >= 1
    finally:
        for w in workers:
            w.stop()
