"""The sink runner (app/sinks.py) serialises one entity's commands across its lanes.

The real-time, bulk and retry lanes are separate faust agents sharing one ledger. Two
commands of one invoice on two lanes at once (one waiting out its retry, one re-sent on the
real-time lane) used to both search Holded, find nothing and both create.
"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx

from app.avro import codec
from app.settings import Settings
from app.sinks import _redrive_parked, _Runner
from connectors.base.key_locks import KeyLocks
from connectors.holded.sandbox import SandboxServer
from tests.connectors.holded.sink_support import (
    contact_command, invoice_commands, make_client, make_sink, product_command,
)

COMMAND, LEDGER = codec("Command"), codec("SinkLedger")


class Sent:
    """Stands in for a faust topic: keeps what was sent."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def send(self, **record: Any) -> asyncio.Future:
        self.records.append(record)
        acked: asyncio.Future = asyncio.get_running_loop().create_future()
        acked.set_result(None)  # faust's send returns the delivery to await
        return acked


def event(command: dict[str, Any], topic: str, headers: list | None = None) -> SimpleNamespace:
    message = SimpleNamespace(topic=topic, headers=headers or [], partition=0, offset=0)
    return SimpleNamespace(key=command["entity_key"].encode(), value=COMMAND.dumps(command),
                           message=message)


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


async def test_commands_wait_until_the_mappings_topic_is_read(sandbox: SandboxServer, tmp_path) -> None:
    # Before, a starting worker's sink parked what it read before the mapping ("no mapping
    # has been published yet") and published it all again once the mapping was read.
    async with httpx.AsyncClient(timeout=10) as http:
        client = make_client(sandbox, http)
        loaded, results = asyncio.Event(), Sent()
        runner = _Runner("holded", lambda led: make_sink(client, ledger=led), {}, results,
                         Sent(), Sent(), Sent(), Settings(data_dir=tmp_path), mapping_loaded=loaded)
        handling = asyncio.ensure_future(runner._handle(event(contact_command(1), "commands.holded"),
                                                        attempt=0, first_try=0))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not handling.done() and sandbox.requests == []
        loaded.set()
        await handling
        [done] = [codec("CommandResult").loads(r["value"]) for r in results.records]
        assert done["status"] == "succeeded"


def parked(n: int, under: int | None) -> tuple[bytes, bytes]:
    """One entity's ledger entry holding one command parked under mapping ``under``."""
    cmd = contact_command(n)
    state = {"results": {cmd["command_id"]: {
        "command_id": cmd["command_id"], "entity_key": cmd["entity_key"],
        "target_system": "holded", "status": "parked", "target_id": None, "reason": "no",
        "completed_ts": 1, "mapping_version": under, "vector": cmd["vector"],
        "content_hash": cmd["content_hash"]}},
        "written": {}, "parked": {cmd["command_id"]: COMMAND.dumps(cmd)}}
    return cmd["entity_key"].encode(), LEDGER.dumps(state)


async def test_a_mapping_read_again_re_drives_only_what_it_did_not_park() -> None:
    ledger = dict([parked(1, None), parked(2, 3), parked(3, 2)])
    commands = Sent()
    await _redrive_parked({"holded": [(commands, ledger)]}, 3)
    # parked without a mapping, or under v2: run again under v3; parked under v3: stays
    assert sorted(r["key"] for r in commands.records) == [b"contact/odoo/1", b"contact/odoo/3"]


async def test_a_parked_command_is_kept_for_re_driving_unless_its_sink_says_otherwise(tmp_path) -> None:
    from connectors.base.contracts import SinkOutcome, result

    class Parks:
        redrive = True

        async def execute(self, command):
            return SinkOutcome(result(command, "parked", 1, reason="waiting"), redrive=self.redrive)

    sink, ledger = Parks(), {}
    runner = _Runner("holded", lambda led: sink, ledger, Sent(), Sent(), Sent(), Sent(),
                     Settings(data_dir=tmp_path))
    cmd = contact_command(1)
    await runner._handle(event(cmd, "commands.holded"), attempt=0, first_try=0)
    assert list(LEDGER.loads(ledger[b"contact/odoo/1"])["parked"]) == [cmd["command_id"]]
    sink.redrive = False  # e.g. Odoo's guard: the engine decides again by itself
    await runner._handle(event(cmd, "commands.holded"), attempt=0, first_try=0)
    state = LEDGER.loads(ledger[b"contact/odoo/1"])
    assert state["parked"] == {} and state["results"][cmd["command_id"]]["status"] == "parked"


async def test_a_failed_command_read_again_is_not_run_until_an_operator_redrives_it(tmp_path) -> None:
    from app.topics import REDRIVE_HEADER
    from connectors.base.contracts import SinkOutcome, result

    class Fails:
        runs = 0

        async def execute(self, command):
            self.runs += 1
            return SinkOutcome(result(command, "failed", 1, reason="refused"))

    sink, ledger, results, dlq = Fails(), {}, Sent(), Sent()
    runner = _Runner("holded", lambda led: sink, ledger, results, Sent(), dlq, Sent(),
                     Settings(data_dir=tmp_path))
    cmd = contact_command(1)
    await runner._handle(event(cmd, "commands.holded"), attempt=0, first_try=0)
    assert (sink.runs, len(results.records), len(dlq.records)) == (1, 1, 1)
    # read again: a replay's re-emitted copy, or a new generation's sinks from offset 0
    await runner._handle(event(cmd, "commands.holded"), attempt=0, first_try=0)
    assert (sink.runs, len(results.records), len(dlq.records)) == (1, 1, 1)
    # `dlq redrive` marks what it publishes: that runs again
    redriven = event(cmd, "commands.holded", [(REDRIVE_HEADER, b"dlq:0:0")])
    await runner._handle(redriven, attempt=0, first_try=0)
    assert (sink.runs, len(results.records), len(dlq.records)) == (2, 2, 2)
