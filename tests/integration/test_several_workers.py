"""Two workers share the partitions; one is killed mid-flow and another joins: the tables are
recovered on the new owners and no document reaches Holded twice."""
from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from app.devkafka.broker import free_port
from app.ingest import ingest_file
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.integration.test_odoo_flow import MAPPING
from tests.support.kafka import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
N = 60


def customers(path, n: int) -> None:
    lines = [{"entity": "contact", "id": f"C{i:04d}", "updated_at": "2026-03-01T10:00:00Z",
              "data": {"kind": "customer", "name": f"Cliente {i} S.L.", "tax_id": f"B{i:08d}",
                       "tax_regime": "general", "default_taxes": ["iva_21"]}} for i in range(n)]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


async def test_a_worker_killed_mid_flow_duplicates_nothing(own_flow, tmp_path):
    holded = await start_sandbox(port=0, rate_limit=RateLimit(requests=200, per_seconds=1.0))
    extra: list[WorkerProcess] = []
    try:
        flow = await own_flow(partitions=6, holded=HoldedSettings(
            api_url=holded.url, api_key="sandbox-key", requests_per_second=40))
        second = WorkerProcess(flow.settings.model_copy(update={
            "web_port": free_port(), "data_dir": tmp_path / "w2"}), tmp_path / "w2.log").start()
        extra.append(second)
        await publish_mapping(flow.settings, MAPPING)
        path = tmp_path / "customers.jsonl"
        customers(path, N)
        await ingest_file(path, "odoo", flow.settings)

        async def some_written():
            return await holded.count("contacts") >= N // 4
        await wait_for(some_written, 120, "the first contacts in Holded", flow.worker)
        await asyncio.to_thread(flow.worker.kill)  # kill -9 in the middle of the flow
        third = WorkerProcess(flow.settings.model_copy(update={
            "web_port": free_port(), "data_dir": tmp_path / "w3"}), tmp_path / "w3.log").start()
        extra.append(third)

        async def all_written():
            return await holded.count("contacts") >= N
        await wait_for(all_written, 180, "every contact in Holded", second)
        flow.worker = second
        await flow.wait_idle(120)
        ours = [c["customId"] for c in await holded.all("contacts") if c.get("customId")]
        assert len(ours) == N and not [k for k, n in Counter(ours).items() if n > 1]
        links = await flow.table("links")
        assert sum(1 for k in links if k.startswith("contact/odoo/")) == N
    finally:
        for worker in extra:
            await asyncio.to_thread(worker.stop)
        await holded.stop()
