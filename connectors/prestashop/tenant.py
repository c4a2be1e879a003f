"""What a PrestaShop shop holds of the codes a mapping document names (``mappings check``).

Read-only webservice calls through :class:`PrestaShopClient` (its key, rate limiter and error
mapping); the comparing is :func:`app.mapping.tenant.compare`'s. The codes are the ones this
connector reads (docs/prestashop.md):

- ``taxes``: ``tax_rule_groups`` ids (an order line's ``id_tax_rules_group``), with the rate
  of the tax the group's rule for Spain applies to the whole country (``tax_rules`` for the
  country ``ES``, no state, then ``taxes``): the mapping's rates are Spanish ones, and a
  group with no such rule, or several, is checked by id only;
- ``payment_methods``: the webservice lists no payment modules, so the modules the latest
  orders were paid with (``orders.module``) are checked instead: one the mapping does not map
  parks those orders.

``series`` is keyed by the connector's ``invoice_prefix`` setting (the shop's
``PS_INVOICE_PREFIX``, per language), which this check does not read; ``accounts``,
``treasuries``, ``sales_channels`` and ``warehouses`` are in no PrestaShop record this connector
reads or writes. Those are reported as not checked. The key needs GET on ``tax_rule_groups``,
``tax_rules``, ``taxes``, ``countries`` and ``orders``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from app.mapping.tenant import Held, Tenant
from connectors.base.tenant import Codes, read_sections
from connectors.prestashop.client import PrestaShopClient

__all__ = ["LATEST_ORDERS", "read_tenant", "spanish_rates"]

LATEST_ORDERS = 1000  # the orders whose payment module is checked: one page, newest first
_UNREAD = {"series": "the key is the connector's invoice_prefix setting, PrestaShop's "
                     "PS_INVOICE_PREFIX per language, which this check does not read",
           "": "the PrestaShop connector reads and writes none, so nothing to check them "
               "against"}


async def read_tenant(client: PrestaShopClient, sections: Collection[str], *,
                      on_read: Callable[[str], None] = lambda section: None) -> Tenant:
    """What the shop holds for each of ``sections`` (the ones the mapping fills)."""

    async def taxes() -> Codes:
        countries = [c async for c in client.list("countries", display="[id,iso_code]")]
        rules = [r async for r in client.list("tax_rules")]
        rates = {str(t["id"]): _decimal(t.get("rate")) async for t in client.list("taxes")}
        by_group = spanish_rates(countries, rules, rates)
        return {str(g["id"]): Held(_group_name(g), by_group.get(str(g["id"])))
                async for g in client.list("tax_rule_groups")}

    async def modules() -> Codes:
        orders = await client.page("orders", limit=LATEST_ORDERS, display="[id,module]",
                                   sort="[id_DESC]")
        counted = Counter(str(o["module"]) for o in orders if o.get("module"))
        return {module: Held(f"{n} of the latest {len(orders)} orders")
                for module, n in counted.items()}

    return await read_sections("prestashop", "PrestaShop", sections, {"taxes": taxes},
                               uses={"payment_methods": modules}, unread=_UNREAD,
                               on_read=on_read)


def spanish_rates(countries: list[dict[str, Any]], rules: list[dict[str, Any]],
                  rates: dict[str, Decimal | None]) -> dict[str, Decimal]:
    """Tax rule group id -> the rate its rule for the whole of Spain applies; a group with
    none, several or one naming an unknown tax has no entry (its rate is not compared)."""
    spain = {str(c["id"]) for c in countries if str(c.get("iso_code", "")).upper() == "ES"}
    found: dict[str, set[Decimal | None]] = {}
    for rule in rules:
        if str(rule.get("id_country")) in spain and str(rule.get("id_state") or "0") == "0" \
                and str(rule.get("zipcode_from") or "0") in ("0", ""):
            found.setdefault(str(rule.get("id_tax_rules_group")), set()).add(
                rates.get(str(rule.get("id_tax"))))
    return {group: rate for group, values in found.items() if len(values) == 1
            for rate in values if rate is not None}


def _group_name(group: dict[str, Any]) -> str:
    notes = [n for n, on in (("deleted", group.get("deleted") == "1"),
                             ("inactive", group.get("active") == "0")) if on]
    return ", ".join([str(group.get("name") or ""), *notes]).strip(", ")


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None
