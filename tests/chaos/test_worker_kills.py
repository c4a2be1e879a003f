"""kill -9 the worker 20 times in one flow (during ingest, mid-stream, between a Holded
write and the recording of its result); the end state equals the fault-free run's."""
from __future__ import annotations

import os
import random
import statistics
import time

import pytest

from tests.chaos import tally
from tests.chaos.harness import ChaosRun
from tests.chaos.invariants import diff, explain
from tests.chaos.killer import kill_through

pytestmark = pytest.mark.kafka
KILLS = 20


async def test_twenty_sigkills_lose_and_duplicate_nothing(kafka, tmp_path, workload, reference, soak):
    seed = int(os.environ.get("HOLDED_SYNC_CHAOS_SEED") or random.randrange(1 << 30))
    print(f"\nchaos kills: seed={seed} (replay with HOLDED_SYNC_CHAOS_SEED={seed})")
    run = ChaosRun("kills", kafka, tmp_path, workload)
    try:
        await run.start()
        await run.send_poison()
        t0 = time.monotonic()
        kills = await kill_through(run, seed, KILLS * soak)
        t1 = time.monotonic()
        got = await run.settle(timeout=240)
        tally.note("worker_kills", kill_phase_s=round(t1 - t0, 1), settle_s=round(time.monotonic() - t1, 1))
        ref = await reference
        problems = diff(ref, got, workload)
        astray = sorted(k for k in {*ref.entities, *got.entities} if ref.entities.get(k) != got.entities.get(k))
        where = await explain(run.flow, astray) if astray else ""
    finally:
        await run.close()
    tally.record("worker_kills", kills=kills.kills, kills_during_ingest=kills.kinds["ingest"],
                 kills_while_busy=kills.kinds["busy"], kills_after_write=kills.kinds["after_write"],
                 duplicates=got.duplicates(), lost=got.lost(workload),
                 dlq_redeliveries=got.dlq_redeliveries)
    tally.note("worker_kills", seed=seed, idle_kills=kills.kinds["idle"], missed_write_points=kills.missed,
               restart_ready_s_median=round(statistics.median(kills.ready_s), 2))
    tally.note("worker_kills", canonical_state_mismatches=len(astray),
               # decisions whose command a kill lost, written by the resend before the comparison
               settled_after_resend=sorted(run.outstanding_while_settling))
    assert kills.kills == KILLS * soak
    # The kill points really were spread: most landed where they were aimed.
    assert kills.kinds["ingest"] >= KILLS * soak // 4 and kills.kinds["after_write"] >= KILLS * soak // 6
    # The canonical state too: each decision is one table record (app/canonical_entry.py),
    # so a SIGKILL saves all of it or none; before, entities/replicas/links could be split.
    assert problems == [], f"seed={seed}\n{where}"
    # No commit passed records the worker had not processed (app/faust_fixes.py logs it; the
    # resender would hide a lost command from the invariants above).
    log_text = (tmp_path / "worker.log").read_text(encoding="utf-8")
    assert [line for line in log_text.splitlines() if "has not processed" in line] == []
