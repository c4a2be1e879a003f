"""A variant's stock per warehouse, read from Odoo's quants (the stock app).

Odoo keeps on-hand stock as ``stock.quant`` records: a product, a location, a quantity.
A location belongs to a warehouse through ``stock.location.warehouse_id`` (computed and
stored by Odoo); only ``internal`` locations hold on-hand stock (a customer's location holds
what was delivered). So a variant's level in a warehouse is the sum of its quants in that
warehouse's internal locations. ``qty_available`` with a ``warehouse`` context gives the same
number, one read per warehouse; the quants give every warehouse in one read, and their
``write_date`` is what tells a stock change: moving stock leaves the product's write_date
alone, so the product walks would never see it (the ``quant`` walk does, see source.py).

Only the warehouses ``systems.odoo.warehouses`` maps are read, under their canonical codes;
without that map nothing is read at all (an Odoo without the stock app has no quants).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping as MappingABC
from decimal import Decimal
from typing import Any

from app.mapping import Mapping
from connectors.base.warehouse_levels import canonical_stock, zero_levels
from connectors.base.warehouse_levels import mapped_warehouses as warehouse_map
from connectors.odoo.mapping import m2o_id

__all__ = ["QUANT_FIELDS", "levels_by_variant", "mapped_warehouses", "read_levels"]

QUANT_FIELDS = ("product_id", "location_id", "quantity", "write_date")


def mapped_warehouses(mapping: Mapping) -> dict[int, str]:
    """Odoo ``stock.warehouse`` id -> canonical warehouse, for the warehouses the mapping reads."""
    return warehouse_map(mapping, "odoo", int)


def levels_by_variant(quants: Iterable[MappingABC[str, Any]], locations: MappingABC[int, int],
                      warehouses: MappingABC[int, str], variant_ids: Iterable[int]
                      ) -> dict[int, list[dict[str, Any]]]:
    """Pure: each variant's ``stock`` ([{warehouse, quantity}], canonical codes in code
    order), from its quants and ``locations`` (internal location id -> warehouse id).

    A mapped warehouse where the variant has no quant is a level of 0, so stock that left a
    warehouse (its quant emptied or removed) is reported as 0 there, not left unsaid.
    """
    totals: dict[int, dict[str, Decimal]] = {vid: zero_levels(warehouses) for vid in variant_ids}
    for quant in quants:
        variant, location = m2o_id(quant.get("product_id")), m2o_id(quant.get("location_id"))
        warehouse = locations.get(location or 0)
        if variant not in totals or warehouse not in warehouses:
            continue
        code = warehouses[warehouse]
        totals[variant][code] += Decimal(str(quant.get("quantity") or 0))
    return {vid: canonical_stock(by_code) for vid, by_code in totals.items()}


async def read_levels(client: Any, mapping: Mapping, variant_ids: Iterable[int]
                      ) -> dict[int, list[dict[str, Any]]]:
    """The ``stock`` of each variant (empty lists when the mapping reads no warehouse)."""
    ids = sorted(set(variant_ids))
    warehouses = mapped_warehouses(mapping)
    if not warehouses or not ids:
        return {vid: [] for vid in ids}
    rows = await client.search_read(
        "stock.location", [("usage", "=", "internal"), ("warehouse_id", "in", sorted(warehouses))],
        ["warehouse_id"])
    locations = {r["id"]: m2o_id(r.get("warehouse_id")) for r in rows}
    quants = await client.search_read(
        "stock.quant", [("product_id", "in", ids), ("location_id", "in", sorted(locations))],
        list(QUANT_FIELDS)) if locations else []
    return levels_by_variant(quants, locations, warehouses, ids)  # type: ignore[arg-type]
