"""The polling source against the sandbox: streams, local-time filters, signposts, parking."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.sap_b1.sandbox import SapSandbox
from connectors.sap_b1.source import SapB1Source
from tests.connectors.sap_b1.support import MAPPING, FakeClock, make_client

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture
def sandbox(clocked_sandbox: SapSandbox) -> SapSandbox:
    return clocked_sandbox  # stamps follow the test's clock (conftest.py)


def source(sandbox: SapSandbox, http: httpx.AsyncClient, **kwargs: object) -> SapB1Source:
    client = make_client(sandbox, http, page_size=3)
    return SapB1Source(client, mapping=MAPPING, **kwargs)  # type: ignore[arg-type]


async def test_first_poll_reports_every_seeded_record(sandbox: SapSandbox, http: httpx.AsyncClient,
                                                      clock: FakeClock) -> None:
    state, events = await source(sandbox, http).poll(None, clock.advance(1))
    keys = sorted(e["entity_key"] for e in events)
    assert len(set(keys)) == len(keys), "two records share an entity key"
    assert keys == sorted(
        [f"contact/sap_b1/{c}" for c in ("C0001", "C0002", "C0003", "P0001")]
        + [f"product/sap_b1/{i}" for i in ("A0001", "A0002", "S0001")]
        + ["invoice/sap_b1/1", "invoice/sap_b1/2", "invoice/sap_b1/3", "invoice/sap_b1/CN-1",
           "payment/sap_b1/1"])
    ribera = next(e for e in events if e["entity_key"] == "invoice/sap_b1/3")
    assert ribera["payload"]["payment_status"] == "paid"
    assert ribera["source_ts"] == dt.datetime(2026, 11, 20, 10, 0, tzinfo=MADRID)
    assert state["IncomingPayments"].id_mark == 1
    note = next(e for e in events if e["entity_key"] == "invoice/sap_b1/CN-1")["payload"]
    assert (note["doc_type"], note["series"]) == ("credit_note", "R")
    supplier = next(e for e in events if e["entity_key"] == "contact/sap_b1/P0001")
    assert supplier["payload"]["kind"] == "supplier"


async def test_changes_are_asked_for_in_the_servers_local_time(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    src = source(sandbox, http, streams=("BusinessPartners",))
    state, _ = await src.poll(None, clock.advance(60))   # 09:01:00Z = 10:01:00 Madrid
    start = len(sandbox.requests)
    await src.poll(state, clock.advance(60))
    query = next(r.query for r in sandbox.requests[start:] if "BusinessPartners" in r.path)
    assert parse_qs(query)["$filter"] == [
        "UpdateDate gt '2026-11-20' or (UpdateDate eq '2026-11-20' and UpdateTime ge '10:00:55')"]


async def test_a_changed_partner_and_a_new_payment_are_reported_once(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    src = source(sandbox, http)
    state, _ = await src.poll(None, clock.advance(60))
    clock.advance(30)
    await sandbox.patch("BusinessPartners", "C0002", {"Phone1": "+34 910 222 333"})
    await sandbox.create("IncomingPayments", {
        "CardCode": "C0001", "TransferSum": Decimal("50"), "TransferAccount": "57200000",
        "DocDate": "2026-11-20", "PaymentInvoices": [{"DocEntry": 1, "SumApplied": 50}]})
    state, events = await src.poll(state, clock.advance(30))
    assert sorted(e["entity_key"] for e in events) == [
        "contact/sap_b1/C0002", "invoice/sap_b1/1", "payment/sap_b1/2"]
    invoice = next(e for e in events if e["entity"] == "invoice")["payload"]
    assert invoice["amount_paid"] == Decimal("50") and invoice["payment_status"] == "partial"
    payment = next(e for e in events if e["entity"] == "payment")
    assert payment["source_ts"] == dt.datetime(2026, 11, 20, tzinfo=MADRID)
    _, again = await src.poll(state, clock.advance(30))
    assert again == []


async def test_a_customers_receipt_applied_to_nothing_is_reported_on_account(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    src = source(sandbox, http, streams=("IncomingPayments",))
    state, _ = await src.poll(None, clock.advance(60))
    created = await sandbox.create("IncomingPayments", {
        "CardCode": "C0002", "TransferSum": Decimal("120"), "TransferAccount": "57200000",
        "DocDate": "2026-11-21", "TransferReference": "ANTICIPO-12"})
    state, events = await src.poll(state, clock.advance(30))
    [event] = events
    assert event["entity_key"] == f"payment/sap_b1/{created['DocEntry']}"
    payload = event["payload"]
    assert (payload["invoice_key"], payload["contact_key"], payload["amount"]) == (
        None, "contact/sap_b1/C0002", Decimal("120.00"))
    assert payload["date"] == dt.date(2026, 11, 21) and payload["method"] == "transferencia"
    assert src.parked == []
    _, again = await src.poll(state, clock.advance(30))
    assert again == []


async def test_records_written_after_the_signpost_wait_for_the_next_run(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    src = source(sandbox, http, streams=("BusinessPartners",))
    signpost = clock.advance(10)
    clock.advance(20)  # a write the server stamps after our run started
    await sandbox.patch("BusinessPartners", "C0003", {"Phone1": "+34 947 000 000"})
    state, events = await src.poll(None, signpost)
    assert "contact/sap_b1/C0003" not in [e["entity_key"] for e in events]
    _, later = await src.poll(state, clock.advance(10))
    assert [e["entity_key"] for e in later] == ["contact/sap_b1/C0003"]


async def test_unmappable_records_are_parked_not_emitted(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    await sandbox.create("Items", {"ItemCode": "Z0001", "ItemName": "Sin IVA mapeado",
                                   "SalesVATGroup": "ZZ"})
    src = source(sandbox, http, streams=("Items",))
    _, events = await src.poll(None, clock.advance(1))
    assert "product/sap_b1/Z0001" not in [e["entity_key"] for e in events]
    assert [p.entity_key for p in src.parked] == ["product/sap_b1/Z0001"]
    assert "'ZZ'" in src.parked[0].reasons[0]


async def test_an_unmappable_payment_our_sink_wrote_is_parked_under_its_own_key(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    await sandbox.create("IncomingPayments", {  # two applications: unmappable
        "CardCode": "C0001", "TransferSum": 2, "TransferAccount": "57200000",
        "Remarks": "payment/holded/x9",
        "PaymentInvoices": [{"DocEntry": 1, "SumApplied": 1}, {"DocEntry": 1, "SumApplied": 1}]})
    src = source(sandbox, http, streams=("IncomingPayments",))
    _, events = await src.poll(None, clock.advance(1))
    assert "payment/holded/x9" not in [e["entity_key"] for e in events]
    assert [p.entity_key for p in src.parked] == ["payment/holded/x9"]


async def test_event_ids_are_stable_across_sources(sandbox: SapSandbox, http: httpx.AsyncClient,
                                                   clock: FakeClock) -> None:
    now = clock.advance(1)
    _, first = await source(sandbox, http).poll(None, now)
    _, second = await source(sandbox, http).poll(None, now + dt.timedelta(seconds=5))
    assert sorted(e["event_id"] for e in first) == sorted(e["event_id"] for e in second)


def test_unknown_stream_is_refused(sandbox: SapSandbox) -> None:
    with pytest.raises(ValueError, match="Orders"):
        SapB1Source(object(), mapping=MAPPING, streams=("Orders",))  # type: ignore[arg-type]


async def test_the_payment_mark_is_numeric_past_nine(sandbox: SapSandbox, http: httpx.AsyncClient,
                                                     clock: FakeClock) -> None:
    src = source(sandbox, http, streams=("IncomingPayments",))
    state, _ = await src.poll(None, clock.advance(1))
    for _ in range(9):  # DocEntry 2..10: "10" < "9" as text
        await sandbox.create("IncomingPayments", {
            "CardCode": "C0001", "TransferSum": 1, "TransferAccount": "57200000",
            "PaymentInvoices": [{"DocEntry": 1, "SumApplied": 1}]})
    state, events = await src.poll(state, clock.advance(1))
    assert [e["source_id"] for e in events] == [str(n) for n in range(2, 11)]
    assert state["IncomingPayments"].id_mark == 10
    _, again = await src.poll(state, clock.advance(1))
    assert again == []
