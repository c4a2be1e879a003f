"""How the PrestaShop sandbox takes writes to ``stock_availables``, as PrestaShop's
``StockAvailable`` class and webservice resource list do.

- POST is a forbidden method of the resource (``WebserviceRequest``: ``'forbidden_method' =>
  ['POST', 'DELETE']``, documented for 1.7.8 and 8.x in PrestaShop/docs PRs 1480 and 1550):
  a product's record is made by PrestaShop with the product, a combination's with it.
- PUT validates the object's fields (``StockAvailable::$definition``): ``id_product``,
  ``id_product_attribute``, ``quantity``, ``depends_on_stock`` and ``out_of_stock`` are
  required; ids are unsigned (``isUnsignedId``: below 2^32), ``quantity`` and
  ``out_of_stock`` integers (``isInt``: a negative quantity is taken; a fractional one, or
  one spelt "007" or " 7", is not), ``depends_on_stock`` a boolean. Read in PrestaShop's
  ``classes/Validate.php`` and ``StockAvailable::$definition``.
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
# isInt is ``(string)(int)$v === (string)$v``: only an int's canonical spelling passes, so
# "007", "-0", "+5" and " 7" fail (the webservice sets each field from the XML text as is).
_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]{0,18}")
_PHP_INT = range(-PHP_INT_MAX - 1, PHP_INT_MAX + 1)
_UNSIGNED_ID = range(0, 1 << 32)  # isUnsignedInt: isInt's test, then 0 <= $v < 4294967296


def _is_int(value: str) -> bool:
    """Validate::isInt of a string, within PHP's ints (a 5000-digit quantity once crashed
    int() summing a product's combinations)."""
    return _CANONICAL_INT.fullmatch(value) is not None and int(value) in _PHP_INT


def _is_unsigned_id(value: str) -> bool:
    return _is_int(value) and int(value) in _UNSIGNED_ID


def _is_bool(value: str) -> bool:
    return re.match(r"^(0|1)$", value) is not None  # PHP's $ also takes a final newline


_RULES = {"id_product": _is_unsigned_id, "id_product_attribute": _is_unsigned_id,
          "id_shop": _is_unsigned_id, "id_shop_group": _is_unsigned_id, "quantity": _is_int,
          "depends_on_stock": _is_bool, "out_of_stock": _is_int}


def check_put(resource: str, values: dict[str, Any]) -> None:
    """Raise ApiError as PrestaShop refuses this PUT body of ``resource`` (stock only); a
    missing or empty required field was refused before (``sandbox.check_fields``)."""
    if resource != "stock_availables":
        return
    for name, valid in _RULES.items():
        value = str(values.get(name) or "")
        if value and not valid(value):
            raise ApiError(400, 85, f'Validation error: "Property StockAvailable->{name} is '
                                    f'not valid" ({value!r})')
    if values["depends_on_stock"].strip() == "1":
        raise ApiError(500, 133, "You cannot update the available stock when it depends on "
                                 "stock.")


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
