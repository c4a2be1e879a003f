"""Canonical stock -> the quantity a PrestaShop product shows for sale (pure; ``sink_stock``).

PrestaShop 8 keeps one available quantity per product and shop (``stock_availables``, the
product's own record has ``id_product_attribute=0``); it has no warehouses (advanced stock
management went with 1.7). So the shop sells the units of **one** canonical warehouse, the
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
"""
from __future__ import annotations

from collections.abc import Mapping as MappingABC, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.mapping import Mapping, Unmappable
from connectors.prestashop.mapping import int_or_none

__all__ = ["MAX_QUANTITY", "FILTER_SYNTAX", "ShopStock", "own_stock_record", "shop_stock"]

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


def own_stock_record(product_id: int, stock_availables: Sequence[MappingABC[str, Any]]
                     ) -> MappingABC[str, Any] | str:
    """The product's own ``stock_availables`` record to set, or why it is not set.

    Not set: a product with combinations (PrestaShop keeps its own quantity as the sum of its
    combinations' and rewrites it on their next change; combinations are not SKUs here), one
    with no record or with several (one per shop or shop group: which one is not guessed),
    and one whose quantity follows the physical stock (``depends_on_stock``: PrestaShop refuses
    the write)."""
    mine = [s for s in stock_availables if int_or_none(s.get("id_product")) == product_id]
    own = [s for s in mine if int_or_none(s.get("id_product_attribute")) == 0]
    combinations = len(mine) - len(own)
    if combinations:
        return (f"PrestaShop product {product_id} has {combinations} combination stock "
                "record(s): its own quantity is the sum of its combinations', which are not "
                "SKUs here; its stock is not written")
    if not own:
        return f"PrestaShop product {product_id} has no stock_availables record of its own"
    if len(own) > 1:
        shops = ", ".join(f"{s.get('id_shop')}/{s.get('id_shop_group')}" for s in own)
        return (f"PrestaShop product {product_id} has {len(own)} stock records (shop/group "
                f"{shops}): which shop's quantity to set is not guessed")
    if str(own[0].get("depends_on_stock", "0")) not in ("0", ""):
        return (f"the quantity of PrestaShop product {product_id} depends on its physical stock "
                "(depends_on_stock=1): PrestaShop refuses to set it")
    return own[0]
