"""Payments on account read from Odoo: a posted customer ``account.payment`` received and
reconciled with no invoice is a canonical payment on account of its partner."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.mapping import Unmappable
from connectors.base.contracts import MemoryLedger
from connectors.odoo.mapping import HELD_FIELDS, Catalog, payment_from_odoo
from connectors.odoo.sandbox import OdooSandbox
from connectors.odoo.sink import OdooSink
from connectors.odoo.source import OdooSource
from tests.connectors.odoo.support import MAPPING, command, make_client, now, payment_payload


async def received(sb: OdooSandbox, http: httpx.AsyncClient, *, post: bool = True,
                   **vals: Any) -> int:
    """A customer payment entered in Odoo's Payments menu, reconciled with nothing."""
    client = make_client(sb, http)
    payment_id = await client.create("account.payment", {
        "payment_type": "inbound", "partner_type": "customer", "partner_id": 1,
        "amount": 120.0, "date": "2026-03-04", "journal_id": 3, "ref": "Anticipo pedido 12",
        **vals})
    if post:
        await client.call("account.payment", "action_post", [payment_id])
    return payment_id


def payments(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["entity_key"]: e for e in events if e["entity"] == "payment"}


async def test_a_posted_customer_payment_reconciled_with_no_invoice_is_on_account(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    advance = await received(sb, http)
    draft = await received(sb, http, post=False, amount=7.0)
    refund = await received(sb, http, payment_type="outbound", amount=9.0)  # money paid out
    _, events = await OdooSource(make_client(sb, http), MAPPING).poll(None, now())
    found = payments(events)
    assert found[f"payment/odoo/{advance}"]["payload"] == {
        "invoice_key": None, "contact_key": "contact/odoo/1", "date": dt.date(2026, 3, 4),
        "amount": Decimal("120.00"), "currency": "EUR", "method": None, "treasury": "banco",
        "reference": "Anticipo pedido 12", "description": None}
    assert f"payment/odoo/{draft}" not in found and f"payment/odoo/{refund}" not in found


async def test_the_payment_on_account_the_sink_wrote_reads_back_as_written(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    """Holded -> Odoo (the sink posts the payment on account) -> the Odoo poller: the same key,
    and on the fields Odoo holds, what was written: the engine's echo, not a new payment."""
    key = "payment/holded/adv-1"
    payload = {**payment_payload(0, "300.00"), "invoice_key": None,
               "contact_key": "contact/odoo/1", "description": "anticipo"}
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    assert (await sink.execute(command("payment", key, payload))).result["status"] == "succeeded"
    _, events = await OdooSource(make_client(sb, http), MAPPING).poll(None, now())
    read_back = payments(events)[key]["payload"]
    held = sorted(HELD_FIELDS["payment"])
    assert {f: read_back[f] for f in held} == {f: payload[f] for f in held}


def odoo_payment(**changes: Any) -> dict[str, Any]:
    row = {"id": 9, "state": "posted", "payment_type": "inbound", "reconciled_invoice_ids": [],
           "partner_id": [1, "Cliente"], "amount": 50.0, "date": "2026-03-01", "journal_id": 3,
           "currency_id": [1, "EUR"], "ref": False}
    row.update(changes)
    return row


CATALOG = Catalog(journal_codes={3: "BNK1"}, currency_names={1: "EUR"})


def test_reconciled_later_with_an_invoice_it_is_that_invoices_payment() -> None:
    on_account = payment_from_odoo(odoo_payment(), CATALOG, MAPPING)
    applied = payment_from_odoo(odoo_payment(reconciled_invoice_ids=[4]), CATALOG, MAPPING)
    assert on_account is not None and on_account["invoice_key"] is None
    assert applied is not None and applied["invoice_key"] == "invoice/odoo/4"
    assert {k: v for k, v in applied.items() if k != "invoice_key"} == {
        k: v for k, v in on_account.items() if k != "invoice_key"}


def test_a_payment_on_account_without_a_partner_is_refused_with_the_reason() -> None:
    with pytest.raises(Unmappable, match="names no customer"):
        payment_from_odoo(odoo_payment(partner_id=False), CATALOG, MAPPING)
    # one reconciled with an invoice still pays it, partner or not (as before)
    assert payment_from_odoo(odoo_payment(partner_id=False, reconciled_invoice_ids=[4]),
                             CATALOG, MAPPING) is not None


async def test_the_partner_of_an_advance_is_reported_with_it_though_never_invoiced(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    """A partner never invoiced keeps customer_rank 0, so no contact walk reports it; its
    payment on account would wait for a contact that never comes. It comes with the payment,
    before it, under the key the payment names (as an invoice's partner does)."""
    client = make_client(sb, http)
    payer = await client.create("res.partner", {"name": "Comercial Nueva S.L.",
                                                "is_company": True, "vat": "ESB11223344"})
    advance = await received(sb, http, partner_id=payer)
    walked = OdooSource(make_client(sb, http), MAPPING, entities=("contact",))
    _, contacts = await walked.poll(None, now())
    assert f"contact/odoo/{payer}" not in [e["entity_key"] for e in contacts]  # rank 0

    source = OdooSource(make_client(sb, http), MAPPING)
    state, events = await source.poll(None, now())
    keys = [e["entity_key"] for e in events]
    payment = payments(events)[f"payment/odoo/{advance}"]
    assert payment["payload"]["contact_key"] == f"contact/odoo/{payer}"
    assert keys.index(f"contact/odoo/{payer}") < keys.index(f"payment/odoo/{advance}")
    [contact] = [e for e in events if e["entity_key"] == f"contact/odoo/{payer}"]
    assert contact["payload"]["name"] == "Comercial Nueva S.L."
    assert contact["payload"]["tax_id"] == "ESB11223344"
    _, again = await source.poll(state, now())
    assert again == []
