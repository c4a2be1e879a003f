"""An ERP's product whose SKU Holded keeps on a variant: the Holded sink writes only the
variant's levels, under its product's path, against the in-process sandbox (real HTTP)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from connectors.holded.sandbox import SandboxServer
from connectors.holded.sink import HoldedSink
from tests.connectors.holded.sink_support import make_client, make_sink, product_command
from tests.connectors.holded.test_sink_stock import CENTRAL, INV, TIENDA, mapping_with_tienda

SHIRT, SHIRT_M, SHIRT_L = "5f1a0000000000000000aa01", "5f1a0000000000000000aa02", "5f1a0000000000000000aa03"
TARGET = f"{SHIRT}.{SHIRT_M}"
NOTE = (f"Holded holds sku 'SKU-4' as variant {SHIRT_M} of product {SHIRT}: only its stock is "
        "written; its name, price and taxes are Holded's (no documented variant update)")


async def insert_shirt(sandbox: SandboxServer, m: dict[str, int], sku_m: str = "SKU-4",
                       sku_l: str = "SKU-4-L") -> dict[str, Any]:
    """A shirt kept in Holded with variants (the API creates none): size M holds the ERP's
    SKU-4 with ``m`` {warehouse: units}, size L 2 units in central."""
    [shirt] = await sandbox.insert("products", [{
        "id": SHIRT, "kind": "variants", "name": "Camiseta", "sku": "", "price": 20.0,
        "taxes": ["s_iva_21"], "variants": [
            {"id": SHIRT_M, "sku": sku_m, "price": 20.0, "stockByWarehouse": m},
            {"id": SHIRT_L, "sku": sku_l, "price": 21.0, "stockByWarehouse": {CENTRAL: 2}}]}])
    return shirt


def stocked(version: int = 1, target_id: str | None = None, **levels: str) -> dict[str, Any]:
    cmd = product_command(4, version=version, target_id=target_id)
    cmd["payload"]["stock"] = [{"warehouse": w, "quantity": D(q)} for w, q in levels.items()]
    return cmd


async def variant_levels(sandbox: SandboxServer) -> list[dict[str, int]]:
    shirt = await sandbox.get("products", SHIRT)
    return [v.get("stockByWarehouse", {}) for v in shirt["variants"]]


def stock_puts(sandbox: SandboxServer) -> list[Any]:
    return [r for r in sandbox.requests if r.method == "PUT" and r.path.endswith("/stock")]


def writes(sandbox: SandboxServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests if r.method != "GET"]


@pytest.fixture
async def sink(sandbox: SandboxServer, http: httpx.AsyncClient) -> HoldedSink:
    await sandbox.insert("warehouses", [{"id": TIENDA, "name": "Tienda", "default": False}])
    return make_sink(make_client(sandbox, http), mapping_with_tienda())


async def test_the_erps_levels_reach_the_variant_and_nothing_else_is_written(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    shirt = await insert_shirt(sandbox, m={CENTRAL: 4})
    outcome = await sink.execute(stocked(central="9", tienda="3"))
    assert (outcome.result["status"], outcome.result["reason"]) == ("succeeded", NOTE)
    assert outcome.result["target_id"] == TARGET
    assert await variant_levels(sandbox) == [{CENTRAL: 9, TIENDA: 3}, {CENTRAL: 2}]
    # the differences, keyed by the variant under its product's path; no product written
    assert writes(sandbox) == [("PUT", f"{INV}/products/{SHIRT}/stock")] * 2
    assert await sandbox.get("products", SHIRT) == shirt | {"variants": [
        {**shirt["variants"][0], "stockByWarehouse": {CENTRAL: 9, TIENDA: 3}}, shirt["variants"][1]]}
    assert await sandbox.count("products") == 1


async def test_the_link_finds_the_variant_again_and_a_level_already_right_costs_no_write(
        sink: HoldedSink, sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await insert_shirt(sandbox, m={CENTRAL: 4})
    first = (await sink.execute(stocked(central="9"))).result
    # a fresh worker (no catalogue in memory): the link alone names the variant, no scan
    fresh = make_sink(make_client(sandbox, http), mapping_with_tienda())
    sandbox.requests.clear()
    again = (await fresh.execute(stocked(version=2, target_id=first["target_id"], central="9"))).result
    assert (again["status"], again["reason"], again["target_id"]) == ("succeeded", NOTE, TARGET)
    assert writes(sandbox) == []
    assert f"{INV}/products" not in {r.path for r in sandbox.requests}  # no catalogue scan
    moved = (await fresh.execute(stocked(version=3, target_id=TARGET, central="7"))).result
    assert moved["status"] == "succeeded"
    assert await variant_levels(sandbox) == [{CENTRAL: 7}, {CENTRAL: 2}]
    assert len(stock_puts(sandbox)) == 1


async def test_a_product_without_levels_on_a_variant_succeeds_and_calls_no_stock(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    """A shop's product (its levels are not reported) whose sku Holded keeps on a variant."""
    await insert_shirt(sandbox, m={CENTRAL: 4})
    outcome = await sink.execute(product_command(4))
    assert (outcome.result["status"], outcome.result["reason"]) == ("succeeded", NOTE)
    assert writes(sandbox) == [] and await variant_levels(sandbox) == [{CENTRAL: 4}, {CENTRAL: 2}]


async def test_variant_levels_that_do_not_add_up_are_not_adjusted(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    """A level no warehouse list shows would read as 0 and the units be added on top."""
    await insert_shirt(sandbox, m={CENTRAL: 4, "5f0000000000000000000999": 6})
    outcome = await sink.execute(stocked(central="10"))
    assert outcome.result["status"] == "failed"
    assert (f"Holded variant {SHIRT_M} of product {SHIRT}: its warehouses' levels add up to 4, "
            "its own stock total is 10") in outcome.result["reason"]
    assert stock_puts(sandbox) == []


async def test_a_lost_variant_adjustment_is_read_again_not_added_twice(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    await insert_shirt(sandbox, m={CENTRAL: 4})
    sandbox.faults.lose_path, sandbox.faults.lose_next_writes = "/stock", 1
    outcome = await sink.execute(stocked(central="9"))
    assert outcome.result["status"] == "succeeded"
    assert [r.outcome for r in stock_puts(sandbox)] == ["dropped"]  # committed, then read
    assert await variant_levels(sandbox) == [{CENTRAL: 9}, {CENTRAL: 2}]


class SaleAfterAdjustment(httpx.AsyncBaseTransport):
    """A sale of one unit booked in Holded right after each stock adjustment the sink sends
    (the same item and warehouse): the read-back finds one unit fewer than sent."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PUT" and request.url.path.endswith("/stock"):
            await response.aread()
            [(warehouse, by_item)] = json.loads(request.content)["stock"].items()
            [item] = by_item
            sale = json.dumps({"stock": {warehouse: {item: -1}}}).encode()
            sold = await self.inner.handle_async_request(httpx.Request(
                "PUT", request.url, content=sale,
                headers={**request.headers, "content-length": str(len(sale))}))
            await sold.aread()
        return response


async def test_a_variant_level_read_back_otherwise_fails_and_is_not_sent_again(
        sandbox: SandboxServer) -> None:
    await sandbox.insert("warehouses", [{"id": TIENDA, "name": "Tienda", "default": False}])
    await insert_shirt(sandbox, m={CENTRAL: 4})
    async with httpx.AsyncClient(transport=SaleAfterAdjustment(), timeout=10) as http:
        sink = make_sink(make_client(sandbox, http), mapping_with_tienda())
        outcome = await sink.execute(stocked(central="9"))
    assert outcome.result["status"] == "failed"
    assert outcome.result["reason"] == ("read-back differs from what was sent: "
                                        "stock[central]: sent 9, Holded holds 8")
    assert [(c["field"], c["canonical_value"], c["incoming_value"]) for c in outcome.conflicts] == [
        ("stock[central]", '{"$dec":"9"}', '{"$dec":"8"}')]
    assert len(stock_puts(sandbox)) == 2  # the sink's +5 and the sale, nothing more
    assert await variant_levels(sandbox) == [{CENTRAL: 8}, {CENTRAL: 2}]


async def test_a_linked_variant_that_lost_the_sku_is_searched_again_by_sku(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    """The sku cannot be written to a variant: a link is followed only while the variant
    holds it. Here size L took SKU-4 in Holded (M was renamed): L gets the levels."""
    await insert_shirt(sandbox, m={CENTRAL: 4}, sku_m="SKU-4-OLD", sku_l="SKU-4")
    outcome = await sink.execute(stocked(target_id=TARGET, central="5"))
    assert (outcome.result["status"], outcome.result["target_id"]) == ("succeeded", f"{SHIRT}.{SHIRT_L}")
    assert await variant_levels(sandbox) == [{CENTRAL: 4}, {CENTRAL: 5}]
    assert writes(sandbox) == [("PUT", f"{INV}/products/{SHIRT}/stock")]


@pytest.mark.parametrize("held_as", ["pack", "variants"])
async def test_a_sku_on_a_pack_or_on_a_product_of_kind_variants_stays_parked(
        sink: HoldedSink, sandbox: SandboxServer, held_as: str) -> None:
    """A pack's stock is its components'; a product of kind variants holds no units of its
    own: neither gets a level, nor is turned into a simple product."""
    stored = {"id": SHIRT, "kind": "pack", "name": "Lote", "sku": "SKU-4", "price": 20.0}
    if held_as == "variants":
        stored = {"id": SHIRT, "kind": "variants", "name": "Camiseta", "sku": "SKU-4", "price": 20.0,
                  "variants": [{"id": SHIRT_M, "sku": "SKU-4-M", "stockByWarehouse": {}}]}
    await sandbox.insert("products", [stored])
    outcome = await sink.execute(stocked(central="9"))
    assert outcome.result["status"] == "parked" and not outcome.redrive
    assert f"Holded holds sku 'SKU-4' on product {SHIRT} of kind {held_as}" in outcome.result["reason"]
    assert writes(sandbox) == []
    assert await sandbox.all("products") == [stored]
