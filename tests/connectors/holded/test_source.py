"""The Holded poller: pure state functions first, then poll_once against the sandbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from app.avro import codec
from app.core.hashing import content_hash
from connectors.base.errors import RetryableError
from connectors.holded.client import HoldedClient
from connectors.holded.sandbox import SandboxServer
from connectors.holded.source import (
    CONTACTS, PAYMENTS, Observed, PollConfig, PollState, begin_run, change_event, commit,
    event_id, observe, poll_once,
)
from tests.connectors.holded.test_inbound import (
    MAPPING, contact, create_contact, create_invoice, make_client, pay, payment, priced,
    seeded_sandbox,
)
from tests.mapping.factories import line

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
CONFIG = PollConfig()


def seen(resource: str, source_id: str, payload: dict[str, Any]) -> Observed:
    return Observed(resource, source_id, "contact", f"contact/holded/{source_id}", payload,
                    content_hash(payload))


def epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


# -- pure state -----------------------------------------------------------------------------

def test_first_run_is_a_full_scan_in_the_bulk_lane() -> None:
    run = begin_run(PollState(), T0, CONFIG)
    assert run.full and run.lane == "bulk"
    assert set(run.windows) == {CONTACTS, "invoice", "creditnote", PAYMENTS}
    assert all(start is None for start in run.windows.values())


def test_watermark_is_the_start_of_the_last_successful_run() -> None:
    run = begin_run(PollState(), T0, CONFIG)
    state, _ = observe(PollState(), run, [seen(CONTACTS, "a", {"n": 1})])
    state = commit(state, run, resources=CONFIG.resources())
    assert set(state.watermarks.values()) == {epoch(T0)} and state.last_full_scan == epoch(T0)
    later = begin_run(state, T0 + HOUR, CONFIG)  # the run took long: still T0, not its end
    assert not later.full and later.lane == "realtime"
    assert later.windows == {CONTACTS: None, "invoice": epoch(T0 - 2 * DAY),
                             "creditnote": epoch(T0 - 2 * DAY), PAYMENTS: epoch(T0 - 2 * DAY)}
    custom = begin_run(state, T0 + HOUR, PollConfig(document_overlap=HOUR,
                                                    payment_overlap=dt.timedelta(0)))
    assert (custom.windows["invoice"], custom.windows[PAYMENTS]) == (epoch(T0 - HOUR), epoch(T0))


def test_overlap_brings_records_twice_and_they_are_emitted_once() -> None:
    run = begin_run(PollState(), T0, CONFIG)
    a, b = seen(CONTACTS, "a", {"n": 1}), seen(CONTACTS, "b", {"n": 2})
    state, emit = observe(PollState(), run, [a, b, a])  # twice in one run, too
    assert emit == [a, b]
    state = commit(state, run, resources=CONFIG.resources())
    run2 = begin_run(state, T0 + HOUR, CONFIG)
    b2 = seen(CONTACTS, "b", {"n": 3})
    state2, emit2 = observe(state, run2, [a, b2])
    assert emit2 == [b2]
    assert observe(state2, run2, [a, b2])[1] == []


def test_a_failed_run_does_not_advance() -> None:
    state = commit(PollState(), begin_run(PollState(), T0, CONFIG), resources=CONFIG.resources())
    run = begin_run(state, T0 + HOUR, CONFIG)
    during, emit = observe(state, run, [seen(CONTACTS, "a", {"n": 1})])
    assert emit and during.hashes != state.hashes
    # the run fails here: nothing is committed, so the caller goes on with `state`
    retry = begin_run(state, T0 + 2 * HOUR, CONFIG)
    assert retry.windows == run.windows  # the same window is read again
    assert observe(state, retry, [seen(CONTACTS, "a", {"n": 1})])[1] == emit
    assert state.watermarks[CONTACTS] == epoch(T0)


def test_full_rescan_emits_only_changed_records_and_forgets_deleted_ones() -> None:
    run = begin_run(PollState(), T0, CONFIG)
    records = [seen(CONTACTS, str(i), {"n": i}) for i in range(5)]
    state, _ = observe(PollState(), run, records)
    state = commit(state, run, resources=CONFIG.resources())
    rescan = begin_run(state, T0 + DAY, CONFIG)
    assert rescan.full and rescan.lane == "bulk"
    now = [*records[:3], seen(CONTACTS, "3", {"n": 33})]  # 3 changed, 4 was deleted
    after, emit = observe(state, rescan, now)
    assert [r.source_id for r in emit] == ["3"]
    after = commit(after, rescan, resources=CONFIG.resources(),
                   listed={CONTACTS: {"0", "1", "2", "3"}})
    assert set(after.hashes[CONTACTS]) == {"0", "1", "2", "3"}
    assert after.last_full_scan == epoch(T0 + DAY)
    # a windowed run never forgets records it did not list
    window = begin_run(after, T0 + DAY + HOUR, CONFIG)
    kept = commit(after, window, resources=CONFIG.resources(), listed={CONTACTS: set()})
    assert kept.hashes == after.hashes and kept.last_full_scan == after.last_full_scan


def test_state_json_round_trip() -> None:
    run = begin_run(PollState(), T0, CONFIG)
    state, _ = observe(PollState(), run, [seen(CONTACTS, "a", {"n": 1})])
    state = commit(state, run, resources=CONFIG.resources())
    assert PollState.from_json(state.to_json()) == state
    assert PollState.from_json(None) == PollState()
    with pytest.raises(ValueError):
        PollState.from_json('{"version": 99}')
    with pytest.raises(ValueError):
        PollState.from_json('{"version": 1, "watermarks": {"contacts": "yesterday"}}')


def test_event_ids_are_stable_per_key_and_content() -> None:
    a = seen(CONTACTS, "a", {"n": 1})
    first, again = change_event(a, T0, "realtime"), change_event(a, T0 + HOUR, "bulk")
    assert first["event_id"] == again["event_id"] == event_id(a.entity_key, a.content_hash)
    assert change_event(seen(CONTACTS, "a", {"n": 2}), T0, "realtime")["event_id"] != first["event_id"]
    with pytest.raises(ValueError):
        change_event(a, T0.replace(tzinfo=None), "realtime")


# -- poll_once against the sandbox ------------------------------------------------------------

@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with seeded_sandbox() as server:
        yield server


@pytest.fixture
async def holded(sandbox: SandboxServer) -> AsyncIterator[HoldedClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield make_client(sandbox, http)


def check(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event encodes as an Avro ChangeEvent and carries the hash of its payload."""
    for event in events:
        codec("ChangeEvent").dumps(event)
        assert event["content_hash"] == content_hash(event["payload"])
        assert event["source_system"] == "holded" and event["op"] == "upsert"
    return events


def by_key(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = [e["entity_key"] for e in events]
    assert len(keys) == len(set(keys)), keys
    return {e["entity_key"]: e for e in events}


async def test_poll_then_edit_one_record_gives_exactly_one_new_event(holded: HoldedClient) -> None:
    contact_id = await create_contact(holded, contact(), "contact/odoo/7")
    await create_contact(holded, contact(name="Otro"), "contact/odoo/8")
    doc = priced([line(1, unit_price="100.00", taxes=("iva_21",))], customer_key="contact/odoo/7",
                 issue_date=dt.date(2026, 3, 9))
    await create_invoice(holded, doc, "invoice/odoo/INV-1", contact_id)

    state, events = await poll_once(holded, PollState(), MAPPING, T0)
    assert set(by_key(check(events))) == {"contact/odoo/7", "contact/odoo/8", "invoice/odoo/INV-1"}
    assert {e["lane"] for e in events} == {"bulk"}

    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR)
    assert events == []

    await holded.contacts.update(contact_id, {"email": "nuevo@sol.es"})
    state, events = await poll_once(holded, state, MAPPING, T0 + 2 * HOUR)
    assert [e["entity_key"] for e in check(events)] == ["contact/odoo/7"]
    assert events[0]["payload"]["email"] == "nuevo@sol.es" and events[0]["lane"] == "realtime"
    assert events[0]["source_ts"] == T0 + 2 * HOUR
    assert (await poll_once(holded, state, MAPPING, T0 + 3 * HOUR))[1] == []


async def test_payment_on_an_erp_invoice_resolves_to_the_erp_invoice_key(holded: HoldedClient) -> None:
    contact_id = await create_contact(holded, contact(), "contact/odoo/7")
    doc = priced([line(1, unit_price="200.00", taxes=("iva_21",))], customer_key="contact/odoo/7",
                 issue_date=dt.date(2026, 3, 9))
    document_id = await create_invoice(holded, doc, "invoice/odoo/INV-1", contact_id)
    state, _ = await poll_once(holded, PollState(), MAPPING, T0)

    born_here = await pay(holded, payment("invoice/odoo/INV-1", amount=D("50.00"),
                                          date=dt.date(2026, 3, 10)), document_id)
    ours = await pay(holded, payment("invoice/odoo/INV-1", amount=D("25.50"),
                                     date=dt.date(2026, 3, 10), description="cobro"),
                     document_id, entity_key="payment/odoo/PAY-7")
    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR)
    found = by_key(check(events))
    assert set(found) == {f"payment/holded/{born_here}", "payment/odoo/PAY-7", "invoice/odoo/INV-1"}
    for key in (f"payment/holded/{born_here}", "payment/odoo/PAY-7"):
        assert found[key]["payload"]["invoice_key"] == "invoice/odoo/INV-1"
        assert found[key]["payload"]["contact_key"] == "contact/odoo/7"
    assert found["payment/odoo/PAY-7"]["source_id"] == ours
    assert found["payment/odoo/PAY-7"]["payload"]["description"] == "cobro"
    invoice = found["invoice/odoo/INV-1"]["payload"]
    assert (invoice["payment_status"], invoice["amount_paid"]) == ("partial", D("75.50"))


async def test_a_payment_on_an_old_invoice_brings_its_payment_state(holded: HoldedClient) -> None:
    contact_id = await create_contact(holded, contact(), "contact/odoo/7")
    old = priced([line(1, unit_price="10.00", taxes=("iva_21",))], customer_key="contact/odoo/7",
                 issue_date=dt.date(2026, 1, 15))
    document_id = await create_invoice(holded, old, "invoice/odoo/OLD", contact_id)
    state, _ = await poll_once(holded, PollState(), MAPPING, T0)
    await pay(holded, payment("invoice/odoo/OLD", amount=D("12.10"), date=dt.date(2026, 3, 10)),
              document_id)
    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR)
    found = by_key(check(events))
    assert found["invoice/odoo/OLD"]["payload"]["payment_status"] == "paid"
    assert len(found) == 2  # the invoice and its payment


async def test_edits_outside_the_window_wait_for_the_full_rescan(holded: HoldedClient) -> None:
    contact_id = await create_contact(holded, contact(), "contact/odoo/7")
    for n, day in enumerate((dt.date(2026, 1, 15), dt.date(2026, 1, 16))):
        doc = priced([line(1, unit_price="10.00", taxes=("iva_21",))],
                     customer_key="contact/odoo/7", issue_date=day)
        document_id = await create_invoice(holded, doc, f"invoice/odoo/OLD-{n}", contact_id,
                                           approve=False)
    state, _ = await poll_once(holded, PollState(), MAPPING, T0)
    await holded.documents("invoice").update(document_id, {"notes": "revisada"})
    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR)
    assert events == []  # dated in January: outside the 2-day window
    state, events = await poll_once(holded, state, MAPPING, T0 + DAY)
    assert [(e["entity_key"], e["lane"]) for e in check(events)] == [("invoice/odoo/OLD-1", "bulk")]
    assert events[0]["payload"]["notes"] == "revisada"
    assert state.last_full_scan == epoch(T0 + DAY)


async def test_paging_across_more_than_500_records(sandbox: SandboxServer,
                                                   holded: HoldedClient) -> None:
    await sandbox.insert("contacts", [{"name": f"C{i}", "customId": f"contact/shop/{i}"}
                                      for i in range(1200)])
    state, events = await poll_once(holded, PollState(), MAPPING, T0)
    assert len(by_key(check(events))) == 1200
    assert {f"contact/shop/{i}" for i in range(1200)} == {e["entity_key"] for e in events}
    pages = [r for r in sandbox.requests if r.path.endswith("/invoicing/v1/contacts")]
    assert len(pages) == 4  # 500 + 500 + 200 + the empty page
    assert (await poll_once(holded, state, MAPPING, T0 + HOUR))[1] == []


class FailingPayments:
    """The real client, except that listing payments fails (after contacts and documents)."""

    def __init__(self, client: HoldedClient) -> None:
        self._client = client
        self.payments = self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def list(self, **_: Any) -> AsyncIterator[dict[str, Any]]:
        async def fail() -> AsyncIterator[dict[str, Any]]:
            raise RetryableError("payments are down")
            yield {}  # pragma: no cover
        return fail()


async def test_a_failed_poll_changes_nothing_and_the_retry_emits_the_same_events(
        holded: HoldedClient) -> None:
    await create_contact(holded, contact(), "contact/odoo/7")
    state, _ = await poll_once(holded, PollState(), MAPPING, T0)
    await create_contact(holded, contact(name="Nuevo"), "contact/odoo/9")
    with pytest.raises(RetryableError):
        await poll_once(FailingPayments(holded), state, MAPPING, T0 + HOUR)
    again, events = await poll_once(holded, state, MAPPING, T0 + 2 * HOUR)
    assert [e["entity_key"] for e in events] == ["contact/odoo/9"]
    assert again.watermarks[CONTACTS] == epoch(T0 + 2 * HOUR)


async def test_unmappable_records_are_parked_and_retried(sandbox: SandboxServer,
                                                         holded: HoldedClient) -> None:
    await sandbox.insert("contacts", [{"name": "Raro", "taxOperation": "general",
                                       "defaults": {"currency": "jpy"}}])
    parked: list[tuple[str, str, list[str]]] = []
    state, events = await poll_once(holded, PollState(), MAPPING, T0,
                                    on_parked=lambda *args: parked.append(args))
    assert events == [] and len(parked) == 1 and "jpy" in parked[0][2][0]
    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR,
                                    on_parked=lambda *args: parked.append(args))
    assert len(parked) == 2  # not remembered as seen: tried again on every read


async def test_a_payment_deleted_in_holded_becomes_a_delete_on_the_full_rescan(
        holded: HoldedClient) -> None:
    """Deleting a payment in Holded must reach the ERPs it was written to (as a delete
    command their sinks park for someone to reverse it), not only vanish from the poll state."""
    from app.core.decide import apply_change
    from app.core.policy import default_policy

    contact_id = await create_contact(holded, contact(), "contact/odoo/7")
    doc = priced([line(1, unit_price="200.00", taxes=("iva_21",))], customer_key="contact/odoo/7",
                 issue_date=dt.date(2026, 3, 9))
    document_id = await create_invoice(holded, doc, "invoice/odoo/INV-1", contact_id)
    kept = await pay(holded, payment("invoice/odoo/INV-1", amount=D("50.00"),
                                     date=dt.date(2026, 3, 10)), document_id)
    gone = await pay(holded, payment("invoice/odoo/INV-1", amount=D("20.00"),
                                     date=dt.date(2026, 3, 10)), document_id)
    state, events = await poll_once(holded, PollState(), MAPPING, T0)
    upserted = by_key(check(events))[f"payment/holded/{gone}"]
    await holded.payments.delete(gone)
    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR)
    assert [e["op"] for e in events] == ["upsert"]  # a window: only the invoice's new state
    state, events = await poll_once(holded, state, MAPPING, T0 + DAY)  # the full re-scan
    deletes = [e for e in events if e["op"] == "delete"]
    assert [e["entity_key"] for e in deletes] == [f"payment/holded/{gone}"]
    [deleted] = deletes
    codec("ChangeEvent").dumps(deleted)
    assert deleted["payload"] is None and deleted["content_hash"] == content_hash(None)
    assert set(state.hashes[PAYMENTS]) == {kept}
    assert (await poll_once(holded, state, MAPPING, T0 + 2 * DAY))[1] == []
    # the engine turns it into a delete command for the ERP that holds the payment
    policy = default_policy(("odoo",))
    created = apply_change(upserted, None, None, None, policy)
    decision = apply_change(deleted, created.state, created.replicas,
                            {"ids": {"odoo": "41"}}, policy)
    [command] = [c for c in decision.commands if c["target_system"] == "odoo"]
    assert command["op"] == "delete" and command["target_id"] == "41"


async def test_a_payment_edited_in_holded_brings_its_new_amount_and_the_invoice_state(
        holded: HoldedClient) -> None:
    contact_id = await create_contact(holded, contact(), "contact/odoo/7")
    doc = priced([line(1, unit_price="100.00", taxes=("iva_21",))], customer_key="contact/odoo/7",
                 issue_date=dt.date(2026, 3, 9))
    document_id = await create_invoice(holded, doc, "invoice/odoo/INV-1", contact_id)
    paid = await pay(holded, payment("invoice/odoo/INV-1", amount=D("121.00"),
                                     date=dt.date(2026, 3, 10)), document_id)
    state, events = await poll_once(holded, PollState(), MAPPING, T0)
    assert by_key(events)["invoice/odoo/INV-1"]["payload"]["payment_status"] == "paid"
    await holded.payments.update(paid, {"amount": 100.0})
    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR)
    found = by_key(check(events))
    assert found[f"payment/holded/{paid}"]["payload"]["amount"] == D("100.00")
    invoice = found["invoice/odoo/INV-1"]["payload"]
    assert (invoice["payment_status"], invoice["amount_paid"]) == ("partial", D("100.00"))


# -- payments on account ----------------------------------------------------------------------

BANK = "64a1f0c2e4b0a10000000b01"  # the seeded treasury the example mapping calls "banco"


async def _receive(holded: HoldedClient, contact_id: str | None, amount: float) -> str:
    """A payment registered in Holded with no document (POST /payments): on account."""
    body = {"bankId": BANK, "amount": amount, "desc": "anticipo pedido 12",
            "date": epoch(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))}
    if contact_id is not None:
        body["contactId"] = contact_id
    return str((await holded.payments.create(body))["id"])


async def test_a_payment_naming_a_customer_and_no_document_is_a_payment_on_account(
        holded: HoldedClient) -> None:
    customer = await create_contact(holded, contact(), "contact/odoo/7")
    supplier = await create_contact(holded, contact(kind="supplier", name="Proveedor SA",
                                                    tax_id="B87654321"), "contact/odoo/9")
    state, _ = await poll_once(holded, PollState(), MAPPING, T0)
    advance = await _receive(holded, customer, 300.0)
    await _receive(holded, supplier, 80.0)  # money paid to a supplier: not a receipt
    await _receive(holded, None, 15.0)  # a bank movement booked to nobody
    parked: list[tuple[str, str, list[str]]] = []
    state, events = await poll_once(holded, state, MAPPING, T0 + HOUR,
                                    on_parked=lambda *p: parked.append(p))
    found = by_key(check(events))
    assert set(found) == {f"payment/holded/{advance}"}
    event = found[f"payment/holded/{advance}"]
    assert event["payload"] == {
        "invoice_key": None, "contact_key": "contact/odoo/7", "date": dt.date(2026, 3, 10),
        "amount": D("300.00"), "currency": "EUR", "method": None, "treasury": "banco",
        "reference": None, "description": "anticipo pedido 12"}
    assert parked == []
    assert (await poll_once(holded, state, MAPPING, T0 + 2 * HOUR))[1] == []  # read once


async def test_payments_on_account_can_be_turned_off_and_a_refund_on_account_is_parked(
        holded: HoldedClient) -> None:
    customer = await create_contact(holded, contact(), "contact/odoo/8")
    await _receive(holded, customer, 120.0)
    off = PollConfig(payments_on_account=False)
    _, events = await poll_once(holded, PollState(), MAPPING, T0, config=off)
    assert [e["entity"] for e in events] == ["contact"]

    refund = await _receive(holded, customer, -40.0)
    parked: list[tuple[str, str, list[str]]] = []
    _, events = await poll_once(holded, PollState(), MAPPING, T0,
                                on_parked=lambda *p: parked.append(p))
    assert sorted(e["entity"] for e in events) == ["contact", "payment"]
    assert [(r, i) for r, i, _ in parked] == [(PAYMENTS, refund)]
    assert "-40.00 is not an amount received" in parked[0][2][0]
