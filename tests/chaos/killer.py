"""SIGKILL the worker at chosen points of a flow, restart it at once, and say where it died.

Three kinds of kill point, drawn from a seeded RNG (the seed is logged so a failure replays):

- ``ingest``: the input chunk is being published line by line; the worker dies after a
  random number of its lines and the rest is published while it is down;
- ``busy``: right after a chunk was published, a random 0-300 ms later, while the pipeline
  has records in flight (checked just before the kill: the canonical agent or a sink is
  mid-stream);
- ``after_write``: the moment the Holded sandbox has answered a write (POST/PUT) of this
  chunk; the worker holds the response but has not read it back nor recorded the result
  in its ledger, so the restarted sink must find the record instead of writing it again.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.chaos.harness import WRITES, ChaosRun

log = logging.getLogger(__name__)
KINDS = ("ingest", "busy", "after_write")


@dataclass
class KillLog:
    seed: int
    kinds: Counter[str] = field(default_factory=Counter)
    ready_s: list[float] = field(default_factory=list)
    missed: int = 0  # after_write points where no write came in time (killed anyway, not counted as one)

    @property
    def kills(self) -> int:
        return sum(self.kinds.values()) + self.missed


def plan(rng: random.Random, kills: int) -> list[str]:
    """``kills`` kill kinds, spread evenly over the three kinds, in random order."""
    kinds = [KINDS[i % len(KINDS)] for i in range(kills)]
    rng.shuffle(kinds)
    return kinds


def chunks(lines: list[str], n: int) -> list[list[str]]:
    size = -(-len(lines) // n)
    return [lines[i:i + size] for i in range(0, len(lines), size)]


async def kill_through(run: ChaosRun, seed: int, kills: int) -> KillLog:
    """Publish the run's input in ``kills`` chunks and kill the worker once per chunk."""
    rng = random.Random(seed)
    log.warning("chaos kill driver: seed=%d kills=%d", seed, kills)
    result = KillLog(seed)
    parts = chunks(run.workload.lines, kills)
    for i, kind in enumerate(plan(rng, len(parts))):
        part = parts[i]
        if kind == "ingest":
            cut = rng.randint(1, max(1, len(part) - 1))
            for n, line in enumerate(part[:cut]):
                await run.ingest([line], f"{i}-{n}")
            run.kill_worker()
            for n, line in enumerate(part[cut:], start=cut):
                await run.ingest([line], f"{i}-{n}")
            result.kinds[kind] += 1
        elif kind == "busy":
            await run.ingest(part, str(i))
            await asyncio.sleep(rng.uniform(0, 0.3))
            busy = await run.flow.lag() > 0
            run.kill_worker()
            result.kinds[kind if busy else "idle"] += 1
        else:
            seen = len(run.sandbox.requests)
            await run.ingest(part, str(i))
            if await _write_answered_after(run, seen, timeout=10.0):
                result.kinds[kind] += 1
            else:
                result.missed += 1
            run.kill_worker()
        result.ready_s.append(await run.restart_worker())
    return result


async def _write_answered_after(run: ChaosRun, seen: int, timeout: float) -> bool:
    """Poll the sandbox's request log (same event loop) until a write that arrived after its
    first ``seen`` requests has a 2xx answer; return at once so the kill lands before the
    worker's read-back and ledger record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.method in WRITES and 200 <= (r.status or 0) < 300 for r in run.sandbox.requests[seen:]):
            return True
        await asyncio.sleep(0.002)
    return False
