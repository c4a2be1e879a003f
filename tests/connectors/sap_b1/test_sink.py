"""The sink against the sandbox: payments applied to invoices exactly once, partner updates
under If-Match, parked instead of overwriting a change the engine has not read."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.avro import codec
from connectors.base.contracts import MemoryLedger
from connectors.base.errors import RetryableError
from connectors.sap_b1.sandbox import SapSandbox
from connectors.sap_b1.sink import SapB1Sink
from tests.connectors.sap_b1.support import (
    MAPPING, TRANSFER_ACCOUNT, command, contact_payload, make_client, payment_payload,
)

KEY = "payment/holded/64a1f0c2e4b0a1000000aa01"


def sink(sandbox: SapSandbox, http: httpx.AsyncClient, ledger: MemoryLedger | None = None,
         **kwargs: Any) -> SapB1Sink:
    kwargs.setdefault("transfer_account", TRANSFER_ACCOUNT)
    return SapB1Sink(make_client(sandbox, http), mapping=MAPPING,
                     ledger=ledger or MemoryLedger(), **kwargs)


def posts(sandbox: SapSandbox) -> list[str]:
    return [r.path for r in sandbox.requests if r.method == "POST" and not r.auth]


async def test_payment_is_applied_to_the_invoice(sandbox: SapSandbox,
                                                 http: httpx.AsyncClient) -> None:
    before = await sandbox.get("Invoices", 1)
    outcome = await sink(sandbox, http).execute(
        command("payment", KEY, payment_payload(1, str(before["DocTotal"]))))
    assert outcome.result["status"] == "succeeded", outcome.result
    payment = await sandbox.get("IncomingPayments", int(outcome.result["target_id"]))
    assert payment["Remarks"] == KEY and payment["CardCode"] == "C0001"
    assert payment["TransferAccount"] == TRANSFER_ACCOUNT
    assert payment["TransferReference"] == "TRF-0042" and payment["DocDate"] == "2026-11-20"
    invoice = await sandbox.get("Invoices", 1)
    assert Decimal(str(invoice["PaidToDate"])) == Decimal("711.59")
    assert invoice["DocumentStatus"] == "bost_Close"
    codec("CommandResult").dumps(outcome.result)


async def test_partial_payment_keeps_the_invoice_open(sandbox: SapSandbox,
                                                      http: httpx.AsyncClient) -> None:
    await sink(sandbox, http).execute(command("payment", KEY, payment_payload(1, "100.00")))
    invoice = await sandbox.get("Invoices", 1)
    assert invoice["PaidToDate"] == 100 and invoice["DocumentStatus"] == "bost_Open"


async def test_a_lost_answer_is_found_by_its_reference_not_created_again(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    ledger = MemoryLedger()
    target = sink(sandbox, http, ledger)
    cmd = command("payment", KEY, payment_payload(1, "100.00"))
    sandbox.faults.lose_next_writes = 1
    with pytest.raises(RetryableError):
        await target.execute(cmd)
    assert ledger.get(cmd["command_id"]) is None  # not done until SAP is known to hold it
    redelivered = await target.execute(cmd)
    assert redelivered.result["status"] == "succeeded"
    assert "found in SAP B1" in (redelivered.result["reason"] or "")
    assert len(posts(sandbox)) == 1
    assert len(await sandbox.find("IncomingPayments", Remarks=KEY)) == 1
    assert (await sandbox.get("Invoices", 1))["PaidToDate"] == 100


async def test_replays_use_the_ledger_then_the_links(sandbox: SapSandbox,
                                                     http: httpx.AsyncClient) -> None:
    ledger = MemoryLedger()
    cmd = command("payment", KEY, payment_payload(1, "100.00"))
    first = (await sink(sandbox, http, ledger).execute(cmd)).result
    again = (await sink(sandbox, http, ledger).execute(cmd)).result
    assert again["status"] == "already_done" and again["target_id"] == first["target_id"]
    linked = command("payment", KEY, payment_payload(1, "100.00"),
                     links={"sap_b1": first["target_id"]}, vector={"holded": 2})
    assert (await sink(sandbox, http).execute(linked)).result["status"] == "already_done"
    assert len(posts(sandbox)) == 1


async def test_custom_reference_field(sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    target = sink(sandbox, http, reference_field="JournalRemarks")
    cmd = command("payment", "payment/holded/p2", payment_payload(2, "10.00"))
    result = (await target.execute(cmd)).result
    payment = await sandbox.get("IncomingPayments", int(result["target_id"]))
    assert payment["JournalRemarks"] == "payment/holded/p2" and payment["Remarks"] is None


@pytest.mark.parametrize(("payload", "status", "reason"), [
    (payment_payload(3, "1.00"), "failed", "bost_Close"),
    (payment_payload(99, "1.00"), "failed", "does not exist"),
    ({**payment_payload(1, "1.00"), "invoice_key": "not-a-key"}, "failed", "invoice_key"),
    ({**payment_payload(1, "1.00"), "invoice_key": "invoice/sap_b1/CN-1"}, "failed",
     "a credit note"),
    ({**payment_payload(1, "1.00"), "invoice_key": "invoice/holded/abc"}, "parked",
     "not born in SAP B1"),
    (payment_payload(1, "1.00", currency="USD"), "parked", "USD"),
])
async def test_payments_sap_cannot_take(sandbox: SapSandbox, http: httpx.AsyncClient,
                                        payload: dict[str, Any], status: str,
                                        reason: str) -> None:
    result = (await sink(sandbox, http).execute(command("payment", KEY, payload))).result
    assert result["status"] == status and reason in result["reason"], result
    assert posts(sandbox) == []


async def balance(sandbox: SapSandbox, card_code: str = "C0001") -> Decimal:
    return Decimal(str((await sandbox.get("BusinessPartners", card_code))["CurrentAccountBalance"]))


@pytest.mark.parametrize(("paid_before", "amount", "applied"), [
    (None, "750.00", "711.59"),      # more than the whole invoice
    ("100.00", "700.00", "611.59"),  # more than what is left of it
])
async def test_an_overpayment_pays_the_invoice_and_leaves_the_rest_on_account(
        sandbox: SapSandbox, http: httpx.AsyncClient, paid_before: str | None, amount: str,
        applied: str) -> None:
    """The customer paid more than the invoice's open balance: one receipt of the whole
    amount, the invoice takes its open balance, the rest stays on the customer's account."""
    if paid_before:
        await sink(sandbox, http).execute(command("payment", "payment/holded/first",
                                                  payment_payload(1, paid_before)))
    start = await balance(sandbox)
    result = (await sink(sandbox, http).execute(
        command("payment", KEY, payment_payload(1, amount)))).result
    assert result["status"] == "succeeded", result
    excess = Decimal(amount) - Decimal(applied)
    assert f"left {excess} on account for C0001" in result["reason"]
    assert f"applied {applied}" in result["reason"]
    payment = await sandbox.get("IncomingPayments", int(result["target_id"]))
    assert Decimal(str(payment["TransferSum"])) == Decimal(amount)
    assert [Decimal(str(p["SumApplied"])) for p in payment["PaymentInvoices"]] == [
        Decimal(applied)]
    invoice = await sandbox.get("Invoices", 1)
    assert invoice["DocumentStatus"] == "bost_Close"
    assert Decimal(str(invoice["PaidToDate"])) == Decimal("711.59")
    assert await balance(sandbox) == start - Decimal(amount)  # the customer is in credit
    codec("CommandResult").dumps(result)


async def test_an_overpayment_whose_answer_was_lost_is_booked_once(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    ledger, start = MemoryLedger(), await balance(sandbox)
    target = sink(sandbox, http, ledger)
    cmd = command("payment", KEY, payment_payload(1, "750.00"))
    sandbox.faults.lose_next_writes = 1
    with pytest.raises(RetryableError):
        await target.execute(cmd)
    redelivered = (await target.execute(cmd)).result
    assert redelivered["status"] == "succeeded" and "found in SAP B1" in redelivered["reason"]
    assert "overpayment: 38.41 of it is on account" in redelivered["reason"]
    assert len(posts(sandbox)) == 1
    assert len(await sandbox.find("IncomingPayments", Remarks=KEY)) == 1
    assert await balance(sandbox) == start - Decimal("750.00")


async def test_no_transfer_account_parks_the_payment(sandbox: SapSandbox,
                                                     http: httpx.AsyncClient) -> None:
    cash = {**payment_payload(1, "1.00"), "method": "efectivo"}  # caja: no sap_b1 account mapped
    result = (await sink(sandbox, http, transfer_account=None).execute(
        command("payment", KEY, cash))).result
    assert result["status"] == "parked" and "transfer_account" in result["reason"]


async def test_partner_update_stamps_its_update_time_in_the_ledger(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    ledger = MemoryLedger()
    cmd = command("contact", "contact/holded/c1", contact_payload(), links={"sap_b1": "C0001"})
    result = (await sink(sandbox, http, ledger).execute(cmd)).result
    assert result["status"] == "succeeded" and result["target_id"] == "C0001"
    bp = await sandbox.get("BusinessPartners", "C0001")
    assert (bp["FederalTaxID"], bp["PayTermsGrpCode"], bp["ZipCode"]) == ("B12345679", 3, "46002")
    assert bp["CardType"] == "cCustomer" and bp["DataVersion"] == 2
    written = dt.datetime.fromisoformat(f"{bp['UpdateDate']}T{bp['UpdateTime']}").replace(
        tzinfo=sandbox.zone)
    assert ledger.stamps["C0001"] == int(written.timestamp() * 1000)
    patch = next(r for r in sandbox.requests if r.method == "PATCH")
    assert patch.status == 204


async def written_once(sandbox: SapSandbox, http: httpx.AsyncClient
                       ) -> tuple[dt.datetime, MemoryLedger, str, dict[str, str]]:
    """Partner C0001 written once by our sink, at ``start`` on a clock the test moves: (start,
    ledger, key, links). The worker builds a sink per command, so what the guard knows must
    live in the ledger the test passes to each new sink."""
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    sandbox.store.now = lambda: start.astimezone(sandbox.zone)
    ledger, key, links = MemoryLedger(), "contact/holded/c1", {"sap_b1": "C0001"}
    first = command("contact", key, contact_payload(), links=links)
    assert (await sink(sandbox, http, ledger).execute(first)).result["status"] == "succeeded"
    return start, ledger, key, links


async def test_a_change_made_in_sap_since_the_engine_knew_it_is_not_overwritten(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    start, ledger, key, links = await written_once(sandbox, http)
    # Someone edits the partner in SAP after our write, before the engine has read it...
    sandbox.store.now = lambda: (start + dt.timedelta(seconds=10)).astimezone(sandbox.zone)
    await sandbox.patch("BusinessPartners", "C0001", {"Phone1": "+34 600 000 000"})
    # ...so the next write, decided without that edit, must not overwrite it.
    unseen = await sink(sandbox, http, ledger).execute(command(
        "contact", key, contact_payload(phone="+34 960 999 999"), links=links,
        vector={"holded": 2}))
    assert unseen.result["status"] == "parked" and "not overwritten" in unseen.result["reason"]
    assert not unseen.redrive and unseen.conflicts == []  # the merge decides again
    assert (await sandbox.get("BusinessPartners", "C0001"))["Phone1"] == "+34 600 000 000"
    # Once the engine has read SAP's change (base_ts), its decision is written.
    seen_ms = int((start + dt.timedelta(seconds=10)).timestamp() * 1000)
    decided = await sink(sandbox, http, ledger).execute(command(
        "contact", key, contact_payload(phone="+34 960 888 888"), links=links,
        vector={"holded": 2, "sap_b1": 1}, base_ts=seen_ms))
    assert decided.result["status"] == "succeeded", decided.result
    # Our own write is no unseen change for the next command, even one built before its echo.
    sandbox.store.now = lambda: (start + dt.timedelta(seconds=20)).astimezone(sandbox.zone)
    after_ours = await sink(sandbox, http, ledger).execute(command(
        "contact", key, contact_payload(phone="+34 960 777 777"), links=links,
        vector={"holded": 3, "sap_b1": 1}))
    assert after_ours.result["status"] == "succeeded", after_ours.result
    assert (await sandbox.get("BusinessPartners", "C0001"))["Phone1"] == "+34 960 777 777"


async def test_a_change_between_the_read_and_the_write_is_parked_not_overwritten(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    target = sink(sandbox, http)
    first = command("contact", "contact/holded/c1", contact_payload(), links={"sap_b1": "C0001"})
    assert (await target.execute(first)).result["status"] == "succeeded"
    read = target.client.get

    async def read_then_someone_edits(entity_set: str, record_key: str, **kw: Any) -> dict:
        record = await read(entity_set, record_key, **kw)
        target.client.get = read  # SAP changes between the sink's read and its PATCH
        await sandbox.patch("BusinessPartners", "C0001", {"Phone1": "+34 600 000 000"})
        return record
    target.client.get = read_then_someone_edits
    second = command("contact", "contact/holded/c1", contact_payload(phone="+34 960 999 999"),
                     links={"sap_b1": "C0001"}, vector={"holded": 2})
    outcome = await target.execute(second)
    assert outcome.result["status"] == "parked", outcome.result
    assert "stale etag" in outcome.result["reason"] and "(phone)" in outcome.result["reason"]
    assert not outcome.redrive and outcome.conflicts == []  # the merge decides again
    assert (await sandbox.get("BusinessPartners", "C0001"))["Phone1"] == "+34 600 000 000"


async def test_a_lost_patch_answer_is_recognised_as_our_own_write(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    start, ledger, key, links = await written_once(sandbox, http)
    sandbox.store.now = lambda: (start + dt.timedelta(seconds=10)).astimezone(sandbox.zone)
    sandbox.faults.lose_next_writes = 1
    lost = command("contact", key, contact_payload(phone="+34 960 111 111"),
                   links=links, vector={"holded": 2})
    result = (await sink(sandbox, http, ledger).execute(lost)).result
    assert result["status"] == "succeeded", result
    assert [r.status for r in sandbox.requests if r.method == "PATCH"] == [204, None, 412]
    # The time our lost-answer write left is ours: the next command is no unseen change.
    sandbox.store.now = lambda: (start + dt.timedelta(seconds=20)).astimezone(sandbox.zone)
    after = await sink(sandbox, http, ledger).execute(command(
        "contact", key, contact_payload(phone="+34 960 222 222"), links=links,
        vector={"holded": 3}))
    assert after.result["status"] == "succeeded", after.result
    assert (await sandbox.get("BusinessPartners", "C0001"))["Phone1"] == "+34 960 222 222"


async def test_partner_without_link_is_parked(sandbox: SapSandbox,
                                              http: httpx.AsyncClient) -> None:
    result = (await sink(sandbox, http).execute(
        command("contact", "contact/holded/new", contact_payload()))).result
    assert result["status"] == "parked" and "not supported" in result["reason"]


async def test_unwritten_entities_are_parked(sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    result = (await sink(sandbox, http).execute(
        command("product", "product/holded/p", {"sku": "X"}))).result
    assert result["status"] == "parked"


async def test_the_paid_invoice_and_the_payment_come_back_through_the_source(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    import datetime as dt

    from connectors.sap_b1.source import SapB1Source

    source = SapB1Source(make_client(sandbox, http), mapping=MAPPING,
                         streams=("Invoices", "IncomingPayments"))
    state, _ = await source.poll(None, dt.datetime.now(dt.UTC))
    cmd = command("payment", KEY, payment_payload(1, "711.59"))
    result = (await sink(sandbox, http).execute(cmd)).result
    _, events = await source.poll(state, dt.datetime.now(dt.UTC))
    by_key = {e["entity_key"]: e["payload"] for e in events}
    invoice = by_key["invoice/sap_b1/1"]
    assert invoice["payment_status"] == "paid" and invoice["amount_paid"] == Decimal("711.59")
    # the payment our sink wrote comes back under its own key (the echo of our write), never
    # as a new payment/sap_b1/<DocEntry> the engine would pay again in Holded
    assert f"payment/sap_b1/{result['target_id']}" not in by_key
    payment = by_key[KEY]
    assert payment["invoice_key"] == "invoice/sap_b1/1" and payment["method"] == "transferencia"
    from connectors.sap_b1.mapping import HELD_FIELDS

    held = HELD_FIELDS["payment"]  # what the engine compares to recognise the echo
    assert {f: payment[f] for f in held} == {f: cmd["payload"][f] for f in held}
    [echo] = [e for e in events if e["entity_key"] == KEY]
    assert echo["source_id"] == result["target_id"]


async def test_an_overpayment_comes_back_through_the_source_as_written(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    """Read back, the receipt is the whole amount the customer paid (applied + on account),
    so the engine recognises its own write instead of shrinking the payment in Holded."""
    from connectors.sap_b1.mapping import HELD_FIELDS
    from connectors.sap_b1.source import SapB1Source

    source = SapB1Source(make_client(sandbox, http), mapping=MAPPING,
                         streams=("IncomingPayments",))
    state, _ = await source.poll(None, dt.datetime.now(dt.UTC))
    cmd = command("payment", KEY, payment_payload(1, "750.00"))
    assert (await sink(sandbox, http).execute(cmd)).result["status"] == "succeeded"
    _, events = await source.poll(state, dt.datetime.now(dt.UTC))
    [echo] = [e["payload"] for e in events if e["entity_key"] == KEY]
    held = HELD_FIELDS["payment"]
    assert {f: echo[f] for f in held} == {f: cmd["payload"][f] for f in held}


async def test_a_payment_changed_or_deleted_after_it_was_written_is_parked_not_done(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    """A Holded payment edited (or deleted) after the sink wrote it: SAP still applies the
    old amount to the invoice, so the sink must not answer already_done."""
    first = (await sink(sandbox, http).execute(
        command("payment", KEY, payment_payload(1, "100.00")))).result
    links = {"sap_b1": first["target_id"]}
    edited = (await sink(sandbox, http).execute(command(
        "payment", KEY, payment_payload(1, "120.00"), links=links, vector={"holded": 2}))).result
    assert edited["status"] == "parked" and edited["target_id"] == first["target_id"]
    assert "amount 100.00 there, 120.00 now" in edited["reason"]
    moved = {**payment_payload(1, "100.00"), "date": dt.date(2026, 11, 21)}
    unlinked = (await sink(sandbox, http).execute(command(
        "payment", KEY, moved, vector={"holded": 2}))).result  # the result was lost
    assert unlinked["status"] == "parked" and "date 2026-11-20 there" in unlinked["reason"]
    gone = command("payment", KEY, payment_payload(1, "100.00"), links=links,
                   vector={"holded": 3})
    deleted = (await sink(sandbox, http).execute({**gone, "op": "delete", "payload": None})
               ).result
    assert deleted["status"] == "parked" and "deleted" in deleted["reason"]
    never = command("payment", KEY + "-never", payment_payload(1, "1.00"))
    assert (await sink(sandbox, http).execute({**never, "op": "delete", "payload": None})
            ).result["status"] == "succeeded"
    assert len(posts(sandbox)) == 1
    assert (await sandbox.get("Invoices", 1))["PaidToDate"] == 100




async def test_payment_terms_cleared_elsewhere_are_cleared_in_sap(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    # Left out of the PATCH, SAP keeps the old terms; the poller reads them back, the engine
    # takes them for a SAP edit, and the terms removed in Holded come back everywhere.
    links = {"sap_b1": "C0001"}
    first = command("contact", "contact/holded/c1", contact_payload(), links=links)
    assert (await sink(sandbox, http).execute(first)).result["status"] == "succeeded"
    cleared = command("contact", "contact/holded/c1", contact_payload(payment_due_days=None),
                      links=links, vector={"holded": 2})
    assert (await sink(sandbox, http).execute(cleared)).result["status"] == "succeeded"
    assert (await sandbox.get("BusinessPartners", "C0001"))["PayTermsGrpCode"] == -1


# -- payments on account -------------------------------------------------------------------------

def on_account(contact_key: str, amount: str = "300.00") -> dict[str, Any]:
    return {**payment_payload(1, amount), "invoice_key": None, "contact_key": contact_key}


async def test_a_payment_on_account_is_an_incoming_payment_applied_to_nothing(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    ledger, start = MemoryLedger(), await balance(sandbox)
    target = sink(sandbox, http, ledger)
    cmd = command("payment", KEY, on_account("contact/sap_b1/C0001"))
    sandbox.faults.lose_next_writes = 1  # SAP booked it; the answer is lost
    with pytest.raises(RetryableError):
        await target.execute(cmd)
    redelivered = (await target.execute(cmd)).result
    assert redelivered["status"] == "succeeded" and "found in SAP B1" in redelivered["reason"]
    assert "overpayment" not in redelivered["reason"]
    [payment] = await sandbox.find("IncomingPayments", Remarks=KEY)
    assert payment["CardCode"] == "C0001" and payment["PaymentInvoices"] == []
    assert Decimal(str(payment["TransferSum"])) == Decimal("300.00")
    assert len(posts(sandbox)) == 1
    assert await balance(sandbox) == start - Decimal("300.00")
    assert (await sandbox.get("Invoices", 1))["PaidToDate"] == 0  # applied to nothing
    assert (await target.execute(cmd)).result["status"] == "already_done"


async def test_a_payment_on_account_of_a_customer_sap_does_not_have_is_refused(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    born_elsewhere = (await sink(sandbox, http).execute(
        command("payment", KEY, on_account("contact/holded/77")))).result
    assert born_elsewhere["status"] == "parked"
    assert "was not born in SAP B1" in born_elsewhere["reason"]
    unknown = (await sink(sandbox, http).execute(
        command("payment", KEY, on_account("contact/sap_b1/C9999")))).result
    # as a payment of an invoice SAP does not have: failed with the reason (dead letters)
    assert unknown["status"] == "failed" and "C9999 does not exist" in unknown["reason"]
    assert posts(sandbox) == []


async def test_a_payment_on_account_we_wrote_comes_back_as_the_echo_not_a_new_payment(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    """Read back, the receipt keeps the Holded payment's key and its held fields: the engine
    takes it as its own write, so it never returns to Holded as a new SAP advance."""
    from connectors.sap_b1.mapping import HELD_FIELDS
    from connectors.sap_b1.source import SapB1Source

    source = SapB1Source(make_client(sandbox, http), mapping=MAPPING,
                         streams=("IncomingPayments",))
    state, _ = await source.poll(None, dt.datetime.now(dt.UTC))
    cmd = command("payment", KEY, on_account("contact/sap_b1/C0001"))
    result = (await sink(sandbox, http).execute(cmd)).result
    assert result["status"] == "succeeded", result
    _, events = await source.poll(state, dt.datetime.now(dt.UTC))
    assert [e["entity_key"] for e in events] == [KEY]  # no payment/sap_b1/<DocEntry>
    [echo] = events
    assert echo["source_id"] == result["target_id"]
    assert echo["payload"]["invoice_key"] is None
    assert echo["payload"]["contact_key"] == "contact/sap_b1/C0001"
    held = HELD_FIELDS["payment"]  # what the engine compares to recognise the echo
    assert {f: echo["payload"][f] for f in held} == {f: cmd["payload"][f] for f in held}
