"""Holded products -> canonical Products with their stock per warehouse (pure).

Only read when the poller's ``read_stock`` option is on (``HOLDED_READ_STOCK``): companies
whose inventory lives in Holded send its levels to the shops from here.

Keys: a Holded product carries no entity key (no custom field, and the sink matches
products by ``sku``), so a product read from Holded is ``product/holded/<product id>``,
whichever system it was first written from. Such an entity is routed to the systems that
write stock (never back to Holded, its only source), so a level the Holded sink wrote from
an ERP and read back here cannot be written to Holded again: no ping-pong
(docs/holded.md section 9).

Stock: ``StockTable`` is what one read of every warehouse (``GET /warehouses/{id}/stock``)
gave, item id -> units. A product's level in a warehouse is 0 when that warehouse does not
list it. Levels are reported per canonical warehouse (several Holded warehouses mapped to one
canonical code are summed), sorted by code, zero levels included, so the same stock always
hashes the same. Holded warehouses the mapping does not name are left out of the levels. The
levels are read only when *every* warehouse's level adds up to the product's own ``stock``
total: a list that left a product out (a page not shown, a shape misread) would otherwise
read as 0 and sell out the shop; such a product is unmappable, with the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from decimal import Decimal
from typing import Any

from app.mapping import Mapping, Unmappable
from connectors.holded.inbound import SYSTEM, _Codes, clean_text, to_decimal

__all__ = ["StockTable", "product_key", "product_from_holded", "stock_of", "is_simple"]

StockTable = MappingABC[str, MappingABC[str, Decimal]]  # warehouse id -> item id -> units


def product_key(record: MappingABC[str, Any]) -> str:
    return f"product/{SYSTEM}/{record['id']}"


def is_simple(record: MappingABC[str, Any]) -> bool:
    """Products of kind ``simple`` (what the sink writes). Products with variants and packs
    are not read: the canonical product has no variants (docs/holded.md section 9)."""
    return str(record.get("kind") or "simple") == "simple"


def stock_of(record: MappingABC[str, Any], table: StockTable, *, mapping: Mapping
             ) -> list[dict[str, Any]]:
    """The product's canonical levels, from one read of every warehouse; raises Unmappable
    when the warehouses' levels do not add up to the product's own ``stock`` total."""
    product_id = str(record["id"])
    held = {wid: levels.get(product_id, Decimal(0)) for wid, levels in table.items()}
    total, listed = _number(record.get("stock")), sum(held.values(), Decimal(0))
    if total is None:
        raise Unmappable([f"product {product_id} reads without a stock total "
                          f"({record.get('stock')!r:.40}); its levels cannot be checked"],
                         mapping_version=mapping.version)
    if total != to_decimal(listed, 4):
        raise Unmappable([f"product {product_id}: its warehouses' levels add up to {listed}, "
                          f"its own stock total is {total}; a level may be missing from a "
                          "list, so none is reported"], mapping_version=mapping.version)
    system = mapping.system(SYSTEM)
    levels: dict[str, Decimal] = {}
    for warehouse_id, units in held.items():
        code = system.warehouses.to_canonical(warehouse_id) if system is not None else None
        if code is not None:
            levels[code] = levels.get(code, Decimal(0)) + units
    return [{"warehouse": code, "quantity": to_decimal(levels[code], 4)} for code in sorted(levels)]


def _number(value: Any, places: int = 4) -> Decimal | None:
    """A JSON number at ``places`` decimals; None for anything else (bool, text, absent)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        return to_decimal(value, places)
    except ValueError:
        return None


def product_from_holded(record: MappingABC[str, Any], *, stock: list[dict[str, Any]],
                        mapping: Mapping) -> dict[str, Any]:
    """A Holded product (v1 read shape) -> canonical Product; raises Unmappable.

    A product without a ``sku`` cannot be matched in any other system (the shops find their
    variant by it), and a tax key the mapping does not know is never guessed."""
    c = _Codes(mapping)
    where = f"product {record.get('id')}"
    sku, name = clean_text(record.get("sku")), clean_text(record.get("name"))
    if sku is None:
        c.reasons.append(f"{where} has no sku: no other system can match it")
    if name is None:
        c.reasons.append(f"{where} has no name")
    taxes: list[str] = []
    keys = record.get("taxes") or []
    for key in [k.strip() for k in keys.split(",")] if isinstance(keys, str) else keys:
        code = c.code("taxes", key, f"{where} taxes")
        tax = mapping.taxes.get(code) if code else None
        if tax is not None and not tax.is_withholding and code not in taxes:
            taxes.append(code)
    price, cost = _number(record.get("price"), 6), record.get("cost")
    if price is None:
        c.reasons.append(f"{where}: price {record.get('price')!r:.40} is not a number")
    cost = None if cost in (None, "", 0) else _number(cost, 6)
    c.raise_if_any()
    return {
        "kind": "product", "sku": sku, "name": name,
        "description": clean_text(record.get("desc")),
        "price": price, "cost": cost,
        "currency": mapping.base_currency,
        "sales_taxes": taxes, "purchase_taxes": [],
        "sales_account": None, "purchases_account": None,
        "barcode": clean_text(record.get("barcode")),
        "stock": list(stock), "active": True,
    }
