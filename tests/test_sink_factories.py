"""The worker's sink factories (app/connections.py) against the Holded sandbox.

The sink runner builds a sink per command (each with its entity's ledger); what the Holded
sink learns about Holded (contact and product ids) must outlive the command, or every invoice
scans the whole catalogue and searches its contact again: requests the rate limit counts.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from app.connections import clients, sink_factories
from app.live_mapping import DOC, LiveMapping
from app.settings import HoldedSettings, Settings
from connectors.holded.sandbox import start_sandbox
from connectors.holded.sink import MemoryLedger
from tests.connectors.holded.sink_support import contact_command, invoice_commands, product_command

MAPPING = Path(__file__).resolve().parents[1] / "docs" / "examples" / "mapping-es.yaml"


def live_mapping() -> LiveMapping:
    live = LiveMapping()
    assert live.offer(DOC.dumps({"version": 3, "source": MAPPING.read_text(encoding="utf-8"),
                                 "file_name": MAPPING.name,
                                 "published_ts": dt.datetime.now(dt.timezone.utc)}))
    return live


async def test_invoices_reuse_the_ids_earlier_commands_found(tmp_path) -> None:
    sandbox = await start_sandbox(port=0, rate_limit=None)
    try:
        settings = Settings(systems=("holded", "odoo"), data_dir=tmp_path, holded=HoldedSettings(
            api_url=sandbox.url, api_key="sandbox-key", requests_per_second=1000))
        api = clients(settings)
        sink = sink_factories(settings, live_mapping(), api)["holded"]
        commands = [contact_command(1), product_command(1), product_command(2),
                    *(invoice_commands(n, contact_n=1, product_ns=[1, 2]) for n in (1, 2, 3))]
        for command in commands:  # a new sink and ledger each, as the sink runner does
            assert (await sink(MemoryLedger()).execute(command)).result["status"] == "succeeded"
        assert len(await sandbox.all("documents", docType="invoice")) == 3
        paths = [r.path.removeprefix("/api/invoicing/v1") for r in sandbox.requests
                 if r.method == "GET"]
        first_invoice = paths.index("/documents/invoice")
        # The contact was searched once, before its create; the catalogue was scanned for the
        # products' creates only. Before, each invoice searched its contact and scanned again.
        assert paths.count("/contacts") == 1
        assert "/products" in paths[:first_invoice] and "/products" not in paths[first_invoice:]
    finally:
        await sandbox.stop()


async def test_a_contact_deleted_in_holded_is_searched_again_after_the_rejection(tmp_path) -> None:
    sandbox = await start_sandbox(port=0, rate_limit=None)
    try:
        settings = Settings(systems=("holded", "odoo"), data_dir=tmp_path, holded=HoldedSettings(
            api_url=sandbox.url, api_key="sandbox-key", requests_per_second=1000))
        sink = sink_factories(settings, live_mapping(), clients(settings))["holded"]
        for command in (contact_command(1), product_command(1), invoice_commands(1, contact_n=1, product_ns=[1])):
            assert (await sink(MemoryLedger()).execute(command)).result["status"] == "succeeded"
        [old] = await sandbox.all("contacts", customId="contact/odoo/1")
        assert await sandbox.store.delete("contacts", old["id"])  # someone deleted it in Holded
        second = invoice_commands(2, contact_n=1, product_ns=[1])
        rejected = (await sink(MemoryLedger()).execute(second)).result
        assert rejected["status"] == "failed" and "Contact not found" in rejected["reason"]
        [new] = await sandbox.insert("contacts", [{k: v for k, v in old.items() if k != "id"}])  # back
        redriven = (await sink(MemoryLedger()).execute(second)).result
        assert redriven["status"] == "succeeded"
        [doc] = [d for d in await sandbox.all("documents", docType="invoice") if d["id"] == redriven["target_id"]]
        assert doc["contact"] == new["id"] != old["id"]
    finally:
        await sandbox.stop()


async def test_an_invoice_deleted_in_holded_is_searched_again_after_the_rejection(tmp_path) -> None:
    sandbox = await start_sandbox(port=0, rate_limit=None)
    try:
        settings = Settings(systems=("holded", "odoo"), data_dir=tmp_path, holded=HoldedSettings(
            api_url=sandbox.url, api_key="sandbox-key", requests_per_second=1000))
        sink = sink_factories(settings, live_mapping(), clients(settings))["holded"]
        for command in (contact_command(1), product_command(1), invoice_commands(1, contact_n=1, product_ns=[1])):
            assert (await sink(MemoryLedger()).execute(command)).result["status"] == "succeeded"
        [old] = await sandbox.all("documents", docType="invoice")
        assert await sandbox.store.delete("documents", old["id"])  # deleted in Holded
        edit = invoice_commands(1, contact_n=1, product_ns=[1], version=2)
        assert (await sink(MemoryLedger()).execute(edit)).result["status"] == "failed"  # 404
        redriven = (await sink(MemoryLedger()).execute(edit)).result
        [new] = await sandbox.all("documents", docType="invoice")
        assert redriven["status"] == "succeeded" and redriven["target_id"] == new["id"] != old["id"]
    finally:
        await sandbox.stop()
