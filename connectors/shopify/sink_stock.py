"""A product command's stock, written to Shopify as absolute available quantities.

``inventorySetQuantities`` (name ``available``, reason ``correction``) sets each level to a
number: the same write twice leaves the same level, so a write whose response was lost is
safe to repeat. Each level is sent with the ``compareQuantity`` the read just showed
(compare-and-set, as Shopify recommends): a sale between our read and our write makes Shopify
refuse it (``COMPARE_QUANTITY_STALE``) instead of our write silently undoing the sale's
decrement; the writer then reads again and retries (``STALE_ROUNDS``).

Per command: find the variant by SKU (exactly one; none or several park the command) -> read
its item's levels -> a location where the item is not stocked parks the command (activating
an item at a location is a decision for the shop's staff) -> write only the levels that
differ, in one mutation -> done. A mutation whose outcome is unknown is not repeated by the
client (NoBlindRepeat): the error reaches the agent, and the redelivered command reads the
levels first and finds the write if it landed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.mapping import Mapping as MappingDoc
from connectors.base.stock_outcome import StockOutcome, join_notes
from connectors.shopify.client import ShopifyClient
from connectors.shopify.errors import UserErrors
from connectors.shopify.queries import LEVELS_PAGE
from connectors.shopify.stock import (LocationLevel, available_by_location, sku_query,
                                      stock_to_locations)

__all__ = ["REASON", "STALE_ROUNDS", "StockOutcome", "write_stock"]

logger = logging.getLogger(__name__)

REASON = "correction"  # "used to correct an inventory error or as a general adjustment reason"
STALE_ROUNDS = 3


async def write_stock(client: ShopifyClient, payload: Mapping[str, Any], mapping: MappingDoc,
                      lane: Any = "realtime") -> StockOutcome:
    """Set the variant of ``payload['sku']`` to the product's levels; raises Unmappable for a
    level that cannot be sent (fractional, negative, no location at all)."""
    if not payload.get("stock"):
        return StockOutcome("succeeded", reason="the product reports no stock levels; "
                            "nothing written to Shopify")
    levels, left_out = stock_to_locations(payload, mapping=mapping)
    sku = str(payload.get("sku") or "")
    note = (f"stock of {', '.join(repr(c) for c in left_out)} not written: no Shopify location "
            "in systems.shopify.warehouses" if left_out else None)
    for attempt in range(1, STALE_ROUNDS + 1):
        found = await _variant(client, sku, lane)
        if isinstance(found, _NotSold):
            return StockOutcome("parked", reason=found.reason, redrive=False)
        if isinstance(found, str):
            return StockOutcome("parked", reason=found)
        variant_id, item_id, held = found
        unstocked = [level.location_id for level in levels if level.location_id not in held]
        if unstocked:
            return StockOutcome("parked", reason=(
                f"SKU {sku!r} is not stocked at Shopify location(s) {', '.join(unstocked)}: "
                "activate the item there in Shopify (or map another location), then redrive"))
        pending = [level for level in levels if held[level.location_id] != level.quantity]
        if not pending:
            return StockOutcome("succeeded", variant_id, join_notes(
                "Shopify already holds these levels" if attempt == 1 else None, note))
        try:
            await client.mutate("InventorySetQuantities", {"input": _input(item_id, pending, held)},
                                field="inventorySetQuantities", lane=lane)
        except UserErrors as error:
            if not _stale(error) or attempt == STALE_ROUNDS:
                raise
            logger.info("shopify stock of %s changed between read and write (round %d); "
                        "reading it again", sku, attempt)
            continue
        return StockOutcome("succeeded", variant_id, note)
    raise AssertionError("unreachable: STALE_ROUNDS >= 1")


@dataclass(frozen=True, slots=True)
class _NotSold:
    """No variant has the SKU: the shop does not sell the product."""

    reason: str


async def _variant(client: ShopifyClient, sku: str, lane: Any
                   ) -> tuple[str, str, dict[str, int]] | _NotSold | str:
    """(variant id, inventory item GID, location -> available), or why not: the product is not
    sold in the shop, or the reason to park it for review."""
    if not sku:
        return "the product has no SKU: no Shopify variant can be found for its stock"
    data = await client.execute("VariantsBySku", {"first": 2, "query": sku_query(sku)}, lane=lane)
    nodes = [n for n in ((data.get("productVariants") or {}).get("nodes") or [])
             if isinstance(n, dict) and n.get("sku") == sku]
    if not nodes:
        return _NotSold(f"no Shopify variant has SKU {sku!r}: the shop does not sell it, and its "
                        "stock is not written (the next change of its stock is, once it does)")
    if len(nodes) > 1:
        return (f"several Shopify variants have SKU {sku!r} ({', '.join(n['id'] for n in nodes)}); "
                "which one holds the stock is not guessed")
    item = nodes[0].get("inventoryItem") or {}
    if not item.get("tracked"):
        return (f"Shopify does not track inventory for SKU {sku!r} (variant {nodes[0]['id']}); "
                "turn on 'Track quantity' to have its stock written")
    if ((item.get("inventoryLevels") or {}).get("pageInfo") or {}).get("hasNextPage"):
        return (f"SKU {sku!r} is stocked at more Shopify locations than one page of levels "
                f"({LEVELS_PAGE}) shows; a level that is not read is not written over")
    return str(nodes[0]["id"]).rsplit("/", 1)[-1], str(item["id"]), available_by_location(item)


def _input(item_id: str, pending: list[LocationLevel], held: dict[str, int]) -> dict[str, Any]:
    return {"name": "available", "reason": REASON, "quantities": [
        {"inventoryItemId": item_id, "locationId": level.location_id,
         "quantity": level.quantity, "compareQuantity": held[level.location_id]}
        for level in pending]}


def _stale(error: UserErrors) -> bool:
    return any(e.get("code") == "COMPARE_QUANTITY_STALE" for e in error.errors)
