"""ShopifySource and ShopifySink against the sandbox: documents, webhooks, write-back."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiohttp import web

from connectors.base import polling
from connectors.base.contracts import MemoryLedger
from connectors.shopify.sandbox import ShopifySandbox
from connectors.shopify.sink import ShopifySink
from connectors.shopify.source import ShopifySource, search_window
from connectors.shopify.webhooks import Delivery, DeliveryLog, WebhookError, receive
from tests.connectors.shopify.support import (
    MAPPING, command, contact_payload, invoice_payload, make_client, mapping_with, numeric,
)
from tests.sandboxes.conftest import eventually

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def by_key(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["entity_key"]: e for e in events}


def test_the_search_window_spans_overlap_to_signpost() -> None:
    window = polling.begin(polling.PollState(watermark=NOW), NOW + dt.timedelta(minutes=1)
                           ).window()
    assert search_window(window) == ("updated_at:>'2029-12-31T23:59:55Z' AND "
                                     "updated_at:<='2030-01-01T00:01:01Z'")


async def test_paid_orders_refunds_and_transactions_become_documents(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING, streams=("orders",))
    _, events = await source.poll(None, dt.datetime.now(dt.UTC))
    events_by_key = by_key(events)
    seeded = sandbox.seeded
    paid = events_by_key[f"invoice/shopify/{numeric(seeded['order_paid'])}"]
    assert paid["payload"]["doc_type"] == "invoice" and paid["source_ts"].tzinfo is not None
    assert f"invoice/shopify/{numeric(seeded['order_pending'])}" not in events_by_key
    refund_id = numeric(seeded["order_refunded"]["refunds"][0])
    credit = events_by_key[f"invoice/shopify/{refund_id}"]["payload"]
    assert credit["doc_type"] == "credit_note"
    assert credit["corrects"] == f"invoice/shopify/{numeric(seeded['order_refunded'])}"
    payments = [e for e in events if e["entity"] == "payment"]
    assert len(payments) == 3  # one sale per paid order; the refund transaction is not one
    assert source.parked == []


async def test_orders_can_become_sales_receipts(sandbox: ShopifySandbox,
                                                http: httpx.AsyncClient) -> None:
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING, streams=("orders",),
                           order_documents="sales_receipt")
    _, events = await source.poll(None, dt.datetime.now(dt.UTC))
    kinds = {e["payload"]["doc_type"] for e in events if e["entity"] == "invoice"}
    assert kinds == {"sales_receipt", "credit_note"}


async def test_a_variant_without_sku_is_parked_not_emitted(sandbox: ShopifySandbox,
                                                           http: httpx.AsyncClient) -> None:
    await sandbox.insert("Product", {"title": "Lote Navidad", "status": "DRAFT",
                                     "productType": None, "variants": {"nodes": [
                                         {"id": "gid://shopify/ProductVariant/1", "sku": None,
                                          "title": "Default Title", "price": "30.00"}]}})
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING, streams=("products",))
    _, events = await source.poll(None, dt.datetime.now(dt.UTC))
    assert {e["payload"]["sku"] for e in events} == {"GIR-500", "GIR-1000", "CAM-001"}
    assert [p.entity_key for p in source.parked] == ["product/shopify/1"]


async def test_product_prices_of_a_shop_that_includes_vat_reach_holded_net(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING, streams=("products",))
    _, events = await source.poll(None, dt.datetime.now(dt.UTC))
    prices = {e["payload"]["sku"]: (e["payload"]["price"], e["payload"]["sales_taxes"])
              for e in events}
    assert prices == {"GIR-500": (Decimal("8.136364"), ["iva_10"]),       # 8.95 with 10 %
                      "GIR-1000": (Decimal("14.090909"), ["iva_10"]),     # 15.50 with 10 %
                      "CAM-001": (Decimal("16.446281"), ["iva_21"])}       # 19.90 with 21 %
    assert [r.operation for r in sandbox.requests].count("Shop") == 1  # once per run
    sandbox.shop["taxesIncluded"] = False
    _, events = await ShopifySource(make_client(sandbox, http), mapping=MAPPING,
                                    streams=("products",)).poll(None, dt.datetime.now(dt.UTC))
    assert {e["payload"]["sku"]: e["payload"]["price"] for e in events}["CAM-001"] == \
        Decimal("19.90")


async def gift_without_metafield(sandbox: ShopifySandbox) -> dict[str, Any]:
    return await sandbox.insert("Product", {
        "title": "Caja regalo", "status": "ACTIVE", "productType": "Regalo", "metafield": None,
        "variants": {"nodes": [{"id": "gid://shopify/ProductVariant/77", "sku": "REGALO-1",
                                "title": "Default Title", "price": "30.00", "barcode": None,
                                "taxable": True, "inventoryItem": {"unitCost": None}}]}})


async def test_a_product_of_no_known_vat_is_parked_when_prices_include_it(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    gift = await gift_without_metafield(sandbox)
    source = ShopifySource(make_client(sandbox, http),
                           mapping=mapping_with(default_product_tax=None))
    _, events = await source.poll(None, dt.datetime.now(dt.UTC))
    assert "product/shopify/77" not in by_key(events)
    [parked] = [p for p in source.parked if p.entity_key == "product/shopify/77"]
    assert "include VAT" in parked.reasons[0] and "holded_sync.tax" in parked.reasons[0]
    assert "default_product_tax" in parked.reasons[0]
    fetched = await source.events_for([Delivery("products/update", "Product", numeric(gift),
                                                "e7", None)])
    assert fetched == [] and source.parked[-1].entity_key == "product/shopify/77"


async def test_a_product_without_its_vat_metafield_takes_the_mappings_default(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    gift = await gift_without_metafield(sandbox)
    source = ShopifySource(make_client(sandbox, http),
                           mapping=mapping_with(default_product_tax="IVA 21%"),
                           streams=("products",))
    _, events = await source.poll(None, dt.datetime.now(dt.UTC))
    prices = {e["payload"]["sku"]: (e["payload"]["price"], e["payload"]["sales_taxes"])
              for e in events}
    assert prices["REGALO-1"] == (Decimal("24.793388"), ["iva_21"])   # 30.00 with 21 %
    assert prices["GIR-500"] == (Decimal("8.136364"), ["iva_10"])   # its metafield wins
    assert source.parked == []
    [fetched] = await source.events_for([Delivery("products/update", "Product", numeric(gift),
                                                  "e8", None)])
    assert fetched["payload"]["price"] == Decimal("24.793388")


async def test_the_example_mapping_prices_a_product_without_metafield_at_21_percent(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    """Upgrading a tax-included shop: products staff never marked reach Holded (net at the
    example's default, 21 %) instead of parking, so invoices selling them do not wait."""
    gift = await gift_without_metafield(sandbox)
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING)
    _, events = await source.poll(None, dt.datetime.now(dt.UTC))
    assert by_key(events)["product/shopify/77"]["payload"]["price"] == Decimal("24.793388")
    assert source.parked == []
    [fetched] = await source.events_for([Delivery("products/update", "Product", numeric(gift),
                                                  "e9", None)])
    assert fetched["payload"]["sales_taxes"] == ["iva_21"]


async def test_a_product_webhook_reads_the_shop_setting_once_per_batch(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING)
    oil, lucia = sandbox.seeded["oil"], sandbox.seeded["lucia"]
    events = await source.events_for([
        Delivery("products/update", "Product", numeric(oil), "e1", None),
        Delivery("customers/update", "Customer", numeric(lucia), "e2", None)])
    assert sorted(e["payload"].get("price") or 0 for e in events) == [
        0, Decimal("8.136364"), Decimal("14.090909")]
    assert [r.operation for r in sandbox.requests] == ["Nodes", "Shop"]
    await source.events_for([Delivery("customers/update", "Customer", numeric(lucia), "e3",
                                      None)])
    assert [r.operation for r in sandbox.requests].count("Shop") == 1  # no product: not read


async def test_a_record_changed_after_the_signpost_waits_for_the_next_run(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING, streams=("customers",))
    state, first = await source.poll(None, dt.datetime.now(dt.UTC))
    assert len(first) == 3
    lucia = await sandbox.get("Customer", numeric(sandbox.seeded["lucia"]))
    assert lucia is not None
    await sandbox.store.put("Customer", {**lucia, "email": "nueva@example.es"})
    state, second = await source.poll(state, dt.datetime.now(dt.UTC))
    assert [e["payload"]["email"] for e in second] == ["nueva@example.es"]


async def test_deliveries_are_read_again_never_trusted(sandbox: ShopifySandbox,
                                                       http: httpx.AsyncClient) -> None:
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING)
    lucia = sandbox.seeded["lucia"]
    order = sandbox.seeded["order_paid"]
    deliveries = [Delivery("customers/update", "Customer", numeric(lucia), "e1", None),
                  Delivery("orders/paid", "Order", numeric(order), "e2", None),
                  Delivery("orders/paid", "Order", numeric(order), "e3", None),
                  Delivery("products/update", "Product", "999", "e4", None)]  # gone
    events = await source.events_for(deliveries)
    keys = [e["entity_key"] for e in events]
    assert keys.count(f"invoice/shopify/{numeric(order)}") == 1
    assert f"contact/shopify/{numeric(lucia)}" in keys
    nodes = [r for r in sandbox.requests if r.operation == "Nodes"]
    assert len(nodes) == 1  # one batched re-fetch


async def test_a_write_back_arrives_as_a_signed_webhook_and_is_re_read(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    log, received = DeliveryLog(), []

    async def hook(request: web.Request) -> web.Response:
        try:
            delivery = receive(request.headers, await request.read(), sandbox.app_secret, log)
        except WebhookError as error:
            return web.Response(status=error.status)
        received.append(delivery)
        log.remember(delivery.event_id)  # processed: a retry of it is now a replay
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hooks/shopify", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/shopify"
    try:
        sandbox.webhooks.subscribe("customers/update", url)
        lucia = numeric(sandbox.seeded["lucia"])
        sink = ShopifySink(make_client(sandbox, http), mapping=MAPPING, ledger=MemoryLedger())
        await sink.execute(command("contact", "contact/holded/1", contact_payload(),
                                   links={"shopify": lucia}))
        assert await sandbox.webhooks.flush() == 1
        await eventually(lambda: _true(len(received) == 1))
        assert await sandbox.webhooks.send(url, "customers/update", {"id": int(lucia)},
                                           forge=True) == 401
        first = sandbox.webhooks.sent[0]
        assert await sandbox.webhooks.send(url, "customers/update", {"id": int(lucia)},
                                           event_id=first.event_id) == 200  # a replay: no-op
        assert len(received) == 1
        source = ShopifySource(make_client(sandbox, http), mapping=MAPPING)
        [event] = await source.events_for(received)
        assert event["payload"]["email"] == "lucia@nuevo-correo.es"
    finally:
        await runner.cleanup()


async def _true(value: bool) -> bool:
    return value


async def test_the_holded_number_tags_the_order_once(sandbox: ShopifySandbox,
                                                     http: httpx.AsyncClient) -> None:
    order = numeric(sandbox.seeded["order_paid"])
    cmd = command("invoice", f"invoice/shopify/{order}", invoice_payload("F2026-0042"))
    sink = ShopifySink(make_client(sandbox, http), mapping=MAPPING, ledger=MemoryLedger())
    first = (await sink.execute(cmd)).result
    assert (first["status"], first["target_id"]) == ("succeeded", order)
    again = (await ShopifySink(make_client(sandbox, http), mapping=MAPPING,
                               ledger=MemoryLedger()).execute(cmd)).result
    assert again["reason"] == "the order already carries the tag"
    stored = await sandbox.get("Order", order)
    assert stored is not None and stored["tags"] == ["holded:F2026-0042"]
    assert sum(r.operation == "TagsAdd" for r in sandbox.requests) == 1


async def test_unsupported_commands_are_parked_with_a_reason(sandbox: ShopifySandbox,
                                                             http: httpx.AsyncClient) -> None:
    ledger = MemoryLedger()
    sink = ShopifySink(make_client(sandbox, http), mapping=MAPPING, ledger=ledger)
    product = command("product", "product/holded/1", {"sku": "X"})
    born_in_holded = command("contact", "contact/holded/2", contact_payload())
    holded_invoice = command("invoice", "invoice/holded/3", invoice_payload())
    on_account = command("payment", "payment/holded/5", {
        "invoice_key": None, "contact_key": "contact/shopify/1", "amount": "50.00"})
    for cmd, words in ((product, "does not write product"), (born_in_holded, "not supported"),
                       (holded_invoice, "not created from Holded"),
                       (on_account, "does not write payment records")):
        outcome = (await sink.execute(cmd)).result
        assert outcome["status"] == "parked" and words in outcome["reason"], outcome
        assert ledger.get(cmd["command_id"]) is None  # parked commands come back
    assert not [r for r in sandbox.requests if r.operation in ("CustomerUpdate", "TagsAdd")]


async def test_a_b2b_customer_gets_only_email_and_phone(sandbox: ShopifySandbox,
                                                        http: httpx.AsyncClient) -> None:
    marta = numeric(sandbox.seeded["marta"])
    sink = ShopifySink(make_client(sandbox, http), mapping=MAPPING, ledger=MemoryLedger())
    cmd = command("contact", "contact/holded/4", contact_payload(
        name="Otro Nombre S.L.", tax_id="B00000000", email="nuevo@levante.es"),
        links={"shopify": marta})
    assert (await sink.execute(cmd)).result["status"] == "succeeded"
    stored = await sandbox.get("Customer", marta)
    assert stored is not None and stored["email"] == "nuevo@levante.es"
    assert (stored["firstName"], stored["metafield"]) == ("Marta", None)


async def test_a_cleared_tax_id_deletes_the_metafield(sandbox: ShopifySandbox,
                                                      http: httpx.AsyncClient) -> None:
    """Shopify keeps no blank metafield value, so clearing the tax id deletes the metafield;
    read again, the customer already holds the contact and nothing more is sent."""
    lucia = numeric(sandbox.seeded["lucia"])
    assert (await sandbox.get("Customer", lucia))["metafield"]  # seeded with a tax id
    sink = ShopifySink(make_client(sandbox, http), mapping=MAPPING, ledger=MemoryLedger())
    cmd = command("contact", "contact/holded/7", contact_payload(tax_id=None),
                  links={"shopify": lucia})
    assert (await sink.execute(cmd)).result["status"] == "succeeded"
    assert (await sandbox.get("Customer", lucia))["metafield"] is None
    assert [r.operation for r in sandbox.requests if r.operation in (
        "CustomerUpdate", "MetafieldsDelete")] == ["MetafieldsDelete", "CustomerUpdate"]
    again = dict(cmd, command_id="another-command")
    result = (await ShopifySink(make_client(sandbox, http), mapping=MAPPING,
                                ledger=MemoryLedger()).execute(again)).result
    assert (result["status"], result["reason"]) == ("succeeded", "Shopify already holds it")


async def test_shopify_refusing_the_data_fails_the_command(sandbox: ShopifySandbox,
                                                           http: httpx.AsyncClient) -> None:
    lucia = numeric(sandbox.seeded["lucia"])
    ledger = MemoryLedger()
    sink = ShopifySink(make_client(sandbox, http), mapping=MAPPING, ledger=ledger)
    cmd = command("contact", "contact/holded/5", contact_payload(email="sin-arroba"),
                  links={"shopify": lucia})
    outcome = (await sink.execute(cmd)).result
    assert outcome["status"] == "failed" and "Email is invalid" in outcome["reason"]
    assert ledger.get(cmd["command_id"]) == outcome


async def test_a_lost_mutation_response_is_found_by_reading_again(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    lucia = numeric(sandbox.seeded["lucia"])
    sink = ShopifySink(make_client(sandbox, http), mapping=MAPPING, ledger=MemoryLedger())
    cmd = command("contact", "contact/holded/6", contact_payload(), links={"shopify": lucia})
    sandbox.faults.lose_next_writes = 1
    from connectors.base.errors import RetryableError
    with pytest.raises(RetryableError):
        await sink.execute(cmd)
    outcome = (await sink.execute(cmd)).result
    assert outcome["status"] == "succeeded" and outcome["reason"] == "Shopify already holds it"
    assert sum(r.operation == "CustomerUpdate" for r in sandbox.requests) == 1


async def test_a_webhook_re_fetch_and_a_poll_agree_on_event_ids(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    source = ShopifySource(make_client(sandbox, http), mapping=MAPPING)
    _, polled = await source.poll(None, dt.datetime.now(dt.UTC))
    order = sandbox.seeded["order_refunded"]
    fetched = await source.events_for([Delivery("refunds/create", "Order", numeric(order),
                                                "e9", None)])
    assert len(fetched) == 3  # invoice, credit note, the sale (the refund tx is not a payment)
    assert {e["event_id"] for e in fetched} <= {e["event_id"] for e in polled}
