"""ERP file -> Kafka -> canonical agent -> Holded sink -> the Holded sandbox, end to end."""
from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from app.ingest import ingest_file
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "sample-odoo.jsonl"
MAPPING = ROOT / "docs" / "examples" / "mapping-es.yaml"


@pytest.fixture
async def holded():
    server = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    yield server
    await server.stop()


async def results(flow, status: str | None = None):
    recs = await flow.read_results("holded")
    return [r for r in recs if status is None or r["status"] == status]


async def test_erp_documents_reach_holded_once_with_their_taxes(own_flow, holded):
    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key",
                                                requests_per_second=20))
    await publish_mapping(flow.settings, MAPPING)
    report = await ingest_file(SAMPLE, "odoo", flow.settings)
    assert report.published == 9 and len(report.errors) == 1

    async def all_invoices():
        docs = await holded.all("documents")
        return docs if len([d for d in docs if d.get("docType", "invoice") == "invoice"]) >= 3 else None
    await wait_for(all_invoices, 120, "3 invoices in the Holded sandbox", flow.worker)
    await flow.wait_idle(120)

    contacts = await holded.all("contacts")
    assert sorted(c["customId"] for c in contacts if c.get("customId", "").startswith("contact/odoo/")) == [
        "contact/odoo/C-0001", "contact/odoo/C-0002", "contact/odoo/C-0003"]
    gomez = next(c for c in contacts if c.get("customId") == "contact/odoo/C-0001")
    assert gomez["email"] == "facturas@talleresgomez.es"  # the later edit, not the first
    totals = sorted(Decimal(str(d["total"])) for d in await holded.all("documents"))
    assert totals == [Decimal("60.50"), Decimal("157.75"), Decimal("636.00")]
    done = await results(flow, "succeeded")
    assert {r["entity_key"] for r in done} >= {"invoice/odoo/INV-2026-0042", "product/odoo/P-100"}
    assert not await results(flow, "failed")

    # The whole file again: nothing new is written anywhere.
    before = len(holded.requests)
    await ingest_file(SAMPLE, "odoo", flow.settings)
    await flow.wait_idle(60)
    writes = [r for r in holded.requests[before:] if r.method in ("POST", "PUT", "DELETE")]
    assert writes == [] and len(await holded.all("documents")) == 3

    # At start the worker said what runs: Holded has its key, Odoo has none (files stand in).
    log = flow.worker.log()
    assert "holded: its sink runs, and its poller on the leader" in log
    assert "odoo: no credentials (ODOO_API_KEY is not set), so no poller and no sink run" in log


async def test_a_payment_made_in_holded_flows_back_as_a_command_to_the_erp(own_flow, holded):
    import httpx

    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key",
                                                requests_per_second=20), poll_interval_s=1.0)
    await publish_mapping(flow.settings, MAPPING)
    await ingest_file(SAMPLE, "odoo", flow.settings)

    async def invoice_42():
        links = await flow.table("links")
        return (links.get("invoice/odoo/INV-2026-0042") or {}).get("ids", {}).get("holded")
    holded_id = await wait_for(invoice_42, 120, "invoice 42 linked to Holded", flow.worker)

    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        today = int(time.time())  # v1 lists payments by their date: a payment made today
        paid = await http.post(f"/invoicing/v1/documents/invoice/{holded_id}/pay",
                               json={"date": today, "amount": 60.5})
        assert paid.status_code in (200, 201), paid.text

    async def payment_command():
        got = [c for c in await flow.commands("odoo") if c["entity"] == "payment"]
        return got or None
    [cmd] = await wait_for(payment_command, 60, "the payment command for Odoo", flow.worker)
    assert cmd["payload"]["invoice_key"] == "invoice/odoo/INV-2026-0042"
    assert cmd["payload"]["amount"] == Decimal("60.50")
    assert cmd["entity_key"].startswith("payment/holded/")

    async def paid_in_canonical_state():  # the invoice's own change comes by another poll
        state = (await flow.table("entities"))["invoice/odoo/INV-2026-0042"]
        return state["record"]["payment_status"] == "paid" or None  # Holded owns it
    await wait_for(paid_in_canonical_state, 60, "the invoice paid in the canonical state", flow.worker)


async def test_an_edit_made_in_holded_before_its_poll_is_merged_not_overwritten(own_flow, holded, tmp_path):
    """A user edits a contact in Holded; before the poller reads it, the ERP changes another
    field. The sink does not write the ERP's version over the edit: the poller reports it,
    the merge keeps both, and Holded ends with the edited name and the ERP's mobile."""
    import json

    import httpx

    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key",
                                                requests_per_second=20), poll_interval_s=1.0)
    await publish_mapping(flow.settings, MAPPING)
    line = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0]) | {"id": "C-0901"}
    key = "contact/odoo/C-0901"

    def ingested(name: str, **changes) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(line | changes, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    await ingest_file(ingested("first.jsonl"), "odoo", flow.settings)

    async def synced():
        found = await holded.all("contacts", customId=key)
        return found[0] if found and key in await flow.table("links") else None
    contact = await wait_for(synced, 90, "the contact in Holded and its link", flow.worker)
    await flow.wait_idle(60)

    holded.faults.lists.close()  # the poller stalls: the edit below stays unread
    try:
        async with httpx.AsyncClient(timeout=10, headers={"key": "sandbox-key"}) as http:
            edited = await http.put(f"{holded.url}/invoicing/v1/contacts/{contact['id']}",
                                    json={"name": "Talleres Gómez Editado SL"})
            assert edited.status_code == 200, edited.text
        later = line["data"] | {"mobile": "600111222"}
        await ingest_file(ingested("later.jsonl", updated_at="2026-03-02T10:00:00Z", data=later),
                          "odoo", flow.settings)

        async def parked():
            return [r for r in await flow.read_results("holded", key)
                    if r["status"] == "parked" and "holds an edit the engine has not read" in (r["reason"] or "")]
        await wait_for(parked, 90, "the ERP's write parked", flow.worker)
        assert (await holded.get("contacts", contact["id"]))["name"] == "Talleres Gómez Editado SL"
    finally:
        holded.faults.lists.open()

    async def merged():
        now = await holded.get("contacts", contact["id"])
        return now if now.get("mobile") == "600111222" else None
    final = await wait_for(merged, 90, "the merged contact in Holded", flow.worker)
    assert final["name"] == "Talleres Gómez Editado SL"
    state = (await flow.wait_entity(key, "the merged state", lambda s: s["record"]["mobile"]))["record"]
    assert (state["name"], state["mobile"]) == ("Talleres Gómez Editado SL", "600111222")


async def test_with_approval_on_issued_invoices_reach_holded_approved_and_a_draft_waits(
        own_flow, holded, tmp_path):
    import json

    holded.state.sales_invoice_num = "kept"  # a Holded series that keeps the ERP's number
    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key",
                                                requests_per_second=20,
                                                approve_documents=("invoice",)))
    await publish_mapping(flow.settings, MAPPING)
    await ingest_file(SAMPLE, "odoo", flow.settings)
    # INV-2026-0043's twin, first a draft in the ERP, issued an hour later.
    line = next(json.loads(x) for x in SAMPLE.read_text().splitlines() if '"INV-2026-0043"' in x)
    line.update(id="INV-2026-0050", updated_at="2026-03-04T09:00:00Z")
    line["data"].update(number="INV/2026/0050", status="draft")
    draft = tmp_path / "draft.jsonl"
    draft.write_text(json.dumps(line) + "\n")
    await ingest_file(draft, "odoo", flow.settings)

    async def parked_draft():
        return [r for r in await results(flow, "parked")
                if r["entity_key"] == "invoice/odoo/INV-2026-0050"] or None
    [waiting] = await wait_for(parked_draft, 120, "the ERP draft parked", flow.worker)
    assert "is a draft in the ERP" in waiting["reason"]
    await flow.wait_idle(120)
    docs = await holded.all("documents", docType="invoice")
    assert sorted(d["docNumber"] for d in docs) == ["INV/2026/0042", "INV/2026/0043", "INV/2026/0044"]
    assert all(d["draft"] is None and d["approvedAt"] for d in docs)
    assert not await results(flow, "failed")

    line.update(updated_at="2026-03-04T10:00:00Z")
    line["data"]["status"] = "issued"
    issued = tmp_path / "issued.jsonl"
    issued.write_text(json.dumps(line) + "\n")
    await ingest_file(issued, "odoo", flow.settings)

    async def created():
        return [d for d in await holded.all("documents", docType="invoice")
                if d["docNumber"] == "INV/2026/0050"] or None
    [doc] = await wait_for(created, 120, "the issued invoice approved in Holded", flow.worker)
    assert doc["draft"] is None and doc["total"] == 636.0
    await flow.wait_idle(120)
    assert len(await holded.all("documents", docType="invoice")) == 4
    assert not await results(flow, "failed")
