"""One chaos run: a Holded sandbox in this process, a worker subprocess, the chaos input.

The sandbox runs on the test's event loop, so a driver can watch ``sandbox.requests`` and
kill the worker the moment a write has been answered. Everything is waited on with bounded
conditions; the worker is killed by PID when the run closes.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.devrun.process import WaitFailed
from app.ingest import ingest_file
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from app.topics import ensure_topics
from connectors.holded.sandbox import RateLimit, SandboxServer, start_sandbox
from tests.chaos.invariants import Snapshot, outstanding_writes, snapshot
from tests.chaos.workload import Workload
from tests.support.flow import Flow
from tests.support.kafka import KafkaBroker, WorkerProcess, wait_for

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "docs" / "examples" / "mapping-es.yaml"
WRITES = ("POST", "PUT", "DELETE")
# A SIGKILLed worker's partitions move once its session expires: the restarted worker waits
# that long to join. The dev broker allows down to 2 s (group.min.session.timeout.ms); 3 s
# leaves three heartbeats of slack on a loaded machine.
SESSION_TIMEOUT_S = 3.0


@dataclass
class ChaosRun:
    name: str
    kafka: KafkaBroker
    tmp: Path
    workload: Workload
    sandbox: SandboxServer | None = None
    flow: Flow | None = None
    restarts: int = 0
    ingested: int = 0
    # Entities whose write was still outstanding once Kafka had nothing left to read (a
    # command lost in a kill, waiting for its resend): settle() waited for them.
    outstanding_while_settling: set[str] = field(default_factory=set)

    async def start(self, **overrides: Any) -> ChaosRun:
        self.sandbox = await start_sandbox(port=0, rate_limit=RateLimit(requests=100, per_seconds=1.0))
        (self.tmp / "w").mkdir(parents=True, exist_ok=True)
        # 40/s: the worker's bucket (burst = rate) stays under the sandbox's 100/s window even
        # in its first second. At 80/s the fault-free run itself dead-letters commands: the
        # sandbox answers 429 with Retry-After 0 (rounded down) and the client retries at once
        # until its 5 attempts are spent (reported; see the chaos note).
        holded = HoldedSettings(api_url=self.sandbox.url, api_key="sandbox-key",
                                requests_per_second=40, unknown_outcome_settle_s=1.0)
        base = dict(holded=holded, session_timeout_s=SESSION_TIMEOUT_S, poll_interval_s=3600.0,
                    api_timeout_s=3.0, dependency_wait_s=300.0,
                    # A command lost all the same (a consumer skipped it, the producer gave up
                    # on it) is recovered by the resend timer: here within the scenario rather
                    # than after the production default of 300 s.
                    resend_after_s=10.0)
        base.update(overrides)
        settings = self.kafka.settings(self.tmp / "w", **base)
        await ensure_topics(settings)
        await publish_mapping(settings, MAPPING)
        self.flow = Flow(settings, WorkerProcess(settings, self.tmp / "worker.log").start())
        await self.flow.wait_ready()
        return self

    @property
    def worker(self) -> WorkerProcess:
        assert self.flow and self.flow.worker
        return self.flow.worker

    def kill_worker(self) -> None:
        """SIGKILL the worker's process group at once (no clean shutdown, no offset commit)."""
        proc = self.worker.proc
        assert proc is not None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    async def restart_worker(self) -> float:
        """Start a fresh worker on the same settings; return seconds until it was ready."""
        assert self.flow
        t0 = time.monotonic()
        self.flow.worker = WorkerProcess(self.flow.settings, self.worker.log_path).start()
        self.restarts += 1
        await self.flow.wait_ready(120)
        return time.monotonic() - t0

    async def ingest(self, lines: list[str], part: str = "all") -> None:
        assert self.flow
        path = self.tmp / f"input-{part}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = await ingest_file(path, "odoo", self.flow.settings)
        assert not report.errors, report.errors
        self.ingested += report.published

    async def send_poison(self) -> None:
        """One record that is not a ChangeEvent: the canonical agent must dead-letter it."""
        assert self.flow
        await self.flow.send_raw(self.flow.names.changes("odoo"), b"contact/odoo/POISON", b"\x00not avro")

    async def settle(self, timeout: float = 150.0) -> Snapshot:
        """Wait until every entity is in Holded, nothing is left to process, no write is
        outstanding, and two consecutive snapshots agree; return the last one.

        "Nothing left to read" is not enough: a decision whose command was lost is in the
        canonical table with nothing in Kafka to carry it (a consumer skipped it; before
        app/direct_table.py held table values, a kill could too); the resend timer emits it again
        ``resend_after_s`` later. A snapshot taken before shows Holded one version behind:
        the likely end of test_worker_kills seed 772958563 (tests/chaos/test_settle.py)."""
        assert self.flow and self.sandbox
        wl, previous, waiting = self.workload, [None], [""]

        async def settled() -> Snapshot | None:
            if await self.flow.lag() != 0:
                waiting[0] = "records left to read"
                return None
            snap = await snapshot(self.flow, self.sandbox, wl)
            if not snap.complete(wl):
                waiting[0] = f"entities missing from Holded: {snap.lost(wl)}"
                return None
            pending = await outstanding_writes(self.flow)
            if pending:
                self.outstanding_while_settling.update(pending)
                waiting[0] = f"outstanding writes: {pending}"
                previous[0] = None
                return None
            stable = snap == previous[0]
            previous[0] = snap
            waiting[0] = "two snapshots that agree"
            return snap if stable else None
        try:
            return await wait_for(settled, timeout, f"{self.name}: the flow to settle", self.worker)
        except WaitFailed as exc:
            raise WaitFailed(f"{exc}\nstill waiting for {waiting[0]}", exc.what) from None

    async def close(self) -> None:
        if self.flow and self.flow.worker:
            await asyncio.to_thread(self.flow.worker.stop)
        if self.sandbox:
            await self._keep_sandbox_log()
            await self.sandbox.stop()

    async def _keep_sandbox_log(self) -> None:
        """Write the sandbox's request log and its documents next to worker.log: when a run
        ends with a duplicate, they show which requests made it and when."""
        assert self.sandbox
        lines = [f"{r.time:.3f} {r.method} {r.path} {r.query or ''} -> {r.status} {r.outcome}"
                 for r in self.sandbox.requests]
        (self.tmp / "sandbox-requests.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
        docs = await self.sandbox.all("documents")
        (self.tmp / "sandbox-documents.log").write_text(
            "\n".join(repr(d) for d in docs) + "\n", encoding="utf-8")
