"""Payments on account (no invoice) written to Odoo: a posted ``account.payment`` of the
customer, reconciled with nothing, lowering the partner's receivable balance, exactly once."""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from connectors.base.contracts import DependencyPending, MemoryLedger
from connectors.base.errors import RetryableError
from connectors.odoo.sandbox import OdooSandbox
from connectors.odoo.sink import OdooSink
from tests.connectors.odoo.support import MAPPING, command, contact_payload, make_client, payment_payload

KEY = "payment/holded/adv-1"


def on_account(contact_key: str, amount: str = "300.00"):
    return {**payment_payload(0, amount), "invoice_key": None, "contact_key": contact_key,
            "description": "anticipo"}


async def balance(sb: OdooSandbox, partner_id: int) -> Decimal:
    [partner] = await sb.search_read("res.partner", [("id", "=", partner_id)], ["credit"])
    return Decimal(str(partner["credit"]))


async def test_a_payment_on_account_is_a_posted_unreconciled_payment_of_the_customer(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    before = await balance(sb, 1)
    cmd = command("payment", KEY, on_account("contact/odoo/1"))
    done = (await sink.execute(cmd)).result
    assert done["status"] == "succeeded"
    [pay] = await sb.search_read("account.payment", [("ref", "=", KEY)], [
        "state", "partner_id", "amount", "date", "payment_type", "partner_type",
        "reconciled_invoice_ids", "journal_id"])
    assert (pay["state"], pay["partner_id"][0], pay["amount"], pay["date"]) == (
        "posted", 1, 300.0, "2026-03-01")
    assert (pay["payment_type"], pay["partner_type"], pay["reconciled_invoice_ids"]) == (
        "inbound", "customer", [])
    assert pay["journal_id"][0] == 3  # the mapping's "banco" treasury
    assert await balance(sb, 1) == before - Decimal("300.00")
    [invoice] = await sb.search_read("account.move", [("id", "=", 1)], ["payment_state"])
    assert invoice["payment_state"] == "not_paid"  # applied to nothing
    assert (await sink.execute(cmd)).result["status"] == "already_done"
    # the result was lost before the engine linked it: found by its ref, not written twice
    again = command("payment", KEY, on_account("contact/odoo/1"), command_id="cmd-again")
    assert (await sink.execute(again)).result["status"] == "succeeded"
    assert await sb.count("account.payment", [("ref", "=", KEY)]) == 1
    assert await balance(sb, 1) == before - Decimal("300.00")


@pytest.mark.parametrize("lost", [1, 2], ids=["create-answer-lost", "post-answer-lost"])
async def test_a_lost_answer_is_found_again_and_the_payment_is_posted_once(
        sb: OdooSandbox, http: httpx.AsyncClient, lost: int) -> None:
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    before = await balance(sb, 2)
    cmd = command("payment", KEY, on_account("contact/odoo/2", "80.00"))
    if lost == 2:  # the create answers; the post commits and its answer is lost
        original = sink.client.call

        async def post_then_drop(model, method, *args, **kwargs):
            result = await original(model, method, *args, **kwargs)
            if method == "action_post":
                raise RetryableError("connection dropped after the post committed")
            return result
        sink.client.call = post_then_drop  # type: ignore[method-assign]
    else:
        sb.faults.lose_next_writes = 1  # the create commits, its answer is lost
    with pytest.raises(RetryableError):
        await sink.execute(cmd)
    if lost == 2:
        del sink.client.call
    retried = (await sink.execute(cmd)).result
    assert retried["status"] == "succeeded", retried
    [pay] = await sb.search_read("account.payment", [("ref", "=", KEY)], ["state", "name"])
    assert pay["state"] == "posted" and pay["name"]
    assert await balance(sb, 2) == before - Decimal("80.00")


async def test_a_customer_not_in_odoo_yet_is_a_pending_dependency(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    cmd = command("payment", KEY, on_account("contact/holded/c-55"))
    with pytest.raises(DependencyPending) as waiting:
        await sink.execute(cmd)
    assert waiting.value.keys == ("contact/holded/c-55",)
    assert await sb.count("account.payment", [("ref", "=", KEY)]) == 0
    # once the contact sink created the partner (ref = its key), the payment goes to it
    created = (await sink.execute(command("contact", "contact/holded/c-55",
                                          contact_payload()))).result
    assert (await sink.execute(cmd)).result["status"] == "succeeded"
    [pay] = await sb.search_read("account.payment", [("ref", "=", KEY)], ["partner_id"])
    assert pay["partner_id"][0] == int(created["target_id"])


async def test_a_payment_on_account_then_named_on_an_invoice_is_parked_for_reconciling(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sink = OdooSink(make_client(sb, http), MAPPING, MemoryLedger())
    written = (await sink.execute(command("payment", KEY, on_account("contact/odoo/1")))).result
    applied = command("payment", KEY, {**on_account("contact/odoo/1"), "invoice_key": "invoice/odoo/1"},
                      vector={"holded": 2}, target_id=written["target_id"])
    parked = (await sink.execute(applied)).result
    assert parked["status"] == "parked" and "on account there, not applied to invoice/odoo/1" \
        in parked["reason"]


async def test_odoo_refuses_a_negative_payment_and_a_journal_that_is_no_bank(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    client = make_client(sb, http)
    from connectors.base.errors import SkipRecord
    base = {"payment_type": "inbound", "partner_type": "customer", "partner_id": 1,
            "date": "2026-03-01"}
    with pytest.raises(SkipRecord, match="cannot be negative"):
        await client.create("account.payment", {**base, "amount": -5.0})
    with pytest.raises(SkipRecord, match="bank or cash journal"):
        await client.create("account.payment", {**base, "amount": 5.0, "journal_id": 1})
    zero = await client.create("account.payment", {**base, "amount": 0.0})
    with pytest.raises(SkipRecord, match="strictly positive"):
        await client.call("account.payment", "action_post", [zero])
