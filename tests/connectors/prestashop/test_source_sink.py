"""PrestaShop source and sink against the in-process sandbox."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.base.contracts import MemoryLedger
from connectors.base.errors import SkipRecord
from connectors.prestashop.client import PrestaShopClient
from connectors.prestashop.sandbox import KEY, PrestaShopSandbox
from connectors.prestashop.sink import PrestaShopSink
from connectors.prestashop.source import (
    PrestaShopPoller, PrestaShopPollState, PrestaShopSource, parse_push,
)
from tests.connectors.prestashop.support import MAPPING, command, levante, lucia, make_client


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def keys(events: list[dict]) -> list[str]:
    return sorted(e["entity_key"] for e in events)


async def test_first_poll_reports_the_seeded_shop(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    state, events = await PrestaShopSource(make_client(sb, http), MAPPING).poll(None, now())
    assert keys(events) == ["contact/prestashop/1", "contact/prestashop/2",
                            "invoice/prestashop/1", "invoice/prestashop/2",
                            "payment/prestashop/1", "payment/prestashop/2",
                            "product/prestashop/1", "product/prestashop/2",
                            "product/prestashop/3"]  # order 3: no invoice; no combinations
    by_key = {e["entity_key"]: e for e in events}
    invoice = by_key["invoice/prestashop/1"]["payload"]
    assert invoice["totals"]["total"] == Decimal("276.10") and invoice["payment_status"] == "paid"
    assert [line["sku"] for line in invoice["lines"]] == ["TAL-001", "ACE-002", None]
    payment = by_key["payment/prestashop/2"]["payload"]
    assert payment["invoice_key"] == "invoice/prestashop/2" and payment["method"] == "tarjeta"
    assert all(e["lane"] == "bulk" for e in events)
    ts = by_key["contact/prestashop/1"]["source_ts"]
    assert ts.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))  # Madrid
    assert PrestaShopPollState.from_json(state.to_json()) == state
    polled = [parse_qs(r.query) for r in sb.requests if r.path == "/api/orders"]
    assert polled[0]["date"] == ["1"] and polled[0]["filter[date_upd]"][0].startswith("[1970")


async def test_an_address_change_re_emits_its_contact_once(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    source = PrestaShopSource(make_client(sb, http), MAPPING, batch=1)
    state, _ = await source.poll(None, now())
    await sb.store.patch("addresses", 2, {"phone": "+34 910 000 000"})
    state, events = await source.poll(state, now())
    assert keys(events) == ["contact/prestashop/2"]
    assert events[0]["payload"]["phone"] == "+34 910 000 000" and events[0]["lane"] == "realtime"
    _, again = await source.poll(state, now())
    assert again == []


async def test_payments_come_by_id_mark_and_with_a_late_invoice(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    source = PrestaShopSource(make_client(sb, http), MAPPING)
    state, _ = await source.poll(None, now())
    # A second payment on order 2 (no date_upd on order_payments: the id mark finds it); the
    # shop also updates the order's total_paid_real, so the invoice moves to paid.
    await sb.store.insert("order_payments", {"order_reference": "OHSATSERP", "amount": "71.00",
                                             "id_currency": "1", "payment_method": "Tarjeta"})
    await sb.store.patch("orders", 2, {"total_paid_real": "121.00"})
    # Order 3 is paid by wire (payment first), then invoiced.
    await sb.store.insert("order_payments", {"order_reference": "QWERTYUIO", "amount": "9.35",
                                             "id_currency": "1", "payment_method": "Wire"})
    state, events = await source.poll(state, now())
    # The order's events come again with it (payment 2 unchanged: same event_id as before);
    # payment 4 waits for order 3's invoice.
    assert keys(events) == ["invoice/prestashop/2", "payment/prestashop/2", "payment/prestashop/3"]
    assert next(e for e in events if e["entity"] == "invoice")["payload"]["payment_status"] == "paid"
    await sb.store.insert("order_invoices", {"id_order": "3", "number": "3",
                                             "total_paid_tax_excl": "8.50",
                                             "total_paid_tax_incl": "9.35",
                                             "total_shipping_tax_excl": "0.00",
                                             "total_discount_tax_excl": "0.00"})
    await sb.store.patch("orders", 3, {"invoice_number": "3", "total_paid_real": "9.35"})
    state, events = await source.poll(state, now())
    assert keys(events) == ["invoice/prestashop/3", "payment/prestashop/4"]
    assert events[0]["lane"] == "realtime"
    assert {e["payload"]["invoice_key"] for e in events if e["entity"] == "payment"} == {
        "invoice/prestashop/3"}
    _, again = await source.poll(state, now())
    assert again == []


async def test_unmappable_records_are_skipped_with_reasons(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    await sb.store.patch("products", 2, {"id_tax_rules_group": "9"})
    source = PrestaShopSource(make_client(sb, http), MAPPING, streams=("products",))
    _, events = await source.poll(None, now())
    assert keys(events) == ["product/prestashop/1", "product/prestashop/3"]
    assert source.skipped[0][:2] == ("products", 2) and "tax rule group 9" in source.skipped[0][2]


async def test_push_bodies_name_records_to_re_read(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    refs = parse_push(b'[{"object": "Order", "id": "1"}, {"resource": "customers", "id": 2}]')
    assert [(r.resource, r.ids) for r in refs] == [("orders", (1,)), ("customers", (2,))]
    events = await PrestaShopSource(make_client(sb, http), MAPPING).fetch(refs)
    assert keys(events) == ["contact/prestashop/2", "invoice/prestashop/1", "payment/prestashop/1"]
    with pytest.raises(SkipRecord):
        parse_push(b'{"object": "Cart", "id": 1}')


async def test_sink_parks_payments_and_invoices(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    sink = PrestaShopSink(make_client(sb, http), MAPPING, MemoryLedger())
    before = len(sb.requests)
    parked = (await sink.execute(command("payment", "payment/holded/p1", {"amount": "1"}))).result
    assert parked["status"] == "parked" and "not written back" in parked["reason"]
    on_account = (await sink.execute(command("payment", "payment/holded/p2", {
        "invoice_key": None, "contact_key": "contact/prestashop/2", "amount": "50.00"}))).result
    assert on_account["status"] == "parked"
    assert "payment on account (no invoice) is not supported by PrestaShop" in on_account["reason"]
    assert len(sb.requests) == before  # nothing asked of the shop


async def test_sink_finds_an_unlinked_customer_by_email_and_writes_dni(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    sink = PrestaShopSink(make_client(sb, http), MAPPING, MemoryLedger())
    cmd = command("contact", "contact/holded/abc", lucia(tax_id="X7654321B"))
    outcome = (await sink.execute(cmd)).result
    assert outcome["status"] == "succeeded" and outcome["target_id"] == "2"
    address = await sb.store.get("addresses", 2)
    assert address is not None and address["dni"] == "X7654321B" and address["address2"] == "3º B"
    assert (await sink.execute(cmd)).result["status"] == "already_done"
    stranger = command("contact", "contact/holded/zzz", lucia(email="nadie@example.es"))
    parked = (await sink.execute(stranger)).result
    assert parked["status"] == "parked" and "not supported" in parked["reason"]


async def test_sink_does_not_overwrite_an_address_the_shop_changed_since_the_engine_knew_it(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    # The worker builds a sink per command: what the guard knows must live in the ledger.
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    sb.store.clock = lambda: start
    ledger, key = MemoryLedger(), "contact/prestashop/1"

    def sink() -> PrestaShopSink:
        return PrestaShopSink(make_client(sb, http), MAPPING, ledger)
    first = await sink().execute(command("contact", key, levante(tax_id="ESB1")))
    assert first.result["status"] == "succeeded"
    # The shop edits the address after our write, before the engine has read it...
    sb.store.clock = lambda: start + dt.timedelta(seconds=10)
    await sb.store.patch("addresses", 1, {"vat_number": "ESB9"})
    # ...so the next write, decided without that edit, must not overwrite it.
    unseen = await sink().execute(command("contact", key, levante(tax_id="ESB2")))
    assert unseen.result["status"] == "parked" and "not overwritten" in unseen.result["reason"]
    assert not unseen.redrive and unseen.conflicts == []  # the merge decides again
    assert (await sb.store.get("addresses", 1))["vat_number"] == "ESB9"  # type: ignore[index]
    # Once the engine has read the shop's change (base_ts), its decision is written.
    seen_ms = int((start + dt.timedelta(seconds=10)).timestamp() * 1000)
    decided = await sink().execute(command("contact", key, levante(tax_id="ESB3"), base_ts=seen_ms))
    assert decided.result["status"] == "succeeded", decided.result
    # Our own write is no unseen change for the next command, even one built before its echo.
    sb.store.clock = lambda: start + dt.timedelta(seconds=20)
    after_ours = await sink().execute(command("contact", key, levante(tax_id="ESB4")))
    assert after_ours.result["status"] == "succeeded", after_ours.result
    assert (await sb.store.get("addresses", 1))["vat_number"] == "ESB4"  # type: ignore[index]


async def test_a_lost_put_is_repeated_harmlessly(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    sb.faults.lose_next_writes = 1
    sink = PrestaShopSink(make_client(sb, http), MAPPING, MemoryLedger())
    result = (await sink.execute(command("contact", "contact/prestashop/2", lucia(tax_id="Z1")))).result
    assert result["status"] == "succeeded"
    puts = [r for r in sb.requests if r.method == "PUT"]
    assert [r.outcome for r in puts] == ["dropped", "response"]
    assert not any(r.method == "POST" for r in sb.requests)


class ChangesDuringTheWalk(PrestaShopClient):
    """The shop edits customer 1 right after the first page of customers was read."""

    sandbox: PrestaShopSandbox
    changed = False

    async def page(self, resource: str, **kwargs: Any) -> list[dict[str, Any]]:
        rows = await super().page(resource, **kwargs)
        if resource == "customers" and not self.changed:
            self.changed = True
            later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
            clock, self.sandbox.store.clock = self.sandbox.store.clock, lambda: later
            await self.sandbox.store.patch("customers", 1, {"note": "VIP"})
            self.sandbox.store.clock = clock
        return rows


async def test_a_record_changed_mid_walk_does_not_shift_the_pages(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    client = ChangesDuringTheWalk(http, base_url=sb.url, api_key=KEY)
    client.sandbox = sb
    source = PrestaShopSource(client, MAPPING, batch=1, streams=("customers",))
    _, events = await source.poll(None, now())
    # Customer 1 left the window after page 1; by offset, page 2 (offset 1) would have been
    # empty and customer 2 skipped for good. By id it is read.
    assert keys(events) == ["contact/prestashop/1", "contact/prestashop/2"]
    walked = [parse_qs(r.query)["filter[id]"][0] for r in sb.requests if r.path == "/api/customers"
              and "filter[id]" in parse_qs(r.query) and "date" in parse_qs(r.query)]
    assert walked == ["[1,2147483647]", "[2,2147483647]", "[3,2147483647]"]


async def test_the_worker_poller_keeps_its_state_as_json(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    poller = PrestaShopPoller(make_client(sb, http), lambda: MAPPING)
    state, events = await poller.poll(None, now())
    assert isinstance(state, str) and len(events) == 9
    assert (await poller.poll(state, now()))[1] == []


async def test_a_command_the_ledger_holds_as_parked_runs_when_re_driven(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    """The worker's ledger records parked results too: a re-driven command runs again."""
    from connectors.base.contracts import result

    ledger = MemoryLedger()
    cmd = command("contact", "contact/holded/abc", lucia(tax_id="X7654321B"))
    ledger.put(cmd["command_id"], result(cmd, "parked", 1, reason="parked before"))
    outcome = (await PrestaShopSink(make_client(sb, http), MAPPING, ledger).execute(cmd)).result
    assert outcome["status"] == "succeeded"
    address = await sb.store.get("addresses", 2)
    assert address is not None and address["dni"] == "X7654321B"
