"""Canonical stock -> the quantity a PrestaShop product or combination shows for sale (pure;
``sink_stock``).

PrestaShop 8 keeps one available quantity per product and shop (``stock_availables``, the
product's own record has ``id_product_attribute=0``) and one per combination (a size or colour
of a product, ``id_product_attribute`` = the combination's id); it has no warehouses (advanced
stock management went with 1.7). So the shop sells the units of **one** canonical warehouse, the
mapping's ``systems.prestashop.stock_warehouse`` (the setting Business Central has for its
single total). Levels in other warehouses are not counted: a shop often sells from one
warehouse only, and the sum of all of them would sell units the shop cannot ship. To sell
from several, map their Holded warehouses to one canonical code (Holded's reader sums them).

- No levels at all (a source that reports no stock): nothing to write. Never 0, which would
  sell the shop out of every product such a source reports.
- Levels, but no ``stock_warehouse`` in the mapping, or none of them in it: Unmappable (the
  mapping decides; a new version re-drives the command).
- The counted level fractional, negative or above PrestaShop's column: refused with the
  reason (the quantity is an ``isInt`` signed INT; PrestaShop itself would take a negative
  one, but an oversold Holded level is for a person to correct, not to publish).

A SKU is the ``reference`` of exactly one product or one combination (:func:`stock_target`);
its quantity is exactly one ``stock_availables`` record (:func:`stock_record`).
"""
from __future__ import annotations

from collections.abc import Mapping as MappingABC, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.mapping import Mapping, Unmappable
from connectors.prestashop.mapping import int_or_none

__all__ = ["MAX_QUANTITY", "FILTER_SYNTAX", "NotSet", "ShopStock", "StockTarget", "shop_stock",
           "stock_record", "stock_target"]

MAX_QUANTITY = 2_147_483_647  # stock_available.quantity is a signed INT(10) column
FILTER_SYNTAX = frozenset("[]|,%")  # a reference with these cannot be sent as filter[reference]=[x]


@dataclass(frozen=True, slots=True)
class ShopStock:
    """The units the shop must show of one product: those of ``warehouse``. ``refused``: why
    that level cannot be sent (then ``quantity`` is 0 and meaningless); ``left_out``: the
    canonical warehouses whose levels are not counted."""

    warehouse: str
    quantity: int
    left_out: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


def shop_stock(product: MappingABC[str, Any], *, mapping: Mapping) -> ShopStock | None:
    """The shop's quantity of a canonical product, or None when it reports no levels.

    Raises Unmappable when the mapping names no ``stock_warehouse`` or the product has no
    level in it."""
    levels = list(product.get("stock") or [])
    if not levels:
        return None
    codes = [str(level.get("warehouse")) for level in levels]
    section = mapping.system("prestashop")
    warehouse = section.stock_warehouse if section is not None else None
    if warehouse is None:
        raise Unmappable([f"stock: no systems.prestashop.stock_warehouse in mapping "
                          f"v{mapping.version}: which canonical warehouse the shop sells from "
                          f"is not guessed (levels in {', '.join(map(repr, codes))}; expected "
                          f"e.g. stock_warehouse: {codes[0]})"], mapping_version=mapping.version)
    counted = [level for level in levels if str(level.get("warehouse")) == warehouse]
    if not counted:
        raise Unmappable([f"stock: no level in {warehouse!r} (systems.prestashop.stock_warehouse "
                          f"of mapping v{mapping.version}), only in "
                          f"{', '.join(map(repr, codes))}"], mapping_version=mapping.version)
    left_out = tuple(dict.fromkeys(c for c in codes if c != warehouse))
    total, refused = Decimal(0), []
    for level in counted:
        try:
            total += Decimal(str(level["quantity"]))
        except (InvalidOperation, KeyError):
            refused.append(f"stock[{warehouse}]: quantity {level.get('quantity')!r} is not a number")
    if refused:
        return ShopStock(warehouse, 0, left_out, tuple(refused))
    if total != total.to_integral_value():
        refused.append(f"stock[{warehouse}]: quantity {total} is not a whole number of units "
                       "(PrestaShop quantities are integers)")
    elif total < 0:
        refused.append(f"stock[{warehouse}]: quantity {total} is negative; not sent to "
                       "PrestaShop (correct the level at its source)")
    elif total > MAX_QUANTITY:
        refused.append(f"stock[{warehouse}]: {total} units exceed PrestaShop's maximum "
                       f"({MAX_QUANTITY:,})")
    if refused:
        return ShopStock(warehouse, 0, left_out, tuple(refused))
    return ShopStock(warehouse, int(total), left_out)


@dataclass(frozen=True, slots=True)
class StockTarget:
    """Where a SKU's quantity for sale lives: a product's own record (``combination`` 0) or
    one of its combinations'."""

    product: int
    combination: int = 0

    @property
    def target_id(self) -> str:
        """The result's ``target_id``: the product id, ``<product>-<combination>`` for a
        combination (a combination id alone does not say which product it belongs to)."""
        return f"{self.product}-{self.combination}" if self.combination else str(self.product)

    def __str__(self) -> str:
        return (f"combination {self.combination} of PrestaShop product {self.product}"
                if self.combination else f"PrestaShop product {self.product}")


@dataclass(frozen=True, slots=True)
class NotSet:
    """Why a SKU's stock is not written. ``redrive`` False: routine (the shop does not sell
    the SKU as such), kept out of ``parked redrive`` and its alert."""

    reason: str
    redrive: bool = True


def stock_target(sku: str, products: Sequence[MappingABC[str, Any]],
                 combinations: Sequence[MappingABC[str, Any]]) -> StockTarget | NotSet:
    """The one product or combination whose ``reference`` is ``sku``, or why none is written.

    ``products`` / ``combinations``: what ``filter[reference]=[sku]`` answered; only exact
    matches count (MySQL compares without case). Several matches, among products, among
    combinations or one of each, are not guessed between: whichever holds the stock the shop
    sells, writing the other would sell units twice or not at all."""
    own = [p for p in products if str(p.get("reference") or "") == sku]
    variants = [c for c in combinations if str(c.get("reference") or "") == sku]
    if not own and not variants:
        return NotSet(f"no PrestaShop product or combination has reference {sku!r}: the shop "
                      "does not sell it, and its stock is not written (the next change of its "
                      "stock is, once it does)", redrive=False)
    if len(own) + len(variants) > 1:
        named = [f"product {p.get('id')}" for p in own] + [
            f"combination {c.get('id')} of product {c.get('id_product')}" for c in variants]
        return NotSet(f"several PrestaShop records have reference {sku!r} ({', '.join(named)}); "
                      "which one holds the stock is not guessed")
    if own:
        return StockTarget(int(own[0]["id"]))
    product, combination = (int_or_none(variants[0].get(k)) for k in ("id_product", "id"))
    if not product or not combination:
        return NotSet(f"PrestaShop combination {variants[0].get('id')!r} with reference {sku!r} "
                      f"names no product (id_product {variants[0].get('id_product')!r})")
    return StockTarget(product, combination)


def stock_record(target: StockTarget, stock_availables: Sequence[MappingABC[str, Any]]
                 ) -> MappingABC[str, Any] | NotSet:
    """The one ``stock_availables`` record of ``target`` to set, or why it is not set.

    ``stock_availables``: the records of the target's product (``filter[id_product]``).

    Not set: a product with combinations (PrestaShop keeps its own quantity as the sum of its
    combinations' and rewrites it on their next change: the combinations' references are the
    SKUs it sells, so this is routine, not for review), a target with no record or with several
    (one per shop or shop group: which one is not guessed), and one whose quantity follows the
    physical stock (``depends_on_stock``: PrestaShop refuses the write)."""
    mine = [s for s in stock_availables if int_or_none(s.get("id_product")) == target.product]
    held = [s for s in mine if int_or_none(s.get("id_product_attribute")) == target.combination]
    if not target.combination and len(held) < len(mine):
        combinations = len(mine) - len(held)
        return NotSet(f"{target} has {combinations} combination stock record(s): PrestaShop "
                      "sets its own quantity to the sum of its combinations', which are sold "
                      "by their own references; its stock is not written", redrive=False)
    if not held:
        return NotSet(f"{target} has no stock_availables record of its own")
    if len(held) > 1:
        shops = ", ".join(f"{s.get('id_shop')}/{s.get('id_shop_group')}" for s in held)
        return NotSet(f"{target} has {len(held)} stock records (shop/group {shops}): which "
                      "shop's quantity to set is not guessed")
    if str(held[0].get("depends_on_stock", "0")) not in ("0", ""):
        return NotSet(f"the quantity of {target} depends on its physical stock "
                      "(depends_on_stock=1): PrestaShop refuses to set it")
    return held[0]
