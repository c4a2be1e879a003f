"""ShopifySink with write_stock against the sandbox: a product's stock becomes its variant's
available quantity at the mapped location, exactly, whatever is lost or retried."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from connectors.base.contracts import MemoryLedger
from connectors.base.errors import RetryableError
from connectors.shopify.client import ShopifyClient
from connectors.shopify.errors import AccessDenied, Rejected, UserErrors
from connectors.shopify.sandbox import ShopifySandbox
from connectors.shopify.sink import ShopifySink
from tests.connectors.shopify.support import command, make_client, stock_mapping
from tests.support.products import product_payload


def location(sandbox: ShopifySandbox) -> str:
    return sandbox.seeded["location"]["id"]


def sink(sandbox: ShopifySandbox, client: ShopifyClient, ledger: MemoryLedger | None = None,
         **mapping: Any) -> ShopifySink:
    return ShopifySink(client, mapping=stock_mapping(location(sandbox), **mapping),
                       ledger=ledger or MemoryLedger(), write_stock=True)


def stock_command(sku: str, *levels: tuple[str, str]) -> dict[str, Any]:
    return command("product", "product/holded/64a1f0c2e4b0a10000000f01",
                   product_payload(sku, *levels))


def writes(sandbox: ShopifySandbox) -> int:
    return sum(r.operation == "InventorySetQuantities" for r in sandbox.requests)


async def test_the_stock_becomes_the_variants_available_quantity(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    assert await sandbox.available("GIR-500") == {location(sandbox): 40}
    outcome = (await sink(sandbox, make_client(sandbox, http)).execute(
        stock_command("GIR-500", ("central", "7.0000")))).result
    assert outcome["status"] == "succeeded", outcome
    assert outcome["target_id"] == sandbox.seeded["oil"]["variants"]["nodes"][0]["id"].rsplit("/", 1)[1]
    assert await sandbox.available("GIR-500") == {location(sandbox): 7}
    assert await sandbox.available("GIR-1000") == {location(sandbox): 25}  # other SKUs untouched


async def test_a_level_shopify_already_holds_costs_no_write(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sandbox, make_client(sandbox, http)).execute(
        stock_command("CAM-001", ("central", "12")))).result
    assert outcome["status"] == "succeeded" and "already holds" in outcome["reason"]
    assert writes(sandbox) == 0


async def test_a_retry_after_a_lost_response_leaves_the_same_absolute_level(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    ledger = MemoryLedger()
    writer = sink(sandbox, make_client(sandbox, http), ledger)
    cmd = stock_command("GIR-500", ("central", "9"))
    sandbox.faults.lose_next_writes = 1  # the mutation commits, its answer never arrives
    with pytest.raises(RetryableError):
        await writer.execute(cmd)
    assert await sandbox.available("GIR-500") == {location(sandbox): 9}
    outcome = (await writer.execute(cmd)).result  # the agent's redelivery
    assert outcome["status"] == "succeeded" and ledger.get(cmd["command_id"]) == outcome
    assert await sandbox.available("GIR-500") == {location(sandbox): 9}
    assert writes(sandbox) == 1  # read again, found written: not sent twice
    assert (await writer.execute(cmd)).result["status"] == "already_done"


async def test_setting_the_same_absolute_quantity_twice_is_idempotent(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    client = make_client(sandbox, http)
    item = sandbox.seeded["shirt"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    body = {"input": {"name": "available", "reason": "correction", "ignoreCompareQuantity": True,
                      "quantities": [{"inventoryItemId": item, "locationId": location(sandbox),
                                      "quantity": 5}]}}
    for _ in range(2):
        await client.mutate("InventorySetQuantities", body, field="inventorySetQuantities")
    assert await sandbox.available("CAM-001") == {location(sandbox): 5}


class SaleAfterRead(ShopifyClient):
    """A sale lands in the shop right after the writer's first read of the levels."""

    def __init__(self, sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
        super().__init__(http, shop_url=sandbox.url, access_token=sandbox.access_token,
                         api_version=sandbox.api_version)
        self.sandbox, self.sold = sandbox, False

    async def execute(self, operation: str, variables: Mapping[str, Any] | None = None,
                      **kwargs: Any) -> dict[str, Any]:
        data = await super().execute(operation, variables, **kwargs)
        if operation == "VariantsBySku" and not self.sold:
            self.sold = True
            node = data["productVariants"]["nodes"][0]
            item = await self.sandbox.store.get("InventoryItem", node["inventoryItem"]["id"])
            item["levels"][location(self.sandbox)] -= 1
            await self.sandbox.store.put("InventoryItem", item)
        return data


async def test_a_sale_between_read_and_write_is_read_again_not_overwritten_blind(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    client = SaleAfterRead(sandbox, http)
    outcome = (await sink(sandbox, client).execute(stock_command("GIR-1000", ("central", "20")))).result
    assert outcome["status"] == "succeeded", outcome
    assert await sandbox.available("GIR-1000") == {location(sandbox): 20}
    refused = [r for r in sandbox.requests if r.operation == "InventorySetQuantities"]
    assert len(refused) == 2  # the first, with the stale compareQuantity, was refused


async def test_a_sku_the_shop_does_not_sell_is_parked_with_the_reason_and_not_kept(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    """Routine when the shop sells part of the catalogue: not kept for redrive (no alert)."""
    ledger = MemoryLedger()
    cmd = stock_command("NO-EXISTE", ("central", "3"))
    done = await sink(sandbox, make_client(sandbox, http), ledger).execute(cmd)
    outcome = done.result
    assert outcome["status"] == "parked" and "no Shopify variant has SKU 'NO-EXISTE'" in outcome["reason"]
    assert done.redrive is False
    assert ledger.get(cmd["command_id"]) is None and writes(sandbox) == 0


async def test_a_sku_two_variants_share_is_parked_for_review_and_kept(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    await sandbox.insert("Product", {"title": "Copia", "status": "ACTIVE", "variants": {"nodes": [
        {"id": "gid://shopify/ProductVariant/999001", "sku": "GIR-500", "title": "Copia",
         "price": "1.00", "taxable": True, "inventoryItem": {"unitCost": None}}]}})
    done = await sink(sandbox, make_client(sandbox, http)).execute(stock_command("GIR-500", ("central", "3")))
    assert done.result["status"] == "parked" and "several Shopify variants" in done.result["reason"]
    assert done.redrive is True and writes(sandbox) == 0


async def test_a_fractional_quantity_parks_before_any_call(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sandbox, make_client(sandbox, http)).execute(
        stock_command("GIR-500", ("central", "2.5")))).result
    assert outcome["status"] == "parked" and "not a whole number" in outcome["reason"]
    assert not [r for r in sandbox.requests if r.operation]


async def test_a_location_the_item_is_not_stocked_at_parks(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    other = await sandbox.insert("Location", {"name": "Tienda", "isActive": True})
    outcome = (await sink(sandbox, make_client(sandbox, http), taller=other["id"]).execute(
        stock_command("GIR-500", ("central", "1"), ("taller", "2")))).result
    assert outcome["status"] == "parked" and "not stocked at Shopify location" in outcome["reason"]
    assert writes(sandbox) == 0 and await sandbox.available("GIR-500") == {location(sandbox): 40}


async def test_a_warehouse_without_location_is_left_out_and_said(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sandbox, make_client(sandbox, http), taller="").execute(
        stock_command("GIR-500", ("central", "6"), ("taller", "2")))).result
    assert outcome["status"] == "succeeded" and "'taller' not written" in outcome["reason"]
    assert await sandbox.available("GIR-500") == {location(sandbox): 6}


async def test_a_product_without_levels_writes_nothing(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sandbox, make_client(sandbox, http)).execute(
        stock_command("GIR-500"))).result
    assert outcome["status"] == "succeeded" and "no stock levels" in outcome["reason"]
    assert not [r for r in sandbox.requests if r.operation]


async def test_without_the_write_inventory_scope_the_write_is_refused(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    sandbox.scopes.discard("write_inventory")
    with pytest.raises(AccessDenied, match="write_inventory"):
        await sink(sandbox, make_client(sandbox, http)).execute(
            stock_command("GIR-500", ("central", "1")))
    assert await sandbox.available("GIR-500") == {location(sandbox): 40}


async def test_a_drained_cost_bucket_throttles_and_the_write_still_lands(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    sandbox.bucket.drain(950)  # other apps used the shop's points: the read costs 105
    outcome = (await sink(sandbox, make_client(sandbox, http, attempts=5)).execute(
        stock_command("GIR-500", ("central", "8")))).result
    assert outcome["status"] == "succeeded", outcome
    assert any(r.outcome == "throttled" for r in sandbox.requests)
    assert await sandbox.available("GIR-500") == {location(sandbox): 8}


@pytest.mark.parametrize("change, code", [
    ({"locationId": "gid://shopify/Location/1"}, "INVALID_LOCATION"),
    ({"inventoryItemId": "gid://shopify/InventoryItem/1"}, "INVALID_INVENTORY_ITEM"),
    ({"compareQuantity": None}, "COMPARE_QUANTITY_REQUIRED"),
    ({"compareQuantity": 39}, "COMPARE_QUANTITY_STALE"),
    ({"quantity": -1}, "INVALID_QUANTITY_NEGATIVE"),
])
async def test_the_sandbox_refuses_what_shopify_documents_and_writes_nothing(
        sandbox: ShopifySandbox, http: httpx.AsyncClient, change: dict, code: str) -> None:
    item = sandbox.seeded["oil"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    quantity = {"inventoryItemId": item, "locationId": location(sandbox), "quantity": 5,
                "compareQuantity": 40, **change}
    with pytest.raises(UserErrors) as caught:
        await make_client(sandbox, http).mutate("InventorySetQuantities", {"input": {
            "name": "available", "reason": "correction", "quantities": [quantity]}},
            field="inventorySetQuantities")
    assert [e["code"] for e in caught.value.errors] == [code]
    assert await sandbox.available("GIR-500") == {location(sandbox): 40}


@pytest.mark.parametrize("change, kind", [({"reason": "because"}, UserErrors),
                                          ({"name": "on_hand"}, UserErrors),
                                          ({"quantities": [{"quantity": 2.5}]}, Rejected)])
async def test_the_sandbox_refuses_bad_names_reasons_and_types(
        sandbox: ShopifySandbox, http: httpx.AsyncClient, change: dict, kind: type) -> None:
    item = sandbox.seeded["oil"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    body = {"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": item, "locationId": location(sandbox), "quantity": 5,
         "compareQuantity": 40}]}
    if "quantities" in change:
        body["quantities"] = [{**body["quantities"][0], **change.pop("quantities")[0]}]
    body.update(change)
    with pytest.raises(kind):
        await make_client(sandbox, http).mutate("InventorySetQuantities", {"input": body},
                                                field="inventorySetQuantities")
    assert await sandbox.available("GIR-500") == {location(sandbox): 40}
