"""Holded misbehaves during a flow: 5xx bursts, timeouts (with and without the write
committing), lost responses after a committed write, 429 storms with and without
Retry-After, HTML pages with status 200. The flow ends as the fault-free run did.

Faults are switched on one kind at a time, the next once the sandbox has served the last
(its counters reach 0), while the input arrives in chunks; ``faults_injected`` counts the
requests that got a fault.
"""
from __future__ import annotations

import pytest

from connectors.holded.sandbox_faults import Faults
from tests.chaos import tally
from tests.chaos.harness import ChaosRun
from tests.chaos.invariants import diff
from tests.chaos.killer import chunks
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka

# (name, switches): each switch is a Faults attribute; the *_next counters say how many
# requests get the fault.
FAULTS = [
    ("5xx burst", {"error_next": 3}),
    ("timeout, write committed", {"timeout_next": 1, "timeout_commits": True}),
    ("lost response (connection dropped)", {"lose_next_writes": 2, "lose_mode": "drop"}),
    ("429 storm with Retry-After", {"storm_next": 4, "storm_retry_after": 1}),
    ("HTML page with 200", {"html_next": 2}),
    ("timeout, nothing written", {"timeout_next": 1, "timeout_commits": False}),
    ("lost response (502 after commit)", {"lose_next_writes": 2, "lose_mode": "error"}),
    ("429 storm without Retry-After", {"storm_next": 4, "storm_retry_after": None}),
]
COUNTERS = ("error_next", "timeout_next", "lose_next_writes", "storm_next", "html_next")


def pending(faults: Faults) -> int:
    return sum(getattr(faults, c) for c in COUNTERS)


async def test_holded_faults_mid_flow_lose_and_duplicate_nothing(kafka, tmp_path, workload, reference, soak):
    run = ChaosRun("faults", kafka, tmp_path, workload)
    injected = 0
    try:
        await run.start()
        faults = run.sandbox.faults
        faults.timeout_seconds = run.flow.settings.api_timeout_s + 1.0  # the client gives up first
        await run.send_poison()
        schedule = FAULTS * soak
        for i, (part, (name, switches)) in enumerate(zip(chunks(workload.lines, len(schedule)), schedule)):
            for attr, value in switches.items():
                setattr(faults, attr, value)
            await run.ingest(part, str(i))

            async def served():
                return pending(faults) == 0
            await wait_for(served, 60, f"the sandbox to serve the fault {name!r}", run.worker)
            injected += sum(v for k, v in switches.items() if k in COUNTERS)
        faults.clear()
        got = await run.settle(timeout=180)
    finally:
        await run.close()
    tally.record("sandbox_faults", faults_injected=injected, duplicates=got.duplicates(),
                 lost=got.lost(workload), dlq_redeliveries=got.dlq_redeliveries)
    tally.note("sandbox_faults", kinds=[name for name, _ in FAULTS])
    assert diff(reference, got, workload) == []
