"""Holded products and their variants -> canonical Products with their stock per warehouse
(pure).

Only read when the poller's ``read_stock`` option is on (``HOLDED_READ_STOCK``): companies
whose inventory lives in Holded send its levels to the shops from here.

What is read: a product of kind ``simple`` is one canonical Product; a product of kind
``variants`` is one canonical Product *per variant*, since shops sell per SKU (a Shopify
variant has its own) and each Holded variant has its own sku, price, cost, barcode and stock.
A variant's name, description and taxes are its product's: the documented variant read shape
(``variants[] {id, barcode, sku, price, cost, purchasePrice, stock}``) has none of its own,
and no attributes either. Packs are not read: a pack's stock is derived from its components'.

Keys: a Holded product carries no entity key (no custom field, and the sink matches
products by ``sku``), so a product read from Holded is ``product/holded/<product id>``,
whichever system it was first written from, and a variant ``product/holded/<product
id>.<variant id>``: a variant is only read (and its stock only adjusted) through its product,
so the key names both; the dot cannot occur in Holded's hex ids, so a variant's key never
equals a product's (docs/holded.md section 9). Such an entity is routed to the systems that
write stock (never back to Holded, its only source), so a level the Holded sink wrote from
an ERP and read back here cannot be written to Holded again: no ping-pong.

Stock: ``StockTable`` is what one read of every warehouse (``GET /warehouses/{id}/stock``)
gave, item id (a product's, or a variant's from the list's ``variants`` map) -> units. An
item's level in a warehouse is 0 when that warehouse does not list it. Levels are reported
per canonical warehouse (several Holded warehouses mapped to one canonical code are summed),
sorted by code, zero levels included, so the same stock always hashes the same. Holded
warehouses the mapping does not name are left out of the levels. The levels are read only
when *every* warehouse's level adds up to the item's own ``stock`` total (a variant's is in
its product's ``variants`` list): a list that left an item out (a page not shown, a shape
misread) would otherwise read as 0 and sell out the shop; such an item is unmappable, with
the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from decimal import Decimal
from typing import Any

from app.mapping import Mapping, Unmappable
from connectors.holded.inbound import SYSTEM, _Codes, clean_text, to_decimal

__all__ = ["StockTable", "kind_of", "variants_of", "source_id", "product_key",
           "product_from_holded", "stock_of"]

StockTable = MappingABC[str, MappingABC[str, Decimal]]  # warehouse id -> item id -> units
Variant = MappingABC[str, Any]  # one entry of a product's ``variants`` list


def kind_of(record: MappingABC[str, Any]) -> str:
    """``simple``, ``variants``, ``pack`` (or whatever else Holded reads); absent: simple."""
    return str(record.get("kind") or "simple")


def variants_of(record: MappingABC[str, Any]) -> list[Variant]:
    """The variants of a product of kind ``variants``; raises Unmappable for a list whose
    entries cannot be told apart (no id): their levels in the warehouse lists are keyed by
    variant id, so they could not be read."""
    variants = record.get("variants") or []
    if not isinstance(variants, list) or not all(
            isinstance(v, MappingABC) and v.get("id") not in (None, "") for v in variants):
        raise Unmappable([f"product {record.get('id')} reads a variants list without an id "
                          f"for each variant ({variants!r:.80}); its stock cannot be read"])
    return list(variants)


def source_id(record: MappingABC[str, Any], variant: Variant | None = None) -> str:
    """The origin id: ``<product id>``, or ``<product id>.<variant id>`` for a variant."""
    return f"{record['id']}.{variant['id']}" if variant is not None else str(record["id"])


def product_key(record: MappingABC[str, Any], variant: Variant | None = None) -> str:
    return f"product/{SYSTEM}/{source_id(record, variant)}"


def _where(record: MappingABC[str, Any], variant: Variant | None) -> str:
    return f"product {record.get('id')}" + (f" variant {variant.get('id')}" if variant else "")


def stock_of(record: MappingABC[str, Any], table: StockTable, *, mapping: Mapping,
             variant: Variant | None = None) -> list[dict[str, Any]]:
    """The canonical levels of the product (or of its ``variant``), from one read of every
    warehouse; raises Unmappable when the warehouses' levels do not add up to the item's own
    ``stock`` total."""
    item, where = variant if variant is not None else record, _where(record, variant)
    item_id = str(item["id"])
    held = {wid: levels.get(item_id, Decimal(0)) for wid, levels in table.items()}
    total, listed = _number(item.get("stock")), sum(held.values(), Decimal(0))
    if total is None:
        raise Unmappable([f"{where} reads without a stock total "
                          f"({item.get('stock')!r:.40}); its levels cannot be checked"],
                         mapping_version=mapping.version)
    if total != to_decimal(listed, 4):
        raise Unmappable([f"{where}: its warehouses' levels add up to {listed}, "
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
                        mapping: Mapping, variant: Variant | None = None) -> dict[str, Any]:
    """A Holded product (v1 read shape), or one of its variants, -> canonical Product; raises
    Unmappable.

    A variant has its own sku, price, cost and barcode, and its product's name, description
    and taxes. A product or variant without a ``sku`` cannot be matched in any other system
    (the shops find their variant by it), and a tax key the mapping does not know is never
    guessed."""
    c = _Codes(mapping)
    item, where = variant if variant is not None else record, _where(record, variant)
    sku, name = clean_text(item.get("sku")), clean_text(record.get("name"))
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
    price, cost = _number(item.get("price"), 6), item.get("cost")
    if price is None:
        c.reasons.append(f"{where}: price {item.get('price')!r:.40} is not a number")
    cost = None if cost in (None, "", 0) else _number(cost, 6)
    c.raise_if_any()
    return {
        "kind": "product", "sku": sku, "name": name,
        "description": clean_text(record.get("desc")),
        "price": price, "cost": cost,
        "currency": mapping.base_currency,
        "sales_taxes": taxes, "purchase_taxes": [],
        "sales_account": None, "purchases_account": None,
        "barcode": clean_text(item.get("barcode")),
        "stock": list(stock), "active": True,
    }
