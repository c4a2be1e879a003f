"""The SAP sandbox's warehouses and item stock (OWHS, OITW), as strict as the store's rules.

An item's ``ItemWarehouseInfoCollection`` has one row per warehouse the item is in:
``WarehouseCode`` plus the read-only quantities ``InStock``, ``Committed`` and ``Ordered``
(SDK help: ItemWarehouseInfo.InStock and Committed are read-only properties; SAP moves them
with inventory documents). What the sandbox keeps:

- A new item names the warehouses it is in (rows with ``WarehouseCode`` only); an unknown
  warehouse, a row naming one twice or a row setting a quantity is refused (400). Without the
  collection it gets a row in every warehouse, as SAP does with "Auto. Add All Warehouses to
  New Items" (General Settings; whether that is the default is UNVERIFIED).
- A PATCH of the collection is refused: how SL merges a PATCHed collection (add, replace) is
  UNVERIFIED and the connector never writes items.
- :func:`move_stock` is an inventory posting (a goods receipt or issue): ``InStock`` of one
  row changes, and the item's ``UpdateDate``/``UpdateTime`` and ``DataVersion`` do **not**:
  whether SAP moves them on a posting is UNVERIFIED, and "not" is the strict choice for a
  poller that relies on them (connectors/sap_b1/stock.py). A service (``InventoryItem`` tNO)
  has no stock to move, and stock may not fall below 0 (SAP's default: "Block negative
  inventory" per company is UNVERIFIED; refusing is the strict choice).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.sap_b1.sandbox_errors import SapError

__all__ = ["QUANTITIES", "ROW", "item_rows", "move_row"]

Record = dict[str, Any]
QUANTITIES = frozenset({"InStock", "Committed", "Ordered"})  # kept by SAP's postings
ROW = frozenset({"WarehouseCode", "ItemCode", *QUANTITIES})


def item_rows(item: Record, warehouses: list[str]) -> list[Record]:
    """The ``ItemWarehouseInfoCollection`` a new item is stored with."""
    given = item.get("ItemWarehouseInfoCollection")
    if given is None:
        given = [{"WarehouseCode": code} for code in warehouses]
    if not isinstance(given, list):
        raise SapError(400, -1000, "ItemWarehouseInfoCollection must be a collection")
    rows, seen = [], set()
    for row in given:
        if not isinstance(row, dict):
            raise SapError(400, -1000, "An ItemWarehouseInfo line must be an object")
        unknown = set(row) - ROW
        if unknown:
            raise SapError(400, -1000, f"Property '{sorted(unknown)[0]}' of "
                           "'ItemWarehouseInfo' is invalid")
        fixed = sorted(set(row) & QUANTITIES)
        if fixed:
            raise SapError(400, -5006, f"Property '{fixed[0]}' of 'ItemWarehouseInfo' is "
                           "read-only")
        code = row.get("WarehouseCode")
        if code not in warehouses:
            raise SapError(400, -5002, f"Warehouse code {code!r} is not defined")
        if code in seen:
            raise SapError(400, -5002, f"Warehouse {code!r} appears twice on the item")
        seen.add(code)
        rows.append({"WarehouseCode": code, "ItemCode": item.get("ItemCode"),
                     "InStock": Decimal(0), "Committed": Decimal(0), "Ordered": Decimal(0)})
    return rows


def move_row(item: Record, warehouse: str, quantity: Decimal, warehouses: list[str]) -> None:
    """Post ``quantity`` units (negative: an issue) of ``item`` in ``warehouse``, in place."""
    if item.get("InventoryItem") == "tNO":
        raise SapError(400, -5002, f"Item {item['ItemCode']!r} is not an inventory item")
    if warehouse not in warehouses:
        raise SapError(400, -5002, f"Warehouse code {warehouse!r} is not defined")
    rows = item["ItemWarehouseInfoCollection"]
    row = next((r for r in rows if r["WarehouseCode"] == warehouse), None)
    if row is None:  # a posting adds the warehouse to the item, as SAP does
        row = {"WarehouseCode": warehouse, "ItemCode": item["ItemCode"], "InStock": Decimal(0),
               "Committed": Decimal(0), "Ordered": Decimal(0)}
        rows.append(row)
    level = Decimal(str(row["InStock"])) + quantity
    if level < 0:
        raise SapError(400, -10, f"Quantity falls into negative inventory for item "
                       f"{item['ItemCode']!r} in warehouse {warehouse!r}")
    row["InStock"] = level
