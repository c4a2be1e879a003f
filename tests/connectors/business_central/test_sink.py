"""BusinessCentralSink against the sandbox: payments posted exactly once, etag conflicts."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from connectors.base.contracts import MemoryLedger, TargetNotReady
from connectors.base.errors import RetryableError
from connectors.business_central.client import BusinessCentralClient
from connectors.business_central.mapping import sync_code
from connectors.business_central.sandbox import BCSandbox
from connectors.business_central.sink import BusinessCentralSink
from tests.connectors.business_central.support import (
    MAPPING, command, contact_payload, customer, open_invoice, payment_payload,
)

KEY = "payment/holded/64a1f0c2e4b0a1000000aa01"


def sink(bc: BusinessCentralClient, ledger: MemoryLedger | None = None) -> BusinessCentralSink:
    return BusinessCentralSink(bc, mapping=MAPPING, ledger=ledger or MemoryLedger(),
                               now_ms=lambda: 1_790_000_000_000)


async def balance(bc: BusinessCentralClient, customer_id: str) -> Decimal:
    details = await bc.call("GET", f"customers({customer_id})/customerFinancialDetails")
    return Decimal(details["balance"])


async def test_payment_is_posted_against_the_invoice(sandbox: BCSandbox,
                                                     bc: BusinessCentralClient) -> None:
    invoice = await open_invoice(sandbox)
    before = await balance(bc, invoice["customerId"])
    outcome = await sink(bc).execute(command("payment", KEY, payment_payload(invoice["id"], "100.00")))
    assert outcome.result["status"] == "succeeded", outcome.result
    assert outcome.result["target_id"] == sync_code(KEY)
    after = await bc.get("salesInvoices", invoice["id"])
    assert after["remainingAmount"] == Decimal("195.60") and after["status"] == "Open"
    assert await balance(bc, invoice["customerId"]) == before - 100
    entries = await sandbox.all("generalLedgerEntries", documentNumber=sync_code(KEY))
    assert {e["description"] for e in entries} == {KEY} and len(entries) == 2
    assert await sandbox.all("customerPayments") == []  # the journal was posted


async def test_paying_the_rest_marks_the_invoice_paid(sandbox: BCSandbox,
                                                      bc: BusinessCentralClient) -> None:
    invoice = await open_invoice(sandbox)
    result = (await sink(bc).execute(command("payment", KEY, payment_payload(
        invoice["id"], "295.60")))).result
    assert result["status"] == "succeeded"
    after = await bc.get("salesInvoices", invoice["id"])
    assert after["status"] == "Paid" and after["remainingAmount"] == 0


async def test_replays_never_post_twice(sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    invoice = await open_invoice(sandbox)
    cmd = command("payment", KEY, payment_payload(invoice["id"], "50.00"))
    ledger = MemoryLedger()
    first = (await sink(bc, ledger).execute(cmd)).result
    again = (await sink(bc, ledger).execute(cmd)).result
    fresh = (await sink(bc).execute(cmd)).result  # ledger lost: BC itself is searched
    assert (again["status"], fresh["status"]) == ("already_done", "succeeded")
    assert first["target_id"] == again["target_id"] == fresh["target_id"]
    linked = (await sink(bc).execute({**cmd, "links": {"business_central": first["target_id"]}}
                                     )).result
    assert linked["status"] == "already_done"
    assert (await bc.get("salesInvoices", invoice["id"]))["remainingAmount"] == Decimal("245.60")


async def test_lost_responses_at_each_step_still_post_once(sandbox: BCSandbox,
                                                           bc: BusinessCentralClient) -> None:
    invoice = await open_invoice(sandbox)
    the_sink = sink(bc)
    await the_sink._journal()  # the journal exists, so the next write is the payment line
    original = bc.create

    async def create_then_lose_the_post(path: str, body: dict[str, object], **kw: object) -> object:
        created = await original(path, body)
        sandbox.faults.lose_next_writes = 1  # the post action that follows loses its answer
        return created

    # 1: the line's POST commits and its response is lost; 2: the post action's response is.
    for key, lose_line in (("payment/holded/lost-line", True), ("payment/holded/lost-post", False)):
        cmd = command("payment", key, payment_payload(invoice["id"], "10.00"))
        sandbox.faults.lose_next_writes = 1 if lose_line else 0
        bc.create = original if lose_line else create_then_lose_the_post  # type: ignore[method-assign]
        with pytest.raises(RetryableError):
            await the_sink.execute(cmd)
        bc.create = original  # type: ignore[method-assign]
        assert (await the_sink.execute(cmd)).result["status"] == "succeeded"
        posted = await sandbox.all("generalLedgerEntries", documentNumber=sync_code(key))
        assert len(posted) == 2, f"{key}: posted {len(posted) // 2} times"
    assert [r.outcome for r in sandbox.requests].count("dropped") == 2
    assert (await bc.get("salesInvoices", invoice["id"]))["remainingAmount"] == Decimal("275.60")


async def test_a_payment_waits_for_its_draft_invoice_to_be_posted(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    """BC applies payments to posted invoices only; a draft is usually posted soon, so the
    payment is retried (TargetNotReady, a RetryableError), not failed, and nothing is written
    meanwhile. Once the invoice is posted the same command pays it."""
    draft = (await sandbox.all("salesInvoices", status="Draft"))[0]
    cmd = command("payment", KEY, payment_payload(draft["id"], "10.00"))
    with pytest.raises(TargetNotReady) as waiting:
        await sink(bc).execute(cmd)
    assert isinstance(waiting.value, RetryableError) and waiting.value.retry_after == 30.0
    reason = str(waiting.value)
    assert "is Draft, not posted" in reason and "post the invoice in Business Central" in reason
    assert "parked redrive --system business_central" in reason
    assert await sandbox.all("customerPayments") == []
    assert await sandbox.all("generalLedgerEntries") == []
    await bc.action("salesInvoices", draft["id"], "post")
    posted = await bc.get("salesInvoices", draft["id"])  # posting keeps the API id
    before = await balance(bc, draft["customerId"])
    result = (await sink(bc).execute(cmd)).result
    assert result["status"] == "succeeded", result
    after = await bc.get("salesInvoices", draft["id"])
    assert Decimal(after["remainingAmount"]) == Decimal(posted["remainingAmount"]) - 10
    assert await balance(bc, draft["customerId"]) == before - 10


@pytest.mark.parametrize(("status", "waits"), [
    ("In Review", True), ("Canceled", False), ("Corrective", False)])
async def test_only_invoices_that_will_be_posted_make_a_payment_wait(
        sandbox: BCSandbox, bc: BusinessCentralClient, status: str, waits: bool) -> None:
    draft = (await sandbox.all("salesInvoices", status="Draft"))[0]
    await sandbox.state.store.put("salesInvoices", {**draft, "status": status})
    cmd = command("payment", KEY, payment_payload(draft["id"], "1"))
    if waits:
        with pytest.raises(TargetNotReady, match="not posted"):
            await sink(bc).execute(cmd)
    else:
        failed = (await sink(bc).execute(cmd)).result
        assert failed["status"] == "failed" and f"is {status}" in failed["reason"]
    assert await sandbox.all("generalLedgerEntries") == []


async def test_foreign_invoices_are_not_paid(sandbox: BCSandbox,
                                             bc: BusinessCentralClient) -> None:
    invoice = await open_invoice(sandbox)
    foreign = payment_payload(invoice["id"], "1")
    foreign["invoice_key"] = "invoice/holded/64a1f0c2e4b0a10000000001"
    parked = (await sink(bc).execute(command("payment", KEY + "x", foreign))).result
    assert parked["status"] == "parked" and "not born in Business Central" in parked["reason"]
    assert await sandbox.all("generalLedgerEntries") == []


async def test_customer_update_with_etag_and_noop(sandbox: BCSandbox,
                                                  bc: BusinessCentralClient) -> None:
    ferreteria = await customer(sandbox)
    cmd = command("contact", "contact/holded/c-1", contact_payload(),
                  links={"business_central": ferreteria["id"]})
    result = (await sink(bc).execute(cmd)).result
    assert result["status"] == "succeeded" and result["target_id"] == ferreteria["id"]
    stored = await bc.get("customers", ferreteria["id"])
    assert stored["email"] == "pagos@ferreteria-martinez.es"
    patches = [r for r in sandbox.requests if r.method == "PATCH"]
    assert len(patches) == 1 and patches[0].headers["If-Match"] == ferreteria_etag(ferreteria)
    again = (await sink(bc).execute({**cmd, "command_id": "other"})).result
    assert again["reason"] == "Business Central already holds it"
    assert len([r for r in sandbox.requests if r.method == "PATCH"]) == 1


def ferreteria_etag(record: dict[str, object]) -> str:
    from connectors.business_central.sandbox_store import etag
    return etag(record)


async def written_once(sandbox: BCSandbox, bc: BusinessCentralClient
                       ) -> tuple[dt.datetime, dict, MemoryLedger, str, dict[str, str]]:
    """A customer our sink has written once, at ``start`` on a clock the test moves: (start,
    customer, ledger, key, links). The worker builds a sink per command, so what the guard
    knows must live in the ledger the test passes to each new sink."""
    start = sandbox.state.store.now() + dt.timedelta(hours=1)  # its clock never goes back
    sandbox.state.store.clock = lambda: start
    ferreteria, ledger, key = await customer(sandbox), MemoryLedger(), "contact/holded/c-1"
    links = {"business_central": ferreteria["id"]}
    first = command("contact", key, contact_payload(), links=links)
    assert (await sink(bc, ledger).execute(first)).result["status"] == "succeeded"
    return start, ferreteria, ledger, key, links


async def test_a_change_made_in_bc_since_the_engine_knew_it_is_not_overwritten(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    start, ferreteria, ledger, key, links = await written_once(sandbox, bc)
    # Someone edits the customer in BC after our write, before the engine has read it...
    sandbox.state.store.clock = lambda: start + dt.timedelta(seconds=10)
    current = await bc.get("customers", ferreteria["id"])
    await bc.update("customers", ferreteria["id"], {"email": "contabilidad@ferreteria.es"},
                    etag=current["@odata.etag"])
    # ...so the next write, decided without that edit, must not overwrite it.
    unseen = await sink(bc, ledger).execute(command(
        "contact", key, contact_payload(email="nuevo@ferreteria.es"), links=links,
        vector={"holded": 2}))
    assert unseen.result["status"] == "parked" and "not overwritten" in unseen.result["reason"]
    assert not unseen.redrive and unseen.conflicts == []  # the merge decides again
    assert (await bc.get("customers", ferreteria["id"]))["email"] == "contabilidad@ferreteria.es"
    # Once the engine has read BC's change (base_ts), its decision is written.
    seen_ms = int((start + dt.timedelta(seconds=10)).timestamp() * 1000)
    decided = await sink(bc, ledger).execute(command(
        "contact", key, contact_payload(email="decidido@ferreteria.es"), links=links,
        vector={"holded": 2, "business_central": 1}, base_ts=seen_ms))
    assert decided.result["status"] == "succeeded", decided.result
    # Our own write is no unseen change for the next command, even one built before its echo.
    sandbox.state.store.clock = lambda: start + dt.timedelta(seconds=20)
    after_ours = await sink(bc, ledger).execute(command(
        "contact", key, contact_payload(email="otra@ferreteria.es"), links=links,
        vector={"holded": 3, "business_central": 1}))
    assert after_ours.result["status"] == "succeeded", after_ours.result
    assert (await bc.get("customers", ferreteria["id"]))["email"] == "otra@ferreteria.es"


async def test_a_change_between_the_read_and_the_write_is_parked_not_overwritten(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    ferreteria, key = await customer(sandbox), "contact/holded/c-1"
    links = {"business_central": ferreteria["id"]}
    assert (await sink(bc).execute(command("contact", key, contact_payload(), links=links))
            ).result["status"] == "succeeded"
    read = bc.get

    async def read_then_someone_edits(path: str, record_id: str, **kw: object) -> dict:
        record = await read(path, record_id, **kw)
        if path == "customers":  # BC changes between the sink's read and its PATCH
            bc.get = read
            await bc.update("customers", record_id, {"email": "contabilidad@ferreteria.es"},
                            etag=record["@odata.etag"])
        return record
    bc.get = read_then_someone_edits
    outcome = await sink(bc).execute(command(
        "contact", key, contact_payload(email="nuevo@ferreteria.es"), links=links,
        vector={"holded": 2}))
    # The same unseen change as the guard's, met a moment later: parked, no Conflict of the
    # sink's own (the merge records one once BC's change is read), not re-driven.
    assert outcome.result["status"] == "parked", outcome.result
    assert "stale etag" in outcome.result["reason"] and "(email)" in outcome.result["reason"]
    assert not outcome.redrive and outcome.conflicts == []
    assert (await bc.get("customers", ferreteria["id"]))["email"] == "contabilidad@ferreteria.es"


async def test_a_lost_patch_answer_is_our_own_write_for_the_next_command(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    start, ferreteria, ledger, key, links = await written_once(sandbox, bc)
    sandbox.state.store.clock = lambda: start + dt.timedelta(seconds=10)
    sandbox.faults.lose_next_writes = 1  # the PATCH commits, its answer is lost
    lost = await sink(bc, ledger).execute(command(
        "contact", key, contact_payload(email="nuevo@ferreteria.es"), links=links,
        vector={"holded": 2}))
    assert lost.result["status"] == "succeeded", lost.result
    # Two PATCHes for it: the one whose answer was lost, then its retry under the old etag.
    assert [r.status for r in sandbox.requests if r.method == "PATCH"][1:] == [200, 412]
    # The time that write left is ours: the next command is no unseen change.
    sandbox.state.store.clock = lambda: start + dt.timedelta(seconds=20)
    after = await sink(bc, ledger).execute(command(
        "contact", key, contact_payload(email="otra@ferreteria.es"), links=links,
        vector={"holded": 3}))
    assert after.result["status"] == "succeeded", after.result
    assert (await bc.get("customers", ferreteria["id"]))["email"] == "otra@ferreteria.es"


async def test_other_entities_and_unmappable_contacts_are_parked(sandbox: BCSandbox,
                                                                 bc: BusinessCentralClient) -> None:
    ferreteria = await customer(sandbox)
    product = (await sink(bc).execute(command("product", "product/holded/p1", {}))).result
    assert product["status"] == "parked"
    odd = command("contact", "contact/holded/c-2", contact_payload(payment_due_days=45),
                  links={"business_central": ferreteria["id"]})
    parked = (await sink(bc).execute(odd)).result
    assert parked["status"] == "parked" and "45 days" in parked["reason"]
    unlinked = (await sink(bc).execute(command("contact", "contact/holded/c-3", contact_payload())
                                       )).result
    assert unlinked["status"] == "parked" and "not supported yet" in unlinked["reason"]


async def test_a_payment_changed_or_deleted_after_posting_is_parked_not_done(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    """A Holded payment edited (or deleted) after the sink posted it: BC still counts the
    posted amount, so the sink must not answer already_done."""
    invoice = await open_invoice(sandbox)
    posted = (await sink(bc).execute(command("payment", KEY, payment_payload(
        invoice["id"], "100.00")))).result
    links = {"business_central": posted["target_id"]}
    edited = (await sink(bc).execute(command("payment", KEY, payment_payload(
        invoice["id"], "80.00"), links=links, vector={"holded": 2}))).result
    assert edited["status"] == "parked", edited
    assert "amount 100.00 there, 80.00 now" in edited["reason"]
    unlinked = (await sink(bc).execute(command("payment", KEY, payment_payload(
        invoice["id"], "80.00"), vector={"holded": 2}))).result  # the result was lost
    assert unlinked["status"] == "parked"
    gone = command("payment", KEY, payment_payload(invoice["id"], "100.00"), links=links,
                   vector={"holded": 3})
    deleted = (await sink(bc).execute({**gone, "op": "delete", "payload": None})).result
    assert deleted["status"] == "parked" and "deleted" in deleted["reason"]
    never = command("payment", KEY + "-never", payment_payload(invoice["id"], "1.00"))
    assert (await sink(bc).execute({**never, "op": "delete", "payload": None})
            ).result["status"] == "succeeded"
    assert len(await sandbox.all("generalLedgerEntries", documentNumber=sync_code(KEY))) == 2
    assert (await bc.get("salesInvoices", invoice["id"]))["remainingAmount"] == Decimal("195.60")


async def test_a_foreign_currency_payment_is_compared_by_date_only(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    """G/L entries are in local currency: a linked USD payment of 110 posted as 100 EUR is not
    a changed payment (the sandbox does not convert; the G/L amounts stand for BC's LCY)."""
    invoice = await open_invoice(sandbox)
    posted = (await sink(bc).execute(command("payment", KEY, payment_payload(
        invoice["id"], "100.00")))).result
    links = {"business_central": posted["target_id"]}
    usd = payment_payload(invoice["id"], "110.00", currency="USD")
    same = (await sink(bc).execute(command("payment", KEY, usd, links=links,
                                           vector={"holded": 2}))).result
    assert same["status"] == "already_done", same
    moved = {**usd, "date": dt.date(2026, 11, 21)}
    assert (await sink(bc).execute(command("payment", KEY, moved, links=links,
                                           vector={"holded": 3}))).result["status"] == "parked"


async def test_payment_terms_and_method_cleared_elsewhere_are_cleared_in_bc(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    # Left out of the PATCH, BC keeps the old terms; the poller reads them back, the engine
    # takes them for a BC edit, and the terms removed in Holded come back everywhere.
    from connectors.business_central.mapping import Lookups, customer_to_contact

    ferreteria = await customer(sandbox)
    links = {"business_central": ferreteria["id"]}
    first = command("contact", "contact/holded/c-1", contact_payload(), links=links)
    assert (await sink(bc).execute(first)).result["status"] == "succeeded"
    cleared = contact_payload(payment_due_days=None, payment_method=None)
    second = command("contact", "contact/holded/c-1", cleared, links=links, vector={"holded": 2})
    assert (await sink(bc).execute(second)).result["status"] == "succeeded"
    lookups = Lookups.build([t async for t in bc.list("paymentTerms")],
                            [m async for m in bc.list("paymentMethods")])
    read = customer_to_contact(await bc.get("customers", ferreteria["id"]), mapping=MAPPING,
                               lookups=lookups)
    assert (read["payment_due_days"], read["payment_method"]) == (None, None)


async def test_the_probe_says_a_payment_can_run_once_its_invoice_is_posted(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    """What the engine asks about a payment parked for a draft invoice: one read, no write."""
    draft = (await sandbox.all("salesInvoices", status="Draft"))[0]
    cmd = command("payment", KEY, payment_payload(draft["id"], "10.00"))
    assert await sink(bc).ready(cmd) is False
    await bc.action("salesInvoices", draft["id"], "post")
    assert await sink(bc).ready(cmd) is True
    assert await sandbox.all("customerPayments") == []  # the probe wrote nothing
    cancelled = command("payment", KEY, payment_payload(draft["id"], "1"))
    await sandbox.state.store.put("salesInvoices", {**draft, "status": "Canceled"})
    assert await sink(bc).ready(cancelled) is True  # running it fails at once, with the reason


# -- payments on account -------------------------------------------------------------------------

def on_account(contact_key: str, amount: str) -> dict[str, object]:
    return {**payment_payload("unused", amount), "invoice_key": None, "contact_key": contact_key}


async def test_a_payment_on_account_posts_a_line_applied_to_nothing_once(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    invoice = await open_invoice(sandbox)
    customer_id = invoice["customerId"]
    before = await balance(bc, customer_id)
    the_sink = sink(bc)
    await the_sink._journal()  # so the next write is the payment line
    cmd = command("payment", KEY, on_account(f"contact/business_central/{customer_id}", "120.00"))
    original, lines = bc.create, []

    async def recording(path: str, body: dict[str, object], **kw: object) -> object:
        lines.append(body)
        return await original(path, body)
    bc.create = recording  # type: ignore[method-assign]
    sandbox.faults.lose_next_writes = 1  # the line commits, its answer is lost
    with pytest.raises(RetryableError):
        await the_sink.execute(cmd)
    done = (await the_sink.execute(cmd)).result
    assert done["status"] == "succeeded" and done["target_id"] == sync_code(KEY)
    assert len(await sandbox.all("generalLedgerEntries", documentNumber=sync_code(KEY))) == 2
    assert len(lines) == 1 and "appliesToInvoiceId" not in lines[0]
    assert lines[0]["customerId"] == customer_id
    assert await balance(bc, customer_id) == before - Decimal("120.00")
    assert (await bc.get("salesInvoices", invoice["id"]))["remainingAmount"] == Decimal("295.60")
    assert (await sink(bc).execute(cmd)).result["status"] == "succeeded"  # found, not posted again
    assert len(await sandbox.all("generalLedgerEntries", documentNumber=sync_code(KEY))) == 2


async def test_a_payment_on_account_of_a_customer_bc_does_not_have_is_not_written(
        sandbox: BCSandbox, bc: BusinessCentralClient) -> None:
    elsewhere = (await sink(bc).execute(command("payment", KEY, on_account(
        "contact/holded/9", "10.00")))).result
    assert elsewhere["status"] == "parked" and "was not born in Business Central" in elsewhere["reason"]
    missing = (await sink(bc).execute(command("payment", KEY, on_account(
        "contact/business_central/00000000-0000-0000-0000-0000000000ff", "10.00")))).result
    assert missing["status"] == "failed" and "does not exist" in missing["reason"]
    assert await sandbox.all("customerPayments") == []
