"""Inventory kept in Holded reaches the shop, end to end through the real Kafka worker: a
level changed in the Holded sandbox becomes the variant's available quantity in the Shopify
sandbox, or the product's quantity for sale in the PrestaShop sandbox, once, and further polls
of both systems send nothing more (no ping-pong)."""
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


def mapping_with_location(tmp: Path, location: str) -> Path:
    """The example mapping, with the shop's location as the canonical warehouse central."""
    shop_line = "    sales_channels: {online_store: web, pos: tienda}\n"
    text = MAPPING.read_text(encoding="utf-8")
    assert text.count(shop_line) == 1, "the example's shopify section changed"
    path = tmp / "mapping-stock.yaml"
    path.write_text(text.replace(shop_line, f'{shop_line}    warehouses: {{"{location}": central}}\n'),
                    encoding="utf-8")
    return path


async def test_a_stock_change_in_holded_reaches_the_shopify_variant(own_flow, holded, tmp_path):
    shop, settings = await start_erp_sandbox("shopify")
    location = shop.seeded["location"]["id"]
    try:
        flow = await own_flow(
            systems=("holded", "shopify"), poll_interval_s=1.0,
            holded=HoldedSettings(api_url=holded.url, api_key=KEY, requests_per_second=20,
                                  read_stock=True),
            shopify=settings["shopify"].model_copy(update={"write_stock": True}))
        await publish_mapping(flow.settings, mapping_with_location(tmp_path, location))

        async def in_holded():  # the shop's variants reach Holded as products (no levels)
            found = await holded.all("products", sku="GIR-500")
            return found[0] if found else None
        product = await wait_for(in_holded, 180, "GIR-500 in Holded", flow.worker)

        def shop_follows(units: int):
            async def check():
                return (await shop.available("GIR-500")) == {location: units} or None
            return check
        # Holded is the master: a product it holds no unit of is sold out in the shop too.
        await wait_for(shop_follows(0), 120, "GIR-500 at 0 in Shopify", flow.worker)
        async with httpx.AsyncClient(headers={"key": KEY}) as http:  # a delivery, in Holded
            answer = await http.put(f"{holded.v1_url}/products/{product['id']}/stock",
                                    json={"stock": {CENTRAL: {product["id"]: 7}}})
            assert answer.json()["status"] == 1, answer.text
        await wait_for(shop_follows(7), 120, "GIR-500 at 7 in Shopify", flow.worker)
        assert await shop.available("GIR-1000") == {location: 0}

        await flow.wait_idle(60)
        settled = len(await flow.commands("shopify")) + len(await flow.commands("holded"))
        writes = sum(r.operation == "InventorySetQuantities" for r in shop.requests)
        seen = len(holded.requests)

        async def more_polls():
            return len(holded.requests) >= seen + 30 or None
        await wait_for(more_polls, 60, "more Holded polls", flow.worker)
        await flow.wait_idle(60)
        assert len(await flow.commands("shopify")) + len(await flow.commands("holded")) == settled
        assert sum(r.operation == "InventorySetQuantities" for r in shop.requests) == writes
        results = [r for r in await flow.read_results("shopify")
                   if r["entity_key"] == f"product/holded/{product['id']}"]
        assert results and all(r["status"] == "succeeded" for r in results), results
    finally:
        await shop.stop()


def mapping_selling_from_central(tmp: Path) -> Path:
    """The example mapping, with the PrestaShop shop selling from the warehouse central."""
    shop_line = '    sales_channels: {"1": web}\n'
    text = MAPPING.read_text(encoding="utf-8")
    assert text.count(shop_line) == 1, "the example's prestashop section changed"
    path = tmp / "mapping-ps-stock.yaml"
    path.write_text(text.replace(shop_line, f"{shop_line}    stock_warehouse: central\n"),
                    encoding="utf-8")
    return path


async def test_a_stock_change_in_holded_reaches_the_prestashop_product(own_flow, holded, tmp_path):
    shop, settings = await start_erp_sandbox("prestashop")
    try:
        flow = await own_flow(
            systems=("holded", "prestashop"), poll_interval_s=1.0,
            holded=HoldedSettings(api_url=holded.url, api_key=KEY, requests_per_second=20,
                                  read_stock=True),
            prestashop=settings["prestashop"].model_copy(update={"write_stock": True}))
        await publish_mapping(flow.settings, mapping_selling_from_central(tmp_path))

        async def in_holded():  # the shop's products reach Holded (PrestaShop reports no levels)
            found = await holded.all("products", sku="TAL-001")
            return found[0] if found else None
        product = await wait_for(in_holded, 180, "TAL-001 in Holded", flow.worker)

        def shop_follows(product_id: int, units: str):
            async def check():
                record = await shop.store.get("stock_availables", product_id)
                return (record or {}).get("quantity") == units or None
            return check
        # Holded is the master: a product it holds no unit of is sold out in the shop too.
        await wait_for(shop_follows(1, "0"), 120, "TAL-001 at 0 in PrestaShop", flow.worker)
        async with httpx.AsyncClient(headers={"key": KEY}) as http:  # a delivery, in Holded
            answer = await http.put(f"{holded.v1_url}/products/{product['id']}/stock",
                                    json={"stock": {CENTRAL: {product["id"]: 7}}})
            assert answer.json()["status"] == 1, answer.text
        await wait_for(shop_follows(1, "7"), 120, "TAL-001 at 7 in PrestaShop", flow.worker)
        await wait_for(shop_follows(2, "0"), 60, "ACE-002 at 0 in PrestaShop", flow.worker)

        def stock_puts() -> int:
            return sum(r.method == "PUT" and r.path.startswith("/api/stock_availables")
                       for r in shop.requests)
        await flow.wait_idle(60)
        settled = len(await flow.commands("prestashop")) + len(await flow.commands("holded"))
        writes, seen = stock_puts(), len(holded.requests)

        async def more_polls():
            return len(holded.requests) >= seen + 30 or None
        await wait_for(more_polls, 60, "more Holded polls", flow.worker)
        await flow.wait_idle(60)
        assert len(await flow.commands("prestashop")) + len(await flow.commands("holded")) == settled
        assert stock_puts() == writes == 3  # TAL-001 to 0 then 7, ACE-002 to 0: each once
        results = [r for r in await flow.read_results("prestashop")
                   if r["entity_key"] == f"product/holded/{product['id']}"]
        assert results and all(r["status"] == "succeeded" for r in results), results
    finally:
        await shop.stop()
