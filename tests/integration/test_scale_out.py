"""Several workers of one app: partitions spread, quota shared, every record written once.

Scaling is Kafka's and Faust's (consumer group, changelog-backed tables); the engine's own
part is the quota: each worker's limiter takes the share of the command partitions it owns
(app/quota_share.py), so the workers together stay under one Holded credential's limit.

It also checks that faust skipped no record: app/faust_fixes.py makes the commit stop at a
record that was never processed and log it; before those fixes this test lost a command or a
change in about one run in eight (issue #9).
"""
from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from app.devkafka.broker import free_port
from app.ingest import ingest_file
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from tests.support.child_sandbox import ChildSandbox
from tests.support.flow import Flow
from tests.support.kafka import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "docs" / "examples" / "mapping-es.yaml"
LIMIT = 12  # requests per second for the one Holded credential, counted at the sandbox
SHARE = re.compile(r"holded quota share: [0-9.]+ -> ([0-9.]+)")
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def customers(path: Path, count: int, first: int = 0) -> Path:
    """A JSONL file of ``count`` Spanish customers with valid DNIs."""
    lines = []
    for n in range(first, first + count):
        number = 10_000_000 + n
        lines.append(json.dumps({
            "entity": "contact", "id": f"S-{n:04d}", "updated_at": "2026-03-02T09:00:00Z",
            "data": {"kind": "customer", "name": f"Cliente {n} Ruiz", "is_person": True,
                     "tax_id": f"{number}{DNI_LETTERS[number % 23]}", "email": f"c{n}@ejemplo.es",
                     "address": {"street": "Calle Mayor 1", "city": "Zaragoza",
                                 "postal_code": "50001", "province": "Zaragoza", "country_code": "ES"},
                     "tax_regime": "general", "payment_due_days": 30, "language": "es",
                     "default_taxes": ["iva_21"]}}))
    path.write_text("\n".join(lines) + "\n")
    return path


def last_share(worker: WorkerProcess) -> float | None:
    shares = SHARE.findall(worker.log())
    return float(shares[-1]) if shares else None


def busiest_second(times: list[float]) -> int:
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
async def holded():
    server = await asyncio.to_thread(ChildSandbox(LIMIT).start)
    yield server
    await asyncio.to_thread(server.stop)


async def add_worker(flow: Flow, tmp: Path, name: str) -> WorkerProcess:
    """Another worker of the same app (same group and topics), with its own port and state."""
    settings = flow.settings.model_copy(update={"web_port": free_port(), "data_dir": tmp / name})
    return WorkerProcess(settings, tmp / f"{name}.log").start()


async def holded_contacts(holded: ChildSandbox) -> list[str]:
    snapshot = await asyncio.to_thread(holded.snapshot)
    return [c for c in snapshot["contacts"] if (c or "").startswith("contact/odoo/S-")]


async def test_workers_share_the_quota_and_a_killed_workers_partitions_move_without_duplicates(
        own_flow, holded, tmp_path):
    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key",
                                                requests_per_second=LIMIT, rate_jitter_s=0.1),
                          poll_interval_s=5.0)
    await publish_mapping(flow.settings, MAPPING)
    second = await add_worker(flow, tmp_path, "second")
    workers = [flow.worker, second]
    try:
        async def shared():  # both logged the share of the partitions they now own
            shares = [last_share(w) for w in workers]
            return shares if None not in shares else None
        shares = await wait_for(shared, 90, "both workers to take a quota share", second)
        assert sum(shares) == pytest.approx(1.0)  # 4 partitions split between two workers

        await ingest_file(customers(tmp_path / "a.jsonl", 40), "odoo", flow.settings)

        async def created(count: int):
            return len(await holded_contacts(holded)) >= count or None
        await wait_for(lambda: created(40), 120, "40 customers in Holded", flow.worker)
        assert all("HTTP Request: POST" in w.log() for w in workers)  # both wrote to Holded

        # Mid-flow, one worker dies and a new one joins: its partitions move, tables recover.
        await ingest_file(customers(tmp_path / "b.jsonl", 40, first=40), "odoo", flow.settings)
        await wait_for(lambda: created(45), 120, "the second batch under way", flow.worker)
        await asyncio.to_thread(second.kill)
        third = await add_worker(flow, tmp_path, "third")
        workers.append(third)
        await wait_for(lambda: created(80), 180, "80 customers in Holded", flow.worker)
        await flow.wait_idle(120)
    finally:
        for worker in workers[1:]:
            await asyncio.to_thread(worker.stop)

    snapshot = await asyncio.to_thread(holded.snapshot)
    # The workers together never asked for more than the quota: no request was refused, and
    # no second of arrivals (refused ones included) held more than the limit.
    assert [r for r in snapshot["requests"] if r[3] == 429] == []
    assert busiest_second([r[0] for r in snapshot["requests"]]) <= LIMIT
    contacts = Counter(await holded_contacts(holded))
    assert {k: n for k, n in contacts.items() if n > 1} == {}  # each written once
    assert len(contacts) == 80
    creates = [r for r in snapshot["requests"] if r[1] == "POST" and r[2].endswith("/contacts")]
    assert len(creates) == 80  # a command re-run by the new owner found its record
    # Nothing skipped, and no commit ran ahead of its agent (app/faust_fixes.py logs both).
    skipped = [line for w in workers for line in w.log().splitlines()
               if "never processed" in line or "has not processed" in line]
    assert skipped == []
