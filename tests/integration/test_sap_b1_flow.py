"""SAP Business One <-> Kafka <-> Holded end to end: open SAP invoices reach Holded once with
their totals; a payment registered in Holded becomes an IncomingPayment applied to the SAP
invoice; then no ping-pong. Stock per mapped SAP warehouse, and a delivery that moves only
the warehouse row, reach Holded once each. Payments on account cross once each way."""
from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from app.live_mapping import publish_mapping
from app.devrun.sandboxes import start_erp_sandbox
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.integration.test_odoo_flow import CENTRAL, MAPPING
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
async def sandboxes():
    holded = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    sap, settings = await start_erp_sandbox("sap_b1")
    yield holded, sap, settings
    await sap.stop()
    await holded.stop()


async def start_with_mapping(own_flow, holded, sap_settings):
    """A worker for Holded and the SAP sandbox, polling every second, with the example
    mapping published."""
    flow = await own_flow(
        systems=("holded", "sap_b1"),
        holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key", requests_per_second=20),
        poll_interval_s=1.0, **sap_settings)
    await publish_mapping(flow.settings, MAPPING)
    return flow


async def test_sap_invoices_reach_holded_and_holded_payments_reach_sap(own_flow, sandboxes):
    holded, sap, sap_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, sap_settings)
    invoices = {f"invoice/sap_b1/{i['DocEntry']}": i for i in await sap.all("Invoices")}
    assert invoices

    async def all_decided():
        out = {r["entity_key"]: r for r in await flow.read_results("holded") if r["entity_key"] in invoices}
        return out if len(out) == len(invoices) else None
    outcomes = await wait_for(all_decided, 180, "an outcome for every SAP invoice", flow.worker)
    docs = {f["value"]: d for d in await holded.all("documents") for f in d.get("customFields", [])
            if f.get("field") == "holded_sync_key"}
    sent = [k for k, r in outcomes.items() if r["status"] == "succeeded"]
    assert sent, outcomes
    for key in sent:
        assert Decimal(str(docs[key]["total"])) == Decimal(str(invoices[key]["DocTotal"]))
    open_ones = [k for k in sent if invoices[k].get("DocumentStatus") == "bost_Open"
                 and Decimal(str(invoices[k].get("PaidToDate") or 0)) == 0]
    assert open_ones, "the seed has an open, unpaid invoice"
    target = open_ones[0]
    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        paid = await http.post(f"/invoicing/v1/documents/invoice/{docs[target]['id']}/pay",
                               json={"date": int(time.time()), "amount": float(invoices[target]["DocTotal"])})
        assert paid.status_code in (200, 201), paid.text

    async def applied_in_sap():
        [inv] = await sap.find("Invoices", DocEntry=invoices[target]["DocEntry"])
        return inv if Decimal(str(inv["PaidToDate"])) == Decimal(str(inv["DocTotal"])) else None
    await wait_for(applied_in_sap, 120, "the SAP invoice to be paid", flow.worker)

    await flow.wait_idle(60)
    settled = len(await flow.commands("sap_b1")) + len(await flow.commands("holded"))
    seen = len(sap.requests)

    async def more_polls():
        return len(sap.requests) >= seen + 10
    await wait_for(more_polls, 60, "more SAP polls", flow.worker)
    await flow.wait_idle(60)
    assert len(await flow.commands("sap_b1")) + len(await flow.commands("holded")) == settled


async def test_sap_stock_per_warehouse_and_a_delivery_reach_holded_once(own_flow, sandboxes):
    """The seeded stock of A0001 in SAP warehouse 01 (canonical central; its 15 units in the
    unmapped 02 stay out) reaches Holded's central warehouse; a delivery posted in SAP, which
    leaves the item's update time alone, follows through the stock sweep; each level once."""
    holded, sap, sap_settings = sandboxes
    sap_settings = {"sap_b1": sap_settings["sap_b1"].model_copy(update={"stock_interval_s": 0})}
    flow = await start_with_mapping(own_flow, holded, sap_settings)

    def level_is(units: int):
        async def check():
            found = await holded.all("products", sku="A0001")
            held = found[0].get("stockByWarehouse", {}).get(CENTRAL) if found else None
            return found[0] if held == units else None
        return check
    product = await wait_for(level_is(120), 180, "120 units of A0001 in Holded's central",
                             flow.worker)
    before = await sap.get("Items", "A0001")
    await sap.move_stock("A0001", "01", -5)  # a delivery: InStock moves, UpdateDate does not
    await wait_for(level_is(115), 120, "115 units of A0001 in Holded", flow.worker)
    assert (await sap.get("Items", "A0001"))["UpdateTime"] == before["UpdateTime"]

    await flow.wait_idle(60)
    writes = f"/products/{product['id']}/stock"
    settled = len(await flow.commands("holded"))
    seen = len(sap.requests)

    async def more_polls():
        return len(sap.requests) >= seen + 20
    await wait_for(more_polls, 60, "more SAP polls and stock sweeps", flow.worker)
    await flow.wait_idle(60)
    assert len(await flow.commands("holded")) == settled  # no ping-pong
    stock_writes = [r for r in holded.requests if r.method == "PUT" and r.path.endswith(writes)]
    assert len(stock_writes) == 2  # +120, then -5: each level once, nothing re-sent
    assert len(await holded.all("products", sku="A0001")) == 1


async def test_payments_on_account_cross_between_sap_and_holded_once(own_flow, sandboxes):
    """A customer's advance entered in SAP (an incoming payment applied to no invoice) reaches
    Holded as a payment of the contact (no document), and one booked in Holded reaches SAP
    as an incoming payment of the partner applied to nothing; each once, and each side's
    read-back of the other's write is the engine's echo: more polls send no command."""
    holded, sap, sap_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, sap_settings)

    async def customer_in_holded():
        return {c.get("customId"): c for c in await holded.all("contacts")}.get(
            "contact/sap_b1/C0001")
    contact = await wait_for(customer_in_holded, 120, "partner C0001 in Holded", flow.worker)
    advance = await sap.create("IncomingPayments", {
        "CardCode": "C0001", "TransferSum": Decimal("120"), "TransferAccount": "57200000",
        "TransferReference": "ANTICIPO-12"})
    marker = f"hs:payment/sap_b1/{advance['DocEntry']}"

    async def in_holded():
        return [p for p in await holded.all("payments") if marker in str(p.get("desc")).split()]
    [paid] = await wait_for(in_holded, 120, "the SAP advance in Holded", flow.worker)
    assert (paid["contactId"], paid["bankId"], paid["amount"]) == (
        contact["id"], "64a1f0c2e4b0a10000000b01", 120.0)  # TRANSF -> transferencia -> banco
    assert not paid.get("documentId")

    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        made = await http.post("/invoicing/v1/payments", json={
            "contactId": contact["id"], "bankId": "64a1f0c2e4b0a10000000b01", "amount": 250.0,
            "date": int(time.time()), "desc": "anticipo pedido 13"})
        assert made.status_code in (200, 201), made.text
    holded_key = f"payment/holded/{made.json()['id']}"

    async def in_sap():
        return await sap.find("IncomingPayments", Remarks=holded_key) or None
    [receipt] = await wait_for(in_sap, 120, "the Holded advance in SAP", flow.worker)
    assert receipt["CardCode"] == "C0001" and receipt["PaymentInvoices"] == []
    assert Decimal(str(receipt["TransferSum"])) == Decimal("250")

    await flow.wait_idle(60)
    settled = len(await flow.commands("sap_b1")) + len(await flow.commands("holded"))
    receipts = len(await sap.all("IncomingPayments"))
    seen = len(sap.requests)
    listed = sum(1 for r in holded.requests if r.method == "GET" and r.path.endswith("/payments"))

    async def more_polls():
        now_listed = sum(1 for r in holded.requests
                         if r.method == "GET" and r.path.endswith("/payments"))
        return len(sap.requests) >= seen + 10 and now_listed >= listed + 2
    await wait_for(more_polls, 60, "more polls of SAP and Holded", flow.worker)
    await flow.wait_idle(60)
    assert len(await flow.commands("sap_b1")) + len(await flow.commands("holded")) == settled
    assert len(await sap.all("IncomingPayments")) == receipts  # nothing came back to SAP
    assert len(await in_holded()) == 1
    on_account = [p for p in await holded.all("payments")
                  if p.get("contactId") == contact["id"] and not p.get("documentId")]
    assert len(on_account) == 2  # the SAP advance, and the Holded one not sent back to it
