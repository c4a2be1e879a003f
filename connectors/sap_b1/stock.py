"""An SAP B1 item's stock per canonical warehouse, and the periodic stock sweep's memory.

SAP keeps an item's units on hand per warehouse in OITW, which the Service Layer shows on the
Items entity as ``ItemWarehouseInfoCollection``: one row per warehouse the item is in, with
``WarehouseCode`` and ``InStock`` (read-only: inventory documents move it, never an edit of the
item; SDK help, ItemWarehouseInfo.InStock). So an item's level in a canonical warehouse is the
sum of ``InStock`` over the SAP warehouses ``systems.sap_b1.warehouses`` maps to it. As in the
Odoo source: a mapped warehouse where the item has no row is a level of 0 (stock that left is
reported as 0, not left unsaid), warehouses the map leaves out are ignored, and without the map
no stock is read at all (``stock: []``). A service (``InventoryItem`` tNO) has no stock.

Why a sweep: whether a stock movement (a delivery, a goods receipt) moves the item's
``UpdateDate``/``UpdateTime`` is not documented (UNVERIFIED). If it does not, the Items stream,
which polls by those, never sees a level change. So every ``stock_interval`` the source reads
every inventory item's levels once (:func:`sweep_due`) and reports the items whose levels
differ from what it last reported. What it last reported per item is kept in the poll state,
under :data:`SWEEP`, as a :class:`PollState` whose ``watermark`` is the last sweep's start and
whose ``recent`` holds one ``Seen(ItemCode, digest, None)`` per item: the existing state
serialisation carries it, and the poller needs no new shape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping as MappingABC
from decimal import Decimal, InvalidOperation
from typing import Any

from app.core.hashing import content_hash
from app.mapping import Mapping
from connectors.base.polling import PollState, Seen
from connectors.base.warehouse_levels import canonical_stock, zero_levels
from connectors.base.warehouse_levels import mapped_warehouses as warehouse_map

__all__ = ["COLLECTION", "ITEM_FIELDS", "SWEEP", "SWEEP_FILTER", "after_sweep", "digest",
           "item_levels", "levels_of", "mapped_warehouses", "noted", "remembered", "sweep_due"]

SYSTEM = "sap_b1"
SWEEP = "ItemStock"  # the sweep's key in the source's state (not an entity set)
COLLECTION = "ItemWarehouseInfoCollection"
# What item_to_product reads, so a poll reads only that (``$select``); the warehouse rows are
# added only while the mapping maps SAP warehouses (each row has some 60 properties).
ITEM_FIELDS = ("ItemCode", "ItemName", "BarCode", "SalesVATGroup", "IncomeAccount",
               "InventoryItem", "ItemPrices", "Valid", "Frozen", "CreateDate", "CreateTime",
               "UpdateDate", "UpdateTime")
SWEEP_FILTER = "InventoryItem eq 'tYES'"  # services have no stock: the sweep skips them


def mapped_warehouses(mapping: Mapping) -> dict[str, str]:
    """SAP ``WarehouseCode`` -> canonical warehouse, for the warehouses the mapping reads."""
    return warehouse_map(mapping, SYSTEM, str)


def item_levels(item: MappingABC[str, Any], warehouses: MappingABC[str, str]
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """Pure: (the item's ``stock``, reasons it cannot be read), canonical codes in code order.

    ``warehouses`` empty (no map) or a service: no levels and nothing read."""
    if not warehouses or item.get("InventoryItem") == "tNO":
        return [], []
    rows = item.get(COLLECTION)
    if not isinstance(rows, list):
        raise ValueError(f"item {item.get('ItemCode')!r} was read without its {COLLECTION}")
    totals = zero_levels(warehouses)
    reasons = []
    for row in rows:
        code = warehouses.get(str(row.get("WarehouseCode")))
        if code is None:
            continue  # a warehouse the mapping does not read
        try:
            totals[code] += Decimal(str(row.get("InStock") if row.get("InStock") is not None
                                        else 0))
        except InvalidOperation:
            reasons.append(f"{COLLECTION}: InStock {row.get('InStock')!r} of warehouse "
                           f"{row.get('WarehouseCode')!r} is not a number")
    if reasons:
        return [], reasons
    return canonical_stock(totals), []


def digest(value: Any) -> str:
    """A short fingerprint of what was reported for an item (its levels, or why it parked):
    16 hex digits keep the state small (one per inventory item) and still never collide in
    practice between two versions of one item."""
    return content_hash({"reported": value})[:16]


def remembered(state: PollState | None) -> dict[str, str]:
    """ItemCode -> digest of what was last reported, as the sweep state holds it."""
    return {str(s.id): s.content_hash for s in (state.recent if state else ())}


def sweep_due(state: PollState | None, now: dt.datetime, interval: dt.timedelta) -> bool:
    """A sweep runs at the first poll, then once ``interval`` has passed since the last one
    began (a clock that went backwards runs it too rather than never)."""
    last = state.watermark if state else None
    return last is None or now - last >= interval or now < last


def noted(state: PollState | None, reported: MappingABC[str, str]) -> PollState:
    """The state with what another stream reported (the Items stream) remembered too; the
    last sweep's time is kept."""
    memory = {**remembered(state), **reported}
    return PollState(watermark=state.watermark if state else None, recent=_seen(memory))


def after_sweep(started: dt.datetime, reported: MappingABC[str, str]) -> PollState:
    """The state after a whole sweep: exactly the items it read (an item deleted or turned
    into a service is forgotten), and its start as the last sweep's time."""
    return PollState(watermark=started, recent=_seen(reported))


def _seen(memory: MappingABC[str, str]) -> tuple[Seen, ...]:
    return tuple(Seen(code, value, None) for code, value in sorted(memory.items()))


def levels_of(events: Iterable[MappingABC[str, Any]]) -> dict[str, str]:
    """ItemCode -> digest of the levels of each product event (what the Items stream told)."""
    return {str(e["source_id"]): digest(e["payload"]["stock"]) for e in events
            if e.get("entity") == "product" and e.get("payload") is not None}
