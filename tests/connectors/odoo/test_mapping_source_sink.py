"""Unit-level tests of the Odoo mapping, source and sink against the in-process sandbox."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from app.mapping.errors import Unmappable
from connectors.base.contracts import MemoryLedger
from connectors.base.errors import SkipRecord
from connectors.odoo.mapping import Catalog, invoice_from_odoo, partner_vals
from connectors.odoo.sandbox import OdooSandbox
from connectors.odoo.sink import OdooSink
from connectors.odoo.poll_state import OdooPollState
from connectors.odoo.source import OdooSource
from connectors.odoo.webhook_refs import parse_webhook
from tests.connectors.odoo.support import (
    MAPPING, command, contact_payload, make_client, now, payment_payload,
)


async def test_invoice_with_irpf_maps_to_canonical_withholding(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    state, events = await OdooSource(make_client(sb, http), MAPPING).poll(None, now())
    invoice = next(e for e in events if e["entity_key"] == "invoice/odoo/2")
    payload = invoice["payload"]
    assert payload["lines"][0]["taxes"] == ["iva_21"] and payload["lines"][0]["withholding"] == "irpf_15"
    assert payload["totals"] == {"subtotal": Decimal("750.00"), "tax_total": Decimal("157.50"),
                                 "withholding_total": Decimal("112.50"), "total": Decimal("795.00")}
    assert payload["series"] == "F" and payload["number"] == "INV/2026/00002"
    assert payload["lines"][0]["account"] == "705" and payload["customer_key"] == "contact/odoo/2"
    assert invoice["lane"] == "bulk" and invoice["source_ts"].tzinfo is not None
    contact = next(e for e in events if e["entity_key"] == "contact/odoo/1")["payload"]
    assert contact["iban"] == "ES9121000418450200051332" and contact["payment_due_days"] == 30
    product = next(e for e in events if e["entity_key"] == "product/odoo/2")["payload"]
    assert product["sales_taxes"] == ["iva_21", "irpf_15"] and product["sales_account"] == "705"
    assert OdooPollState.from_json(state.to_json()) == state


async def test_a_change_after_a_run_is_polled_once(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    source = OdooSource(make_client(sb, http), MAPPING, page_size=2)
    state, _ = await source.poll(None, now())
    await sb.call("res.partner", "write", [2], {"phone": "+34 600 000 000"})
    state, events = await source.poll(state, now())
    assert [e["entity_key"] for e in events] == ["contact/odoo/2"]
    assert events[0]["lane"] == "realtime"
    _, again = await source.poll(state, now())
    assert again == []


async def test_many_records_in_one_second_are_all_read(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    await sb.call("res.partner", "create", [{"name": f"P{i}", "customer_rank": 1} for i in range(11)])
    _, events = await OdooSource(make_client(sb, http), MAPPING, page_size=3,
                                 entities=("contact",)).poll(None, now())
    assert len({e["entity_key"] for e in events}) == len(events) == 13


async def test_webhook_body_names_ids_to_refetch(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    refs = parse_webhook(b'{"_action": "Sync(#12)", "_model": "account.move", "_id": 1, "id": 1, "name": "x"}')
    assert refs[0].entity == "invoice" and refs[0].ids == (1,)
    events = await OdooSource(make_client(sb, http), MAPPING).fetch(refs)
    assert [e["entity_key"] for e in events] == ["contact/odoo/1", "invoice/odoo/1"]  # + its customer
    with pytest.raises(SkipRecord):
        parse_webhook(b'{"name": "no id"}')


def test_a_foreign_currency_invoice_carries_the_rate_odoo_booked() -> None:
    # 1,087.00 USD booked as 1,000.00 EUR: the canonical rate (Holded's currencyChange) is
    # 1.087 USD per EUR. It used to be dropped, so Holded valued the invoice at another rate.
    catalog = Catalog(tax_rates={1: Decimal(21)}, currency_names={1: "EUR", 2: "USD"})
    move = {"move_type": "out_invoice", "state": "posted", "name": "INV/2026/00009",
            "partner_id": [2, "X"], "currency_id": [2, "USD"], "invoice_date": "2026-11-02",
            "amount_untaxed": 898.35, "amount_tax": 188.65, "amount_total": 1087.0,
            "amount_total_signed": 1000.0, "amount_residual": 1087.0, "payment_state": "not_paid"}
    lines = [{"display_type": "product", "name": "Servicio", "quantity": 1.0,
              "price_unit": 898.35, "discount": 0.0, "tax_ids": [1]}]
    invoice = invoice_from_odoo(move, lines, catalog, MAPPING)
    assert invoice["currency"] == "USD" and invoice["exchange_rate"] == Decimal("1.087")
    refund = invoice_from_odoo({**move, "move_type": "out_refund", "amount_total_signed": -1000.0},
                               lines, catalog, MAPPING)
    assert refund["exchange_rate"] == Decimal("1.087")
    euro = invoice_from_odoo({**move, "currency_id": [1, "EUR"]}, lines, catalog, MAPPING)
    assert euro["exchange_rate"] is None
    with pytest.raises(Unmappable, match="exchange rate is unknown"):
        invoice_from_odoo({k: v for k, v in move.items() if k != "amount_total_signed"}, lines,
                          catalog, MAPPING)


def test_partner_vals_need_a_payment_term_of_exactly_those_days() -> None:
    catalog = Catalog(term_days={1: 0, 3: 30}, country_codes={68: "ES"})
    assert partner_vals(contact_payload(), catalog, MAPPING)["property_payment_term_id"] == 3
    with pytest.raises(Unmappable, match="exactly 20 days"):
        partner_vals(contact_payload(payment_due_days=20), catalog, MAPPING)


async def test_payment_pays_the_invoice_and_the_ledger_short_circuits(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    cmd = command("payment", "payment/holded/full", payment_payload(2, "795.00"))
    outcome = await sink.execute(cmd)
    assert outcome.result["status"] == "succeeded"
    [move] = await sb.search_read("account.move", [("id", "=", 2)], ["payment_state", "amount_residual"])
    assert move["payment_state"] == "paid" and move["amount_residual"] == 0
    assert (await sink.execute(cmd)).result["status"] == "already_done"
    again = command("payment", "payment/holded/extra", payment_payload(2, "5.00"))
    parked = (await sink.execute(again)).result
    assert parked["status"] == "parked" and "nothing left to pay" in parked["reason"]


async def test_contact_changed_in_odoo_since_the_base_is_not_overwritten(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    first = await sink.execute(command("contact", "contact/holded/c-9", contact_payload()))
    partner_id = int(first.result["target_id"])
    sink.ledger.stamps[str(partner_id)] = 946_684_800_000  # 2000-01-01: Odoo changed since
    outcome = await sink.execute(command("contact", "contact/holded/c-9", contact_payload(email="new@norte.example")))
    assert outcome.result["status"] == "parked" and "not overwritten" in outcome.result["reason"]
    assert outcome.conflicts == []  # the merge records the conflict once it reads the change
    [partner] = await sb.search_read("res.partner", [("id", "=", partner_id)], ["email"])
    assert partner["email"] == "compras@norte.example"


async def test_the_base_outlives_the_sink_and_an_unseen_odoo_change_is_not_overwritten(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    # The worker builds a sink per command: the base must live in the entity's ledger.
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    sb.orm.clock = lambda: start
    ledger = MemoryLedger()

    def sink() -> OdooSink:
        return OdooSink(make_client(sb, http), MAPPING, ledger)
    key = "contact/holded/c-7"
    created = await sink().execute(command("contact", key, contact_payload()))
    partner_id = int(created.result["target_id"])
    sb.orm.clock = lambda: start + dt.timedelta(seconds=10)
    await sb.call("res.partner", "write", [partner_id], {"email": "user@norte.example"})

    unseen = await sink().execute(command("contact", key, contact_payload(email="a@norte.example")))
    assert unseen.result["status"] == "parked" and "not overwritten" in unseen.result["reason"]
    assert not unseen.redrive  # the engine decides again once it reads the change
    [partner] = await sb.search_read("res.partner", [("id", "=", partner_id)], ["email"])
    assert partner["email"] == "user@norte.example"

    # Once the engine has seen Odoo's change (base_ts), its decision is written.
    seen_ms = int((start + dt.timedelta(seconds=10)).timestamp() * 1000)
    decided = await sink().execute(command("contact", key, contact_payload(email="b@norte.example"),
                                           base_ts=seen_ms))
    assert decided.result["status"] == "succeeded"
    # Our own write is no conflict for the next command, even one built before its echo.
    sb.orm.clock = lambda: start + dt.timedelta(seconds=20)
    after_ours = await sink().execute(command("contact", key, contact_payload(email="c@norte.example")))
    assert after_ours.result["status"] == "succeeded"
    [partner] = await sb.search_read("res.partner", [("id", "=", partner_id)], ["email"])
    assert partner["email"] == "c@norte.example"


async def test_a_payment_changed_after_it_was_registered_is_parked_not_done(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    """The amount of a Holded payment edited after the sink registered it in Odoo: Odoo still
    counts the old amount, so the sink must not answer already_done (the engine would then
    believe Odoo holds the new one)."""
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    first = command("payment", "payment/holded/edited", payment_payload(2, "300.00"))
    written = (await sink.execute(first)).result
    assert written["status"] == "succeeded"
    same = command("payment", "payment/holded/edited", payment_payload(2, "300.00"),
                   command_id="cmd-same", vector={"holded": 2}, target_id=written["target_id"])
    assert (await sink.execute(same)).result["status"] == "already_done"
    edited = command("payment", "payment/holded/edited", payment_payload(2, "250.00"),
                     vector={"holded": 3}, target_id=written["target_id"])
    parked = (await sink.execute(edited)).result
    assert parked["status"] == "parked" and parked["target_id"] == written["target_id"]
    assert "amount 300.00 there, 250.00 now" in parked["reason"]
    # a lost result: no link yet, the payment is found by its ref and compared all the same
    unlinked = command("payment", "payment/holded/edited", payment_payload(2, "250.00"),
                       command_id="cmd-unlinked", vector={"holded": 3})
    assert (await sink.execute(unlinked)).result["status"] == "parked"
    assert await sb.count("account.payment", [("ref", "=", "payment/holded/edited")]) == 1
    [move] = await sb.search_read("account.move", [("id", "=", 2)], ["amount_residual"])
    assert move["amount_residual"] == 495.0  # nothing written twice, nothing changed


async def test_a_payment_deleted_after_it_was_registered_is_parked(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    written = (await sink.execute(command("payment", "payment/holded/gone",
                                          payment_payload(2, "100.00")))).result
    deleted = {**command("payment", "payment/holded/gone", payment_payload(2, "100.00"),
                         command_id="cmd-del", vector={"holded": 2},
                         target_id=written["target_id"]), "op": "delete", "payload": None}
    parked = (await sink.execute(deleted)).result
    assert parked["status"] == "parked" and "deleted" in parked["reason"]
    never = {**command("payment", "payment/holded/never", payment_payload(2, "1.00")),
             "op": "delete", "payload": None}
    assert (await sink.execute(never)).result["status"] == "succeeded"
    assert await sb.count("account.payment", [("ref", "=", "payment/holded/never")]) == 0


async def test_a_partner_the_sink_created_is_reported_under_its_entity_key(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    # Under contact/odoo/<id> it would be a second entity: a duplicate contact in Holded, and
    # the NIF, IBAN or payment terms changed in Odoo would never reach the Holded contact.
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    created = await sink.execute(command("contact", "contact/holded/c-12", contact_payload()))
    partner_id = int(created.result["target_id"])
    source = OdooSource(make_client(sb, http), MAPPING)
    _, events = await source.poll(None, now())
    keys = {e["entity_key"] for e in events}
    assert "contact/holded/c-12" in keys and f"contact/odoo/{partner_id}" not in keys
    [ref] = parse_webhook({"_model": "res.partner", "_id": partner_id})
    [fetched] = await source.fetch([ref])
    assert fetched["entity_key"] == "contact/holded/c-12"


async def test_an_iban_cleared_elsewhere_is_removed_from_the_partner(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    # Left in place, the poller reads it back, the engine takes it for an Odoo edit and
    # the IBAN removed in Holded comes back everywhere.
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    key = "contact/holded/c-11"
    created = await sink.execute(command("contact", key, contact_payload()))
    partner_id = created.result["target_id"]
    cleared = await sink.execute(command("contact", key, contact_payload(iban=None), base_ts=2**62,
                                         target_id=partner_id))
    assert cleared.result["status"] == "succeeded"
    _, events = await OdooSource(make_client(sb, http), MAPPING).poll(None, now())
    [reported] = [e["payload"] for e in events if e["entity_key"] == key]
    assert reported["iban"] is None
    again = command("contact", key, contact_payload(iban=None), base_ts=2**62, target_id=partner_id,
                    command_id="cmd-again")
    assert (await sink.execute(again)).result["status"] == "already_done"


def test_a_vat_number_and_an_iban_read_in_their_one_spelling() -> None:
    from connectors.odoo.mapping import contact_from_odoo

    partner = {"name": "Sol", "vat": "esb 12345674", "is_company": True}
    out = contact_from_odoo(partner, [{"acc_number": "es76 2077 0024 0031 0257 5766"}], Catalog())
    assert (out["tax_id"], out["iban"]) == ("ESB12345674", "ES7620770024003102575766")


def test_the_expected_echo_keeps_the_records_field_order() -> None:
    """Its field hashes are stored in the replicas: an order taken from a set would vary with
    each process's hash seed, and a replay would not rebuild the table byte for byte."""
    from connectors.odoo.mapping import HELD_FIELDS, as_reported

    record = {**contact_payload(), "address": {"street": "Calle Mayor 1", "city": "Burgos",
                                               "postal_code": "09001", "province": "Burgos",
                                               "country_code": "ES"}}
    reported = as_reported("contact", record)
    assert list(reported) == [k for k in record if k in HELD_FIELDS["contact"]]
    assert reported["address"]["province"] is None


async def test_a_command_the_ledger_holds_as_parked_runs_when_re_driven(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    """The worker's ledger records parked results too; `parked redrive` publishes the same
    command id again, and it must run, not answer already_done."""
    from connectors.base.contracts import result

    ledger = MemoryLedger()
    cmd = command("payment", "payment/holded/redriven", payment_payload(2, "795.00"))
    ledger.put(cmd["command_id"], result(cmd, "parked", 1, reason="not mappable with mapping v2"))
    assert (await OdooSink(make_client(sb, http), MAPPING, ledger).execute(cmd)
            ).result["status"] == "succeeded"
    [move] = await sb.search_read("account.move", [("id", "=", 2)], ["payment_state"])
    assert move["payment_state"] == "paid"
