"""The worker's sink factories (app/connections.py) against the Holded sandbox.

The sink runner builds a sink per command (each with its entity's ledger); what the Holded
sink learns about Holded (contact and product ids) must outlive the command, or every invoice
scans the whole catalogue and searches its contact again: requests the rate limit counts.
"""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from app.connections import Clients, SinkFactory, clients, sink_factories
from app.live_mapping import DOC, LiveMapping
from app.settings import HoldedSettings, Settings
from connectors.holded.sandbox import SandboxServer
from connectors.holded.sink import MemoryLedger
from tests.connectors.holded.sink_support import (
    command, contact_command, invoice_commands, payment, product_command,
)

MAPPING = Path(__file__).resolve().parents[3] / "docs" / "examples" / "mapping-es.yaml"


def live_mapping() -> LiveMapping:
    live = LiveMapping()
    assert live.offer(DOC.dumps({"version": 3, "source": MAPPING.read_text(encoding="utf-8"),
                                 "file_name": MAPPING.name,
                                 "published_ts": dt.datetime.now(dt.timezone.utc)}))
    return live


@pytest.fixture
async def holded_factory(sandbox: SandboxServer, tmp_path: Path):
    """holded_factory(**Holded settings): the worker's Holded sink factory against the
    sandbox. Its API clients are closed after the test (their keep-alive sockets otherwise
    wait for the garbage collector, and warn in whichever test it runs)."""
    made: list[Clients] = []

    def make(**holded: object) -> SinkFactory:
        settings = Settings(systems=("holded", "odoo"), data_dir=tmp_path, holded=HoldedSettings(
            api_url=sandbox.url, api_key="sandbox-key", requests_per_second=1000, **holded))
        made.append(clients(settings))
        return sink_factories(settings, live_mapping(), made[-1])["holded"]
    yield make
    for api in made:
        await api.aclose()


@pytest.fixture
def make_holded_sink(holded_factory) -> SinkFactory:
    """The worker's Holded sink factory against the sandbox: call it with each command's
    ledger (the sink runner builds a sink per command)."""
    return holded_factory()


async def run(sink_factory: SinkFactory, command: dict) -> dict:
    """One command through a new sink with its own ledger; its result."""
    return (await sink_factory(MemoryLedger()).execute(command)).result


async def seed(sink_factory: SinkFactory, *commands: dict) -> None:
    for cmd in commands:
        assert (await run(sink_factory, cmd))["status"] == "succeeded"


async def test_invoices_reuse_the_ids_earlier_commands_found(make_holded_sink, sandbox) -> None:
    await seed(make_holded_sink, contact_command(1), product_command(1), product_command(2),
               *(invoice_commands(n, contact_n=1, product_ns=[1, 2]) for n in (1, 2, 3)))
    assert len(await sandbox.all("documents", docType="invoice")) == 3
    paths = [r.path.removeprefix("/api/invoicing/v1") for r in sandbox.requests if r.method == "GET"]
    first_invoice = paths.index("/documents/invoice")
    # The contact was searched once, before its create; the catalogue was scanned for the
    # products' creates only. Before, each invoice searched its contact and scanned again.
    assert paths.count("/contacts") == 1
    assert "/products" in paths[:first_invoice] and "/products" not in paths[first_invoice:]


async def test_a_contact_deleted_in_holded_is_searched_again_after_the_rejection(
        make_holded_sink, sandbox) -> None:
    await seed(make_holded_sink, contact_command(1), product_command(1),
               invoice_commands(1, contact_n=1, product_ns=[1]))
    [old] = await sandbox.all("contacts", customId="contact/odoo/1")
    assert await sandbox.store.delete("contacts", old["id"])  # someone deleted it in Holded
    second = invoice_commands(2, contact_n=1, product_ns=[1])
    rejected = await run(make_holded_sink, second)
    assert rejected["status"] == "failed" and "Contact not found" in rejected["reason"]
    [new] = await sandbox.insert("contacts", [{k: v for k, v in old.items() if k != "id"}])  # back
    redriven = await run(make_holded_sink, second)
    assert redriven["status"] == "succeeded"
    [doc] = [d for d in await sandbox.all("documents", docType="invoice") if d["id"] == redriven["target_id"]]
    assert doc["contact"] == new["id"] != old["id"]


async def test_an_invoice_deleted_in_holded_is_searched_again_then_created_anew(
        make_holded_sink, sandbox) -> None:
    # The document is read before it is written (an approved one is locked): a linked or
    # remembered id that is gone is searched for by its sync key, then created, as contacts
    # and products are (before, the command failed on the 404 and only a redrive created it).
    await seed(make_holded_sink, contact_command(1), product_command(1),
               invoice_commands(1, contact_n=1, product_ns=[1]))
    [old] = await sandbox.all("documents", docType="invoice")
    assert await sandbox.store.delete("documents", old["id"])  # deleted in Holded
    edit = invoice_commands(1, contact_n=1, product_ns=[1], version=2)
    written = await run(make_holded_sink, edit)
    [new] = await sandbox.all("documents", docType="invoice")
    assert written["status"] == "succeeded" and written["target_id"] == new["id"] != old["id"]


@pytest.mark.parametrize("pay_drafts", [False, True])
async def test_holded_pay_drafts_reaches_the_sinks_and_is_logged_once_per_worker(
        sandbox, holded_factory, caplog, pay_drafts: bool) -> None:
    factory = holded_factory(pay_drafts=pay_drafts)
    await seed(factory, contact_command(1), product_command(1),
               *(invoice_commands(n, contact_n=1, product_ns=[1]) for n in (1, 2)))  # drafts
    with caplog.at_level(logging.WARNING, logger="connectors.holded.draft_payments"):
        results = [await run(factory, command("payment", f"payment/odoo/P-{n}",
                                              payment(f"invoice/odoo/INV-{n}", "1.00")))
                   for n in (1, 2)]  # a sink per command, as the sink runner builds them
    assert [r["status"] for r in results] == ["succeeded" if pay_drafts else "parked"] * 2
    assert await sandbox.count("payments") == (2 if pay_drafts else 0)
    logged = [r for r in caplog.records if r.name == "connectors.holded.draft_payments"]
    assert len(logged) == (1 if pay_drafts else 0)


async def test_a_contact_field_holded_cannot_take_is_logged_once_per_worker(
        make_holded_sink, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.holded.sink_writers"):
        for n in (1, 2):  # a sink per command: a flag kept on the sink logged each contact
            cmd = contact_command(n)
            cmd["payload"]["price_list"] = "Mayoristas"
            result = await run(make_holded_sink, cmd)
            assert result["status"] == "succeeded" and "price_list" in result["reason"]
    logged = [r for r in caplog.records if "price_list" in r.getMessage()]
    assert len(logged) == 1 and "contact/odoo/1" in logged[0].getMessage()
