"""Inventory kept in Holded reaches the shop, end to end through the real Kafka worker: a
level changed in the Holded sandbox becomes the variant's available quantity in the Shopify
sandbox, or the product's quantity for sale in the PrestaShop sandbox, once, and further polls
of both systems send nothing more (no ping-pong). A Holded product of kind variants reaches
Shopify variant by variant, and PrestaShop combination by combination, by SKU; an SAP item
whose SKU Holded keeps as a variant gets its levels written to that variant."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.devrun.sandboxes import start_erp_sandbox
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.integration.test_odoo_flow import CENTRAL, MAPPING
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
KEY = "sandbox-key"


@pytest.fixture
async def holded():
    server = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    yield server
    await server.stop()


def example_with(tmp: Path, section: str, after: str, line: str) -> Path:
    """The example mapping with ``line`` added to ``section`` after its line ``after``."""
    text = MAPPING.read_text(encoding="utf-8")
    assert text.count(after) == 1, f"the example's {section} section changed"
    path = tmp / f"mapping-{section}-stock.yaml"
    path.write_text(text.replace(after, f"{after}    {line}\n"), encoding="utf-8")
    return path


async def deliver(holded, product: dict, units: int, item: str | None = None) -> None:
    """A delivery of ``units`` booked in Holded into central, for the product or for its
    variant ``item``."""
    async with httpx.AsyncClient(headers={"key": KEY}) as http:
        answer = await http.put(f"{holded.v1_url}/products/{product['id']}/stock",
                                json={"stock": {CENTRAL: {item or product["id"]: units}}})
        assert answer.json()["status"] == 1, answer.text


SHIRT, SHIRT_M, SHIRT_L = "5f1a0000000000000000aa01", "5f1a0000000000000000aa02", "5f1a0000000000000000aa03"


async def shirt_with_variants(holded) -> dict:
    """A shirt kept in Holded with variants, as Holded's app makes it (the API creates no
    variants): size M is the shop's CAM-001, with 5 units in central; size L (CAM-002) the
    shop does not sell."""
    [shirt] = await holded.insert("products", [{
        "id": SHIRT, "kind": "variants", "name": "Camiseta Holded", "sku": "", "price": 16.446281,
        "taxes": ["s_iva_21"], "variants": [
            {"id": SHIRT_M, "sku": "CAM-001", "price": 16.446281, "stockByWarehouse": {CENTRAL: 5}},
            {"id": SHIRT_L, "sku": "CAM-002", "price": 16.446281, "stockByWarehouse": {CENTRAL: 2}}]}])
    return shirt


async def stays_quiet(flow, holded, shop: str, writes) -> int:
    """More Holded polls send nothing more: no command to either system, no stock write
    (``writes()`` counts the shop's). Returns the writes made."""
    await flow.wait_idle(60)
    settled = len(await flow.commands(shop)) + len(await flow.commands("holded"))
    made, seen = writes(), len(holded.requests)

    async def more_polls():
        return len(holded.requests) >= seen + 30 or None
    await wait_for(more_polls, 60, "more Holded polls", flow.worker)
    await flow.wait_idle(60)
    assert len(await flow.commands(shop)) + len(await flow.commands("holded")) == settled
    assert writes() == made
    return made


async def stock_flow(own_flow, holded, system: str, settings: dict, mapping: Path):
    """A worker for Holded (reading stock) and the shop ``system`` (writing it), ``mapping``
    published."""
    flow = await own_flow(
        systems=("holded", system), poll_interval_s=1.0,
        holded=HoldedSettings(api_url=holded.url, api_key=KEY, requests_per_second=20,
                              read_stock=True),
        **{system: settings[system].model_copy(update={"write_stock": True})})
    await publish_mapping(flow.settings, mapping)
    return flow


async def holded_product(flow, holded, sku: str) -> dict:
    """The shop's product ``sku`` once it has reached Holded (the shops report no levels)."""
    async def in_holded():
        found = await holded.all("products", sku=sku)
        return found[0] if found else None
    return await wait_for(in_holded, 180, f"{sku} in Holded", flow.worker)


async def test_a_stock_change_in_holded_reaches_the_shopify_variant(own_flow, holded, tmp_path):
    shop, settings = await start_erp_sandbox("shopify")
    location = shop.seeded["location"]["id"]
    shirt = await shirt_with_variants(holded)
    try:
        flow = await stock_flow(own_flow, holded, "shopify", settings, example_with(
            tmp_path, "shopify", "    sales_channels: {online_store: web, pos: tienda}\n",
            f'warehouses: {{"{location}": central}}'))
        product = await holded_product(flow, holded, "GIR-500")

        def shop_follows(units: int):
            async def check():
                return (await shop.available("GIR-500")) == {location: units} or None
            return check
        # Holded is the master: a product it holds no unit of is sold out in the shop too.
        await wait_for(shop_follows(0), 120, "GIR-500 at 0 in Shopify", flow.worker)
        await deliver(holded, product, 7)
        await wait_for(shop_follows(7), 120, "GIR-500 at 7 in Shopify", flow.worker)
        assert await shop.available("GIR-1000") == {location: 0}

        # The shirt's variant M is the shop's CAM-001 (seeded at 12): Holded's 5, then 5 + 4.
        def variant_follows(units: int):
            async def check():
                return (await shop.available("CAM-001")) == {location: units} or None
            return check
        await wait_for(variant_follows(5), 120, "CAM-001 at 5 in Shopify", flow.worker)
        await deliver(holded, shirt, 4, item=SHIRT_M)
        await wait_for(variant_follows(9), 120, "CAM-001 at 9 in Shopify", flow.worker)

        await stays_quiet(flow, holded, "shopify", lambda: sum(
            r.operation == "InventorySetQuantities" for r in shop.requests))
        results = [r for r in await flow.read_results("shopify")
                   if r["entity_key"] == f"product/holded/{product['id']}"]
        assert results and all(r["status"] == "succeeded" for r in results), results
        medium = [r["status"] for r in await flow.read_results("shopify")
                  if r["entity_key"] == f"product/holded/{SHIRT}.{SHIRT_M}"]
        assert medium and set(medium) == {"succeeded"}, medium
        large = [r["reason"] for r in await flow.read_results("shopify")
                 if r["entity_key"] == f"product/holded/{SHIRT}.{SHIRT_L}"]
        assert large and all("does not sell it" in why for why in large), large
        # The shop's CAM-001 reached Holded, which holds that sku on the variant: linked to
        # it, nothing written (a shop reports no levels), no simple product created beside it.
        assert await holded.all("products", sku="CAM-001") == []
        assert await holded.get("products", SHIRT) == shirt | {"variants": [
            {**shirt["variants"][0], "stockByWarehouse": {CENTRAL: 9}}, shirt["variants"][1]]}
        cam = [r for r in await flow.read_results("holded") if "CAM-001" in (r.get("reason") or "")]
        assert cam and {(r["status"], r["target_id"]) for r in cam} == {
            ("succeeded", f"{SHIRT}.{SHIRT_M}")}, cam
        assert all("only its stock is written" in r["reason"] for r in cam), cam
    finally:
        await shop.stop()


async def test_a_stock_change_in_holded_reaches_the_prestashop_product(own_flow, holded, tmp_path):
    shop, settings = await start_erp_sandbox("prestashop")
    shirt = await shirt_with_variants(holded)
    try:
        flow = await stock_flow(own_flow, holded, "prestashop", settings, example_with(
            tmp_path, "prestashop", '    sales_channels: {"1": web}\n',
            "stock_warehouse: central"))
        product = await holded_product(flow, holded, "TAL-001")

        def shop_follows(record_id: int, units: str):
            async def check():
                record = await shop.store.get("stock_availables", record_id)
                return (record or {}).get("quantity") == units or None
            return check
        # Holded is the master: a product it holds no unit of is sold out in the shop too.
        await wait_for(shop_follows(1, "0"), 120, "TAL-001 at 0 in PrestaShop", flow.worker)
        await deliver(holded, product, 7)
        await wait_for(shop_follows(1, "7"), 120, "TAL-001 at 7 in PrestaShop", flow.worker)
        await wait_for(shop_follows(2, "0"), 60, "ACE-002 at 0 in PrestaShop", flow.worker)

        # The shop sells the shirt (product 3, reference CAM) in sizes: combinations CAM-001
        # (record 4, seeded at 4), CAM-002 (record 5, 6) and CAM-003 (record 6, 2). Holded's
        # variants M and L are CAM-001 and CAM-002: 5 then 5 + 4, and 2.
        await wait_for(shop_follows(4, "5"), 120, "CAM-001 at 5 in PrestaShop", flow.worker)
        await deliver(holded, shirt, 4, item=SHIRT_M)
        await wait_for(shop_follows(4, "9"), 120, "CAM-001 at 9 in PrestaShop", flow.worker)
        await wait_for(shop_follows(5, "2"), 60, "CAM-002 at 2 in PrestaShop", flow.worker)
        # The shop's own product CAM reached Holded as a product; its level is not written over
        # the sum PrestaShop keeps of the sizes.
        cam = await holded_product(flow, holded, "CAM")

        made = await stays_quiet(flow, holded, "prestashop", lambda: sum(
            r.method == "PUT" and r.path.startswith("/api/stock_availables")
            for r in shop.requests))
        assert made == 6  # TAL-001 to 0 then 7, ACE-002 to 0, CAM-001 to 5 then 9, CAM-002 to 2
        assert [r["quantity"] for r in await shop.store.all("stock_availables")] == [
            "7", "0", "13", "9", "2", "2"]  # the shirt's own record: the sum, by PrestaShop
        results = await flow.read_results("prestashop")
        simple = [r for r in results if r["entity_key"] == f"product/holded/{product['id']}"]
        assert simple and all(r["status"] == "succeeded" for r in simple), simple
        medium = [(r["status"], r["target_id"]) for r in results
                  if r["entity_key"] == f"product/holded/{SHIRT}.{SHIRT_M}"]
        assert medium and set(medium) == {("succeeded", "3-1")}, medium
        parent = [r for r in results if r["entity_key"] == f"product/holded/{cam['id']}"]
        assert parent and all(r["status"] == "parked" and "sum of its combinations'" in r["reason"]
                              for r in parent), parent
    finally:
        await shop.stop()


BOX, BOX_100, BOX_500 = "5f1a0000000000000000bb01", "5f1a0000000000000000bb02", "5f1a0000000000000000bb03"


async def test_an_sap_items_levels_reach_the_holded_variant_holding_its_sku(
        own_flow, holded, tmp_path):
    """SAP's A0001 (120 units in warehouse 01, canonical central) is, in Holded, the box of
    100 of a product with variants. Its level reaches that variant, a delivery in SAP follows,
    the variant's name and price stay Holded's, and the variant Holded reads back (with
    HOLDED_READ_STOCK) goes nowhere: no shop writes stock here, and neither SAP nor Holded
    gets a product born in Holded. Each level once."""
    sap, settings = await start_erp_sandbox("sap_b1")
    [box] = await holded.insert("products", [{
        "id": BOX, "kind": "variants", "name": "Tornillos M8", "sku": "", "price": 9.0,
        "taxes": ["s_iva_21"], "variants": [
            {"id": BOX_100, "sku": "A0001", "price": 9.0, "stockByWarehouse": {CENTRAL: 3}},
            {"id": BOX_500, "sku": "A0001-500", "price": 40.0, "stockByWarehouse": {CENTRAL: 1}}]}])
    try:
        flow = await own_flow(
            systems=("holded", "sap_b1"), poll_interval_s=1.0,
            holded=HoldedSettings(api_url=holded.url, api_key=KEY, requests_per_second=20,
                                  read_stock=True),
            sap_b1=settings["sap_b1"].model_copy(update={"stock_interval_s": 0}))
        await publish_mapping(flow.settings, MAPPING)

        def variant_holds(units: int):
            async def check():
                held = (await holded.get("products", BOX))["variants"][0]["stockByWarehouse"]
                return held == {CENTRAL: units} or None
            return check
        await wait_for(variant_holds(120), 180, "120 units of A0001 on Holded's variant", flow.worker)
        await sap.move_stock("A0001", "01", -5)  # a delivery posted in SAP
        await wait_for(variant_holds(115), 120, "115 units of A0001 on the variant", flow.worker)

        await flow.wait_idle(60)
        settled = len(await flow.commands("holded")) + len(await flow.commands("sap_b1"))
        seen = len(sap.requests)

        async def more_polls():
            return len(sap.requests) >= seen + 20 or None
        await wait_for(more_polls, 60, "more SAP polls and stock sweeps", flow.worker)
        await flow.wait_idle(60)
        assert len(await flow.commands("holded")) + len(await flow.commands("sap_b1")) == settled
        born_in_holded = [c["entity_key"] for s in ("holded", "sap_b1") for c in await flow.commands(s)
                          if c["entity_key"].startswith("product/holded/")]
        assert born_in_holded == []
        puts = [r for r in holded.requests if r.method == "PUT" and r.path.endswith(f"{BOX}/stock")]
        assert len(puts) == 2  # +117, then -5: each level once, nothing re-sent
        assert not [r for r in holded.requests if r.method == "PUT" and r.path.endswith(BOX)]
        assert await holded.get("products", BOX) == box | {"variants": [
            {**box["variants"][0], "stockByWarehouse": {CENTRAL: 115}}, box["variants"][1]]}
        assert await holded.all("products", sku="A0001") == []  # no simple product beside it
        results = [r for r in await flow.read_results("holded")
                   if r["entity_key"] == "product/sap_b1/A0001"]
        assert results and {(r["status"], r["target_id"]) for r in results} == {
            ("succeeded", f"{BOX}.{BOX_100}")}, results
    finally:
        await sap.stop()
