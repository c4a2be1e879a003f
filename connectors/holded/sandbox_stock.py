"""Stock in the Holded sandbox: which items of a product hold units, and the two v1 stock
handlers (adjust a product's levels, list a warehouse's levels).

Store shape: a product holds its own units, ``stockByWarehouse`` {warehouse id: units},
unless it is of kind ``variants``. Then its units are its variants': each entry of its
``variants`` list ({``id``, ``sku``, ``barcode``, ``price``, ``cost``, ``purchasePrice``,
``stockByWarehouse``}) holds its own, and the product's ``stock`` reads as their sum
(UNVERIFIED: the reference lists a product ``stock`` and a variant ``stock`` without saying
how they relate). Holded's documented create and update bodies carry no variants, so the
sandbox makes none through the API: tests load such products with ``SandboxServer.insert``.
Packs are not modelled beyond this: a pack may be loaded with units of its own (the poller
must skip them), but its stock is not adjusted (below).
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from connectors.holded.sandbox_crud import load
from connectors.holded.sandbox_http import STATE, BadRequest, ok, read_json

__all__ = ["stock_items", "total_stock", "view_variant", "update_stock", "warehouse_stock"]


def stock_items(product: dict[str, Any]) -> list[dict[str, Any]]:
    """The records that hold the product's units: its variants, or the product itself."""
    if product.get("kind") == "variants":
        return list(product.get("variants") or [])
    return [product]


def total_stock(product: dict[str, Any]) -> float:
    return sum(sum(item.get("stockByWarehouse", {}).values()) for item in stock_items(product))


def view_variant(v: dict[str, Any]) -> dict[str, Any]:
    """A variant as a product read lists it (holded-api.md: ``variants[] {id, barcode, sku,
    price, cost, purchasePrice, stock}``): no name and no attributes of its own."""
    return {"id": v["id"], "barcode": v.get("barcode", ""), "sku": v.get("sku", ""),
            "price": v.get("price", 0.0), "cost": v.get("cost", 0),
            "purchasePrice": v.get("purchasePrice", 0),
            "stock": sum(v.get("stockByWarehouse", {}).values())}


async def update_stock(request: web.Request) -> web.Response:
    """``PUT /products/{id}/stock`` ``{"stock": {<warehouseId>: {<itemId>: n}}}``: adds n units.

    Shape and meaning (n is added to the level: an adjustment, not the new level) are what
    integrators' code sends and expects (docs/holded.md section 9); Holded's reference is not
    at hand, so both are UNVERIFIED. The item is the product itself, or for a product with
    variants one of its variants (a variant's level is keyed by its id under its product's
    path). Kept strict, nothing written on refusal: another body shape, an unknown warehouse,
    an item that is not one of the product's items (a product with variants holds no units
    of its own, so its own id is refused too; UNVERIFIED), a product of kind ``pack`` (its
    stock is derived from its components'; what Holded does with an adjustment of one is
    undocumented, so the strict reading), or a quantity that is not a whole JSON number
    (whether Holded keeps fractional units is undocumented) is HTTP 400.
    """
    state = request.app[STATE]
    body = await read_json(request)
    stock = body.get("stock")
    if not isinstance(stock, dict) or not stock:
        raise BadRequest("Wrong stock")
    async with state.store.lock:
        product = await load(state, "products", request.match_info["id"])
        if product.get("kind") == "pack":
            raise BadRequest("Wrong stock")
        items = {str(item["id"]): item for item in stock_items(product)}
        adds: list[tuple[dict[str, Any], str, int]] = []
        for warehouse_id, by_item in stock.items():
            if await state.store.get("warehouses", str(warehouse_id)) is None:
                raise BadRequest("not found")
            if not isinstance(by_item, dict) or not by_item:
                raise BadRequest("Wrong stock")
            for item_id, units in by_item.items():
                if item_id not in items or isinstance(units, bool) or not isinstance(units, int):
                    raise BadRequest("Wrong stock")
                adds.append((items[item_id], str(warehouse_id), units))
        for item, warehouse_id, units in adds:
            by_wh = item.setdefault("stockByWarehouse", {})
            by_wh[warehouse_id] = by_wh.get(warehouse_id, 0) + units
        await state.store.put("products", product)
    return ok({"status": 1, "info": "Updated", "id": product["id"]})


async def warehouse_stock(request: web.Request) -> web.Response:
    """``GET /warehouses/{id}/stock`` in the shape one integrator's code reads (UNVERIFIED):
    ``{"warehouse": {"id", "name", "products": [{"product_id", "name", "sku", "stock",
    "variants": {<variantId>: n}}]}}``, every product one of whose items has a level there.
    A product with variants lists each variant's level there in ``variants`` and their sum
    as its ``stock`` (how Holded fills that row's ``stock`` is UNVERIFIED)."""
    state = request.app[STATE]
    warehouse = await load(state, "warehouses", request.match_info["id"])
    wid = warehouse["id"]

    def held_there(product: dict[str, Any]) -> bool:
        return any(wid in item.get("stockByWarehouse", {}) for item in stock_items(product))

    rows = []
    for p in await state.store.list("products", held_there):
        levels = {str(item["id"]): item["stockByWarehouse"][wid] for item in stock_items(p)
                  if wid in item.get("stockByWarehouse", {})}
        rows.append({"product_id": p["id"], "name": p.get("name", ""), "sku": p.get("sku", ""),
                     "stock": sum(levels.values()),
                     "variants": levels if p.get("kind") == "variants" else {}})
    return ok({"warehouse": {"id": wid, "name": warehouse.get("name", ""), "products": rows}})
