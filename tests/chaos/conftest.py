"""Chaos suite fixtures: the input, its fault-free reference run, and the soak switch.

``HOLDED_SYNC_SOAK=1`` multiplies kills and volume (minutes, not for CI). The counts of a
run are printed at the end of the pytest output and written to build/chaos-summary.json
(tests/conftest.py).
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosRun
from tests.chaos.invariants import Snapshot
from tests.chaos.workload import Workload, generate

SOAK = os.environ.get("HOLDED_SYNC_SOAK", "") not in ("", "0")


@pytest.fixture(scope="session")
def soak() -> int:
    """How many times the default volume and kills a scenario runs (1 in CI)."""
    return 5 if SOAK else 1


@pytest.fixture(scope="session")
def workload(soak: int) -> Workload:
    return generate(contacts=20 * soak, products=8 * soak, invoices=40 * soak)


async def fault_free_run(kafka, tmp: Path, workload: Workload) -> Snapshot:
    run = ChaosRun("reference", kafka, tmp, workload)
    try:
        await run.start()
        await run.send_poison()
        await run.ingest(workload.lines)
        return await run.settle()
    finally:
        await run.close()


@pytest.fixture(scope="session")
async def reference(kafka, tmp_path_factory, workload) -> asyncio.Task[Snapshot]:
    """The fault-free run of the input, what every chaos scenario must end with: a task,
    started by the first scenario and run beside it (a test awaits it when it compares)."""
    task = asyncio.ensure_future(fault_free_run(kafka, tmp_path_factory.mktemp("chaos-reference"), workload))
    yield task
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

