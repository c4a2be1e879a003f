"""Holded misbehaves during a flow: 5xx bursts, timeouts (with and without the write
committing), lost responses after a committed write, 429 storms with and without
Retry-After, HTML pages with status 200. The flow ends as the fault-free run did.

Faults are switched on one kind at a time, the next once the sandbox has served the last
(its counters reach 0), while the input arrives in chunks; ``faults_injected`` counts the
requests that got a fault.

An HTML page with status 200 is Holded's answer to a route that does not exist, so the sink
fails that command at once (by design, tests/connectors/holded/test_sink.py): it must land in
the DLQ with its reason, and the operator's ``dlq redrive`` must then write it exactly once.
It is injected first, while nothing else talks to Holded, so each page fails one command.
"""
from __future__ import annotations

import asyncio
import json

import click
import pytest
from click.testing import CliRunner

from app.operator_cli import register
from connectors.holded.sandbox_faults import Faults
from tests.chaos import tally
from tests.chaos.harness import ChaosRun
from tests.chaos.invariants import diff
from tests.chaos.killer import chunks
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka

HTML_PAGES = 2
# (name, switches): each switch is a Faults attribute; the *_next counters say how many
# requests get the fault.
FAULTS = [
    ("5xx burst", {"error_next": 3}),
    ("timeout, write committed", {"timeout_next": 1, "timeout_commits": True}),
    ("lost response (connection dropped)", {"lose_next_writes": 2, "lose_mode": "drop"}),
    ("429 storm with Retry-After", {"storm_next": 4, "storm_retry_after": 1}),
    ("timeout, nothing written", {"timeout_next": 1, "timeout_commits": False}),
    ("lost response (502 after commit)", {"lose_next_writes": 2, "lose_mode": "error"}),
    ("429 storm without Retry-After", {"storm_next": 4, "storm_retry_after": None}),
]
COUNTERS = ("error_next", "timeout_next", "lose_next_writes", "storm_next", "html_next")


@click.group()
def operator() -> None:
    """The operator commands, with the run's settings passed in as ctx.obj."""


register(operator)


async def operator_cli(run: ChaosRun, *args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, operator, list(args),
                                     obj={"settings": run.flow.settings}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def answered_since(run: ChaosRun, first: int, served: int):
    """A request answered since the fault was served (request ``served`` on), and every GET
    that met a fault since ``first`` answered again since (its retries repeat its path and
    query). A call still backing off would meet the next fault too: seen in CI, one GET took
    two attempts of a 429 storm, a timeout, then two of the next storm, and its command
    failed, by design, after 5 attempts."""
    def ok(r) -> bool:
        return r.outcome == "response" and r.status is not None and r.status < 500 \
            and r.status != 429

    def call(r) -> tuple:
        return r.method, r.path, tuple(sorted((k, tuple(v)) for k, v in r.query.items()))

    async def answered() -> bool:
        if not any(200 <= (r.status or 0) < 300 and ok(r) for r in run.sandbox.requests[served:]):
            return False
        requests = run.sandbox.requests[first:]
        return all(any(ok(later) and call(later) == call(r) for later in requests[i + 1:])
                   for i, r in enumerate(requests)
                   if r.method == "GET" and r.status is not None and not ok(r))
    return answered


def pending(faults: Faults) -> int:
    return sum(getattr(faults, c) for c in COUNTERS)


async def dead_letters_of_html_pages(run: ChaosRun) -> list[dict]:
    """The sink failures' dead letters, once every failed result has its dead letter and
    two reads a second apart agree."""
    seen: list = [None]

    async def settled():
        failed = [r for r in await run.flow.read_results("holded") if r["status"] == "failed"]
        dead = [d for d in await run.flow.dlq() if d["error"] == "SinkFailed"]
        if run.sandbox.faults.html_next or not failed or len(dead) != len(failed):
            return None
        same, seen[0] = seen[0] == len(dead), len(dead)
        if not same:
            await asyncio.sleep(1.0)
        return dead if same else None
    return await wait_for(settled, 60, "the HTML-failed commands in the DLQ", run.worker)


async def test_holded_faults_mid_flow_lose_and_duplicate_nothing(kafka, tmp_path, workload, reference, soak):
    run = ChaosRun("faults", kafka, tmp_path, workload)
    schedule = FAULTS * soak
    parts = chunks(workload.lines, len(schedule) + 1)
    try:
        await run.start()
        faults = run.sandbox.faults
        faults.timeout_seconds = run.flow.settings.api_timeout_s + 1.0  # the client gives up first
        await run.send_poison()

        faults.html_next = HTML_PAGES
        await run.ingest(parts[0], "html")
        dead = await dead_letters_of_html_pages(run)
        assert 1 <= len(dead) <= HTML_PAGES
        assert all("UnexpectedContent" in d["reason"] for d in dead), dead
        # What an operator does: list the dead letters, redrive the sink's by number.
        listed = await operator_cli(run, "dlq", "list", "--json")
        numbers = [str(row["n"]) for row in map(json.loads, listed.splitlines()) if row["error"] == "SinkFailed"]
        assert len(numbers) == len(dead)
        await operator_cli(run, "dlq", "redrive", *numbers)
        injected = HTML_PAGES

        for i, (part, (name, switches)) in enumerate(zip(parts[1:], schedule)):
            first = len(run.sandbox.requests)
            for attr, value in switches.items():
                setattr(faults, attr, value)
            await run.ingest(part, str(i))

            async def served():
                return pending(faults) == 0
            await wait_for(served, 60, f"the sandbox to serve the fault {name!r}", run.worker)
            injected += sum(v for k, v in switches.items() if k in COUNTERS)
            # Faults back to back on one call would outlast its retry budget (5 attempts),
            # which fails a command by design: the calls that met this one are answered first.
            await wait_for(answered_since(run, first, len(run.sandbox.requests)), 60,
                           f"the calls that met the fault {name!r} answered", run.worker)
        faults.clear()
        got = await run.settle(timeout=180)
    finally:
        await run.close()
    prefix = run.flow.settings.topic_prefix
    expected_dead = [(d["source_topic"].removeprefix(prefix), d["partition"], d["key"], d["value"],
                      d["error"], d["reason"]) for d in dead]
    tally.record("sandbox_faults", faults_injected=injected, duplicates=got.duplicates(),
                 lost=got.lost(workload), dlq_redeliveries=got.dlq_redeliveries)
    tally.note("sandbox_faults", kinds=["HTML page with 200", *(name for name, _ in FAULTS)],
               dead_lettered_then_redriven=len(dead))
    assert diff(await reference, got, workload, extra_dlq=expected_dead) == []
