"""Odoo <-> Kafka <-> Holded end to end: the Odoo sandbox's posted invoices reach Holded once,
with their taxes and totals; a payment registered in Holded reconciles the Odoo invoice; a tax
ID changed in Holded reaches the Odoo partner; and then everything stays quiet (no ping-pong).
Stock on hand in Odoo's warehouse reaches the Holded warehouse the mapping names, a stock move
(which leaves the product's write_date alone) follows, and each level is written once.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from app.devrun.sandboxes import start_erp_sandbox
from app.live_mapping import publish_mapping
from app.operator_cli import read_parked, redrive_parked
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mapping-es.yaml"
CENTRAL = "64a1f0c2e4b0a10000000e01"  # Holded's seeded warehouse: canonical "central"
WH_STOCK = 8                          # Odoo's WH/Stock location (warehouse 1: "central")


@pytest.fixture
async def sandboxes():
    holded = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    odoo, settings = await start_erp_sandbox("odoo")
    yield holded, odoo, settings
    await odoo.stop()
    await holded.stop()


async def start_with_mapping(own_flow, holded, odoo_settings):
    """A worker for Holded and the Odoo sandbox, polling every second, with the example
    mapping published."""
    flow = await own_flow(
        holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key", requests_per_second=20),
        poll_interval_s=1.0, **odoo_settings)
    await publish_mapping(flow.settings, MAPPING)
    return flow


async def odoo_contact_1(holded) -> dict | None:
    """The Holded contact of Odoo's partner 1, if the worker has written it."""
    contacts = {c.get("customId"): c for c in await holded.all("contacts")}
    return contacts.get("contact/odoo/1")


async def odoo_customer_in_holded(holded, flow) -> dict:
    return await wait_for(lambda: odoo_contact_1(holded), 120, "contact 1 in Holded", flow.worker)


async def holded_docs(holded) -> dict[str, dict]:
    return {f["value"]: d for d in await holded.all("documents") for f in d.get("customFields", [])
            if f.get("field") == "holded_sync_key"}


async def test_odoo_invoices_reach_holded_and_holded_payments_reach_odoo(own_flow, sandboxes):
    holded, odoo, odoo_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, odoo_settings)
    moves = await odoo.search_read("account.move", [["move_type", "=", "out_invoice"]],
                                   ["id", "amount_total", "amount_residual"])
    assert len(moves) == 2

    async def both_in_holded():
        docs = await holded_docs(holded)
        return docs if all(f"invoice/odoo/{m['id']}" in docs for m in moves) else None
    docs = await wait_for(both_in_holded, 180, "the Odoo invoices in Holded", flow.worker)
    for move in moves:
        doc = docs[f"invoice/odoo/{move['id']}"]
        assert Decimal(str(doc["total"])) == Decimal(str(move["amount_total"]))
    assert len(await holded.all("documents")) == 2  # once each

    # A payment registered in Holded reconciles the Odoo invoice.
    first = moves[0]
    holded_id = docs[f"invoice/odoo/{first['id']}"]["id"]
    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        paid = await http.post(f"/invoicing/v1/documents/invoice/{holded_id}/pay",
                               json={"date": int(time.time()), "amount": first["amount_total"]})
        assert paid.status_code in (200, 201), paid.text

    async def reconciled():
        [move] = await odoo.search_read("account.move", [["id", "=", first["id"]]],
                                        ["payment_state", "amount_residual"])
        return move if move["payment_state"] in ("paid", "in_payment") else None
    move = await wait_for(reconciled, 120, "the Odoo invoice to be paid", flow.worker)
    assert move["amount_residual"] == 0
    assert len(await odoo.search_read("account.payment", [], ["id"])) == 1

    # A tax ID corrected in Holded reaches the Odoo partner.
    contacts = {c.get("customId"): c for c in await holded.all("contacts")}
    holded_contact = contacts["contact/odoo/1"]
    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        put = await http.put(f"/invoicing/v1/contacts/{holded_contact['id']}", json={"code": "B99999999"})
        assert put.status_code == 200, put.text

    async def partner_updated():
        [partner] = await odoo.search_read("res.partner", [["id", "=", 1]], ["vat"])
        return partner if partner["vat"] and "B99999999" in partner["vat"] else None
    await wait_for(partner_updated, 120, "the new tax ID in Odoo", flow.worker)

    # Then quiet: more polls on both sides emit no further commands.
    await flow.wait_idle(60)
    settled = len(await flow.commands("odoo")) + len(await flow.commands("holded"))
    polls = len(odoo.requests)

    async def three_more_polls():
        return len(odoo.requests) >= polls + 6
    await wait_for(three_more_polls, 60, "more Odoo polls", flow.worker)
    await flow.wait_idle(60)
    assert len(await flow.commands("odoo")) + len(await flow.commands("holded")) == settled


async def test_a_concurrent_edit_in_odoo_and_holded_is_a_conflict_and_both_converge(own_flow, sandboxes):
    holded, odoo, odoo_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, odoo_settings)

    async def linked():
        return (await flow.table("links")).get("contact/odoo/2", {}).get("ids", {}).get("holded")
    holded_id = await wait_for(linked, 120, "contact 2 in Holded", flow.worker)
    await flow.wait_idle(60)
    # Both systems change the same customer's email before either sees the other's change.
    # The sinks' writes are held at the sandboxes' gates until the engine has seen both edits:
    # otherwise, on a loaded machine, one sink could write its side's email over the other
    # edit before that edit was polled, and there would be nothing concurrent left to see.
    odoo.faults.writes.close()
    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        put = await http.put(f"/invoicing/v1/contacts/{holded_id}", json={"email": "desde-holded@example.es"})
        assert put.status_code == 200, put.text
    holded.faults.writes.close()
    await odoo.call("res.partner", "write", [2], {"email": "desde-odoo@example.es"})

    async def conflict():
        return [c for c in await flow.conflicts("contact/odoo/2") if c["field"] == "email"] or None
    try:  # a held write times out in the worker after 30 s: open the gates well before
        [c] = await wait_for(conflict, 25, "the conflict record", flow.worker)
    finally:
        odoo.faults.writes.open()
        holded.faults.writes.open()
    assert {c["canonical_value"], c["incoming_value"]} == {'"desde-odoo@example.es"', '"desde-holded@example.es"'}
    assert c["policy"] in ("last_writer_wins", "tie_break")  # docs/architecture.md: no owner for email
    winner = json.loads(c["incoming_value"] if c["decision"] == "took_incoming" else c["canonical_value"])

    async def converged():
        [partner] = await odoo.search_read("res.partner", [["id", "=", 2]], ["email"])
        contact = next(x for x in await holded.all("contacts") if x["id"] == holded_id)
        state = (await flow.table("entities"))["contact/odoo/2"]["record"]
        return partner["email"] == contact["email"] == state["email"] == winner
    await wait_for(converged, 120, "both systems to hold the winning email", flow.worker)
    # A write Odoo's guard held back is not left parked (nothing newer would clear it when
    # Odoo's value won): the merge decided again instead.
    await flow.wait_idle(60)
    assert await read_parked(flow.settings, ["odoo"]) == []


async def test_an_odoo_payment_of_an_invoice_that_is_a_draft_in_holded_is_parked_not_paid(
        own_flow, sandboxes):
    """Odoo's invoices reach Holded as drafts (the default), and Holded's /pay approves a draft
    with Holded's own number, for good (UNVERIFIED, [MCP-NUB]; the sandbox models it). So a
    payment registered in Odoo is parked for review in Holded's ledger with what to do, and
    nothing is paid; once the accountant approves the draft in Holded, `parked redrive`
    registers it, once."""
    holded, odoo, odoo_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, odoo_settings)
    [first, *_] = await odoo.search_read("account.move", [["move_type", "=", "out_invoice"]], ["id"])
    key = f"invoice/odoo/{first['id']}"

    async def in_holded():
        return (await holded_docs(holded)).get(key)
    doc = await wait_for(in_holded, 180, "the Odoo invoice in Holded", flow.worker)
    assert (doc["draft"], doc["docNumber"]) == (True, None)
    wizard = await odoo.call("account.payment.register", "create", [{"amount": 100.0}],
                             context={"active_model": "account.move", "active_ids": [first["id"]]})
    action = await odoo.call("account.payment.register", "action_create_payments", wizard)
    payment_key = f"payment/odoo/{action['res_id']}"

    async def parked():
        rows = [r for r in await read_parked(flow.settings, ["holded"])
                if r["entity_key"] == payment_key and r["reason"]]
        return rows or None
    [row] = await wait_for(parked, 120, "the payment parked in Holded's ledger", flow.worker)
    assert row["kind"] == "review"
    assert row["reason"].startswith(f"{key} (Holded document {doc['id']}, ")
    assert "is a draft in Holded: paying it would approve it with Holded's next number" in row["reason"]
    assert "holded-sync parked redrive --system holded" in row["reason"]
    assert not [r for r in holded.requests if r.method == "POST" and r.path.endswith("/pay")]
    assert await holded.count("payments") == 0
    stored = await holded.get("documents", doc["id"])
    assert stored is not None and (stored["draft"], stored["docNumber"]) == (True, None)

    # The accountant approves the draft in Holded, then re-drives: the payment is registered.
    approved = await holded.approve(doc["id"])
    assert [r["command_id"] for r in await redrive_parked(flow.settings, ["holded"])
            if r["entity_key"] == payment_key] == [row["command_id"]]
    marker = f"hs:{payment_key}"

    async def paid():
        return [p for p in await holded.all("payments") if marker in str(p.get("desc")).split()] or None
    [payment] = await wait_for(paid, 120, "the payment in Holded", flow.worker)
    assert (payment["documentId"], payment["amount"]) == (doc["id"], 100.0)
    await flow.wait_idle(60)
    assert await holded.count("payments") == 1  # once
    stored = await holded.get("documents", doc["id"])
    assert stored is not None and stored["docNumber"] == approved["docNumber"]
    assert stored["paymentsTotal"] == 100.0
    assert [r for r in await read_parked(flow.settings, ["holded"]) if r["entity_key"] == payment_key] == []


async def test_an_iban_edited_on_an_odoo_bank_account_reaches_holded(own_flow, sandboxes):
    """The IBAN changed from Odoo's Bank Accounts menu: only the res.partner.bank record
    moves, not the partner. The source's bank walk re-reads the partner all the same."""
    holded, odoo, odoo_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, odoo_settings)
    contact = await odoo_customer_in_holded(holded, flow)
    assert contact["iban"] == "ES9121000418450200051332"
    await flow.wait_idle(60)

    async def partner_out_of_the_overlap():  # else the partner walk would re-read it anyway
        [partner] = await odoo.search_read("res.partner", [["id", "=", 1]], ["write_date"])
        stamp = dt.datetime.fromisoformat(partner["write_date"]).replace(tzinfo=dt.UTC)
        return partner["write_date"] if stamp < dt.datetime.now(dt.UTC) - dt.timedelta(seconds=8) \
            else None
    written = await wait_for(partner_out_of_the_overlap, 30, "an older partner", flow.worker)
    [bank] = await odoo.call("res.partner.bank", "search", [("partner_id", "=", 1)])
    await odoo.call("res.partner.bank", "write", [bank], {"acc_number": "ES79 2100 0813 6101 2345 6789"})

    async def new_iban():
        found = await odoo_contact_1(holded)
        return found if found and found["iban"] == "ES7921000813610123456789" else None
    await wait_for(new_iban, 120, "the new IBAN in Holded", flow.worker)
    [partner] = await odoo.search_read("res.partner", [["id", "=", 1]], ["write_date"])
    assert partner["write_date"] == written  # the partner record itself never moved


async def test_an_odoo_stock_level_and_a_stock_move_reach_holded_once(own_flow, sandboxes):
    holded, odoo, odoo_settings = sandboxes
    quant = await odoo.orm.insert_raw("stock.quant", {"product_id": 1, "location_id": WH_STOCK,
                                                      "quantity": 12.0})
    flow = await start_with_mapping(own_flow, holded, odoo_settings)

    def level_is(units: int):
        async def check():
            found = await holded.all("products", sku="ACE-5L")
            held = found[0].get("stockByWarehouse", {}).get(CENTRAL) if found else None
            return held if held == units else None
        return check
    await wait_for(level_is(12), 180, "12 units of ACE-5L in Holded's central warehouse", flow.worker)

    # A delivery of 5 in Odoo: only the quant moves.
    await odoo.orm.write_one("stock.quant", quant, {"quantity": 7.0}, internal=True)
    await wait_for(level_is(7), 120, "7 units of ACE-5L in Holded", flow.worker)
    await flow.wait_idle(60)
    stock_writes = [r for r in holded.requests if r.method == "PUT" and r.path.endswith("/stock")]
    assert len(stock_writes) == 2  # +12, then -5: each level once, nothing re-sent
    assert len(await holded.all("products", sku="ACE-5L")) == 1


async def test_a_holded_payment_on_account_lowers_the_odoo_customers_balance_once(
        own_flow, sandboxes):
    """A customer's advance booked in Holded to the customer and to no invoice (POST /payments
    with a contactId) reaches Odoo as a posted payment of that partner reconciled with nothing,
    once, and no invoice moves."""
    holded, odoo, odoo_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, odoo_settings)
    contact = await odoo_customer_in_holded(holded, flow)
    [partner] = await odoo.search_read("res.partner", [["id", "=", 1]], ["credit"])
    before = Decimal(str(partner["credit"]))
    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        made = await http.post("/invoicing/v1/payments", json={
            "contactId": contact["id"], "bankId": "64a1f0c2e4b0a10000000b01", "amount": 250.0,
            "date": int(time.time()), "desc": "anticipo pedido 12"})
        assert made.status_code in (200, 201), made.text

    async def on_account():
        rows = await odoo.search_read("account.payment", [["partner_id", "=", 1]], [
            "state", "amount", "reconciled_invoice_ids", "ref"])
        return rows if rows and all(r["state"] == "posted" for r in rows) else None  # not mid-write
    [payment] = await wait_for(on_account, 120, "the payment on account in Odoo", flow.worker)
    assert (payment["state"], payment["amount"], payment["reconciled_invoice_ids"]) == (
        "posted", 250.0, [])
    assert payment["ref"].startswith("payment/holded/")
    [partner] = await odoo.search_read("res.partner", [["id", "=", 1]], ["credit"])
    assert Decimal(str(partner["credit"])) == before - Decimal("250.00")
    moves = await odoo.search_read("account.move", [["move_type", "=", "out_invoice"]],
                                   ["payment_state"])
    assert {m["payment_state"] for m in moves} == {"not_paid"}

    await flow.wait_idle(60)
    polls = len(odoo.requests)

    async def more_polls():
        return len(odoo.requests) >= polls + 6
    await wait_for(more_polls, 60, "more Odoo polls", flow.worker)
    await flow.wait_idle(60)
    assert len(await odoo.search_read("account.payment", [], ["id"])) == 1  # written once


async def test_an_odoo_payment_on_account_reaches_holded_once(own_flow, sandboxes):
    """A customer's advance entered in Odoo (a posted customer payment reconciled with no
    invoice) reaches Holded as a payment of the customer's contact (POST /payments, no
    document), once; Holded's read-back is the engine's echo: nothing goes back to Odoo and
    more polls on both sides send no further command."""
    holded, odoo, odoo_settings = sandboxes
    flow = await start_with_mapping(own_flow, holded, odoo_settings)
    contact = await odoo_customer_in_holded(holded, flow)
    today = dt.date.today().isoformat()
    advance = await odoo.call("account.payment", "create", {
        "payment_type": "inbound", "partner_type": "customer", "partner_id": 1,
        "amount": 120.0, "date": today, "journal_id": 3, "ref": "Anticipo pedido 12"})
    await odoo.call("account.payment", "action_post", [advance])
    marker = f"hs:payment/odoo/{advance}"

    async def in_holded():
        return [p for p in await holded.all("payments") if marker in str(p.get("desc")).split()]
    [paid] = await wait_for(in_holded, 120, "the payment on account in Holded", flow.worker)
    assert (paid["contactId"], paid["bankId"], paid["amount"]) == (
        contact["id"], "64a1f0c2e4b0a10000000b01", 120.0)  # "banco": journal BNK1
    assert not paid.get("documentId") and paid["desc"] == f"Anticipo pedido 12 {marker}"

    await flow.wait_idle(60)
    settled = len(await flow.commands("odoo")) + len(await flow.commands("holded"))
    odoo_polls = len(odoo.requests)
    holded_polls = sum(1 for r in holded.requests if r.method == "GET"
                       and r.path.endswith("/payments"))

    async def more_polls():
        listed = sum(1 for r in holded.requests if r.method == "GET"
                     and r.path.endswith("/payments"))
        return len(odoo.requests) >= odoo_polls + 6 and listed >= holded_polls + 2
    await wait_for(more_polls, 60, "more polls of Odoo and Holded", flow.worker)
    await flow.wait_idle(60)
    assert len(await flow.commands("odoo")) + len(await flow.commands("holded")) == settled
    assert len(await in_holded()) == 1  # written once
    assert len(await odoo.search_read("account.payment", [], ["id"])) == 1  # nothing came back
