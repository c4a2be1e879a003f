"""How the PrestaShop sandbox takes writes to ``stock_availables``, as PrestaShop's
``StockAvailable`` class and webservice resource list do.

- POST is a forbidden method of the resource (``WebserviceRequest``: ``'forbidden_method' =>
  ['POST', 'DELETE']``, documented for 1.7.8 and 8.x in PrestaShop/docs PRs 1480 and 1550):
  a product's record is made by PrestaShop with the product, a combination's with it.
- PUT validates the object's fields (``StockAvailable::$definition``): ``id_product``,
  ``id_product_attribute``, ``quantity``, ``depends_on_stock`` and ``out_of_stock`` are
  required; ids are unsigned, ``quantity`` and ``out_of_stock`` integers (``isInt``: a
  negative quantity is taken, a fractional one is not), ``depends_on_stock`` a boolean.
- PUT of a record whose ``depends_on_stock`` is set is refused (``updateWs``: HTTP 500, code
  133, "You cannot update the available stock when it depends on stock."). Read in the
  1.6.1 source; that 8.x keeps the check is UNVERIFIED, so the sandbox keeps it (strict).
- After a combination's record changes, the product's own record (``id_product_attribute=0``,
  same shop) is set to the sum of its combinations' (``postSave``).

The HTTP status and code of a validation error and of a forbidden method are this sandbox's
own (UNVERIFIED): 400 / 85 and 405 / 101.
"""
from __future__ import annotations

import re
from typing import Any

from connectors.prestashop.sandbox_query import PHP_INT_MAX, ApiError
from connectors.prestashop.sandbox_store import SandboxStore

__all__ = ["FORBIDDEN", "after_put", "check_put"]

# resource -> methods its webservice entry forbids
FORBIDDEN: dict[str, frozenset[str]] = {"stock_availables": frozenset({"POST", "DELETE"})}
_INT = re.compile(r"^-?[0-9]+$")
_UNSIGNED = re.compile(r"^[0-9]+$")
_PHP_INT = range(-PHP_INT_MAX - 1, PHP_INT_MAX + 1)  # isInt: (string)(int)$v === (string)$v
_RULES = {"id_product": (_UNSIGNED, True), "id_product_attribute": (_UNSIGNED, True),
          "id_shop": (_UNSIGNED, False), "id_shop_group": (_UNSIGNED, False),
          "quantity": (_INT, True), "depends_on_stock": (re.compile(r"^[01]$"), True),
          "out_of_stock": (_INT, True)}


def check_put(resource: str, values: dict[str, Any]) -> None:
    """Raise ApiError as PrestaShop refuses this PUT body of ``resource`` (stock only)."""
    if resource != "stock_availables":
        return
    for name, (pattern, required) in _RULES.items():
        value = str(values.get(name, "") or "").strip()
        if not value:
            if required:
                raise ApiError(400, 85, f'Validation error: "Property StockAvailable->{name} '
                                        'is empty."')
            continue
        if not pattern.match(value) or (pattern is _INT and not _fits(value)):
            raise ApiError(400, 85, f'Validation error: "Property StockAvailable->{name} is '
                                    f'not valid" ({value!r})')
    if str(values["depends_on_stock"]).strip() == "1":
        raise ApiError(500, 133, "You cannot update the available stock when it depends on "
                                 "stock.")


def _fits(value: str) -> bool:
    """A PHP int (a 5000-digit quantity crashed int() summing a product's combinations)."""
    digits = value.lstrip("-").lstrip("0")
    return len(digits) <= 19 and int(value) in _PHP_INT


async def after_put(store: SandboxStore, resource: str, record: dict[str, Any]) -> None:
    """A combination's new quantity sets its product's own quantity to their sum."""
    if resource != "stock_availables" or str(record.get("id_product_attribute")) in ("0", ""):
        return
    rows = [r for r in await store.all(resource)
            if str(r.get("id_product")) == str(record.get("id_product"))
            and str(r.get("id_shop")) == str(record.get("id_shop"))]
    total = sum(int(r["quantity"]) for r in rows if str(r.get("id_product_attribute")) != "0")
    for own in rows:
        if str(own.get("id_product_attribute")) == "0":
            await store.patch(resource, int(own["id"]), {"quantity": str(total)})
