"""Canonical stock -> Shopify available quantities per location (pure; ``write_stock``).

A canonical product's ``stock`` ([{warehouse, quantity}], canonical warehouse codes) becomes
the available quantity of the variant with its SKU at each Shopify location that
``systems.shopify.warehouses`` maps (Location GID -> canonical warehouse). Several canonical
warehouses mapped to one location are summed.

- A level in a warehouse the mapping gives no Shopify location is **not written**: a shop
  often sells from some of the warehouses only. Those warehouses are named in the result's
  reason. A product none of whose levels has a location is unmappable (parked), since nothing
  at all would reach the shop.
- Shopify quantities are whole (``quantity: Int!``): a fractional level is unmappable. So is a
  negative one: Shopify documents ``INVALID_QUANTITY_NEGATIVE`` for this mutation, and whether
  it refuses a negative *available* quantity is UNVERIFIED, so nothing negative is sent (an
  oversold Holded level parks the product with the reason, for someone to correct).
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.mapping import Mapping
from app.mapping.resolve import Resolver

__all__ = ["MAX_QUANTITY", "LocationLevel", "available_by_location", "sku_query",
           "stock_to_locations"]

MAX_QUANTITY = 1_000_000_000  # INVALID_QUANTITY_TOO_HIGH above this (Shopify's error codes)


@dataclass(frozen=True, slots=True)
class LocationLevel:
    """The available units a Shopify location must hold of a variant."""

    location_id: str
    canonical: tuple[str, ...]
    quantity: int


def stock_to_locations(product: MappingABC[str, Any], *, mapping: Mapping
                       ) -> tuple[list[LocationLevel], list[str]]:
    """(the levels to set, the canonical warehouses left out for want of a location).

    Raises Unmappable naming every fractional, negative or too high quantity, and a product
    with levels of which none has a location."""
    r = Resolver(mapping, "shopify")
    warehouses = r.target.warehouses
    by_location: dict[str, tuple[tuple[str, ...], Decimal]] = {}
    left_out: list[str] = []
    levels = list(product.get("stock") or [])
    for index, level in enumerate(levels):
        where, code = f"stock[{index}]", str(level["warehouse"])
        quantity = Decimal(str(level["quantity"]))
        if quantity != quantity.to_integral_value():
            r.fail(where, f"quantity {quantity} in {code!r} is not a whole number of units "
                   "(Shopify quantities are integers)")
        elif quantity < 0:
            r.fail(where, f"quantity {quantity} in {code!r} is negative; not sent to Shopify "
                   "(correct the level at its source)")
        location = warehouses.to_system(code)  # one per code: the mapping validator sees to it
        if location is None:
            if code not in left_out:
                left_out.append(code)
            continue
        codes, total = by_location.get(str(location), ((), Decimal(0)))
        by_location[str(location)] = ((*codes, code), total + quantity)
    for location, (codes, total) in by_location.items():
        if total > MAX_QUANTITY:
            r.fail(f"stock[{'+'.join(codes)}]", f"{total} units exceed Shopify's maximum "
                   f"({MAX_QUANTITY:,})")
    if levels and not by_location and not r.reasons:
        r.fail("stock", f"no Shopify location in systems.shopify.warehouses of mapping "
               f"v{mapping.version} for {', '.join(repr(c) for c in left_out)} "
               "(expected an entry such as 'gid://shopify/Location/<id>': "
               f"{left_out[0]})")
    r.raise_if_any()
    return ([LocationLevel(loc, codes, int(total)) for loc, (codes, total) in by_location.items()],
            left_out)


def sku_query(sku: str) -> str:
    """The ``productVariants`` search for one SKU, quoted as a JSON string (``sku:"A-1"``).

    Shopify's search syntax takes a quoted value for text with blanks or colons; whether it
    matches the SKU exactly or as a prefix is UNVERIFIED, so callers keep only exact matches."""
    return f"sku:{json.dumps(sku)}"


def available_by_location(item: MappingABC[str, Any]) -> dict[str, int]:
    """Location GID -> available units, from an inventory item as ``VariantsBySku`` reads it."""
    out: dict[str, int] = {}
    for node in ((item.get("inventoryLevels") or {}).get("nodes") or []):
        location = ((node or {}).get("location") or {}).get("id")
        for quantity in node.get("quantities") or []:
            if quantity.get("name") == "available" and location:
                out[str(location)] = int(quantity["quantity"])
    return out
