"""Chaos suite fixtures: the input, its fault-free reference run, and the soak switch.

``HOLDED_SYNC_SOAK=1`` multiplies kills and volume (minutes, not for CI). The counts of a
run are printed at the end of the pytest output and written to build/chaos-summary.json.
"""
from __future__ import annotations

import os

import pytest

from tests.chaos import tally
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
    return generate(contacts=30 * soak, products=10 * soak, invoices=60 * soak)


@pytest.fixture(scope="session")
async def reference(kafka, tmp_path_factory, workload) -> Snapshot:
    """The fault-free run of the input: what every chaos scenario must end with."""
    run = ChaosRun("reference", kafka, tmp_path_factory.mktemp("chaos-reference"), workload)
    try:
        await run.start()
        await run.send_poison()
        await run.ingest(workload.lines)
        return await run.settle()
    finally:
        await run.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    data = tally.write()
    if data:
        terminalreporter.write_sep("-", "chaos summary")
        for key, value in data.items():
            if key != "by_scenario":
                terminalreporter.write_line(f"{key}: {value}")
        for scenario, facts in data["by_scenario"].items():
            terminalreporter.write_line(f"  {scenario}: {facts}")
        terminalreporter.write_line(f"(written to {tally.SUMMARY})")
