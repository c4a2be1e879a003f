"""The sink runner (app/sinks.py) serialises one entity's commands across its lanes.

The real-time, bulk and retry lanes are separate faust agents sharing one ledger. Two
commands of one invoice on two lanes at once (one waiting out its retry, one re-sent on the
real-time lane) used to both search Holded, find nothing and both create.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from app.avro import codec
from app.settings import Settings
from app.sinks import _Runner
from connectors.base.key_locks import KeyLocks
from connectors.holded.sandbox import SandboxServer, start_sandbox
from tests.connectors.holded.sink_support import (
    contact_command, invoice_commands, make_client, make_sink, product_command,
)

COMMAND, LEDGER = codec("Command"), codec("SinkLedger")


class Sent:
    """Stands in for a faust topic: keeps what was sent."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def send(self, **record: Any) -> None:
        self.records.append(record)


def event(command: dict[str, Any], topic: str) -> SimpleNamespace:
    message = SimpleNamespace(topic=topic, headers=[], partition=0, offset=0)
    return SimpleNamespace(key=command["entity_key"].encode(), value=COMMAND.dumps(command),
                           message=message)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(port=0, rate_limit=None)
    try:
        yield server
    finally:
        await server.stop()


async def test_one_invoice_on_two_lanes_at_once_is_created_once(sandbox: SandboxServer, tmp_path) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        client = make_client(sandbox, http)
        seeder = make_sink(client)
        for cmd in (contact_command(1), product_command(1), product_command(2)):
            assert (await seeder.execute(cmd)).result["status"] == "succeeded"
        ledger: dict[bytes, bytes] = {}
        results, retry = Sent(), Sent()
        runner = _Runner("holded", lambda led: make_sink(client, ledger=led), ledger, results,
                         Sent(), Sent(), retry, Settings(data_dir=tmp_path))
        first = invoice_commands(1, contact_n=1, product_ns=[1, 2])
        newer = invoice_commands(1, contact_n=1, product_ns=[1, 2], version=2)
        await asyncio.gather(runner._handle(event(first, "retry.holded"), attempt=1, first_try=0),
                             runner._handle(event(newer, "commands.holded"), attempt=0, first_try=0))
        [doc] = await sandbox.all("documents", docType="invoice")
        assert [r["value"] for r in retry.records] == []
        done = [codec("CommandResult").loads(r["value"]) for r in results.records]
        # the first created it; the newer one, run after it, found it and updated it
        assert [(r["command_id"], r["status"], r["target_id"]) for r in done] == [
            (first["command_id"], "succeeded", doc["id"]), (newer["command_id"], "succeeded", doc["id"])]
        assert LEDGER.loads(ledger[b"invoice/odoo/INV-1"])["written"] == newer["vector"]
        assert len(runner._locks) == 0


async def test_key_locks_serialise_one_key_and_let_others_run() -> None:
    locks, trace = KeyLocks(), []

    async def work(key: str, name: str) -> None:
        async with locks.hold(key):
            trace.append(f"{name} in")
            await asyncio.sleep(0.01)
            trace.append(f"{name} out")

    await asyncio.gather(work("a", "a1"), work("a", "a2"), work("b", "b1"))
    assert trace.index("a1 out") < trace.index("a2 in")  # one key: one at a time
    assert trace.index("b1 in") < trace.index("a1 out")  # another key: alongside
    assert len(locks) == 0  # nothing kept once idle
