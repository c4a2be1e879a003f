"""What a Shopify shop holds of the codes a mapping document names (``mappings check``).

Read-only GraphQL queries through :class:`ShopifyClient` (its token, cost budget and error
mapping); the comparing is :func:`app.mapping.tenant.compare`'s. The codes are the ones this
connector reads (docs/shopify.md):

- ``taxes``: Shopify's API exposes no tax rates of the shop, so the keys products carry are
  checked instead: each product's ``holded_sync.tax`` metafield value must be a key of
  ``shopify.taxes`` (a product with another parks, and every invoice selling it waits). Tax
  lines of orders are matched by title and rate as orders come: not checked here;
- ``warehouses``: location GIDs (``locations``, inactive ones too; the token needs
  ``read_locations``).

``payment_methods`` (gateway names): the Admin API lists no payment gateways of a shop, and
``accounts``, ``treasuries``, ``series`` and ``sales_channels`` are in no Shopify record this
connector reads or writes: those are reported as not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from app.mapping.tenant import Held, Tenant
from connectors.base.tenant import Codes, read_sections
from connectors.shopify.client import ShopifyClient

__all__ = ["read_tenant", "taxes_in_use"]

_NAMED = 3  # products named next to a metafield value; the rest are counted
_UNREAD = {"payment_methods": "the Shopify Admin API lists no payment gateways; a gateway the "
                              "map lacks parks its order when read",
           "": "the Shopify connector reads and writes none, so nothing to check them against"}
_NOTE = ("taxes checked against the holded_sync.tax values products carry, Shopify lists no "
         "tax rates")


async def read_tenant(client: ShopifyClient, sections: Collection[str], *,
                      on_read: Callable[[str], None] = lambda section: None) -> Tenant:
    """What the shop holds (or its products use) for each of ``sections``."""

    async def taxes() -> Codes:
        return taxes_in_use([p async for p in client.iterate("Products", ("products",))])

    async def warehouses() -> Codes:
        return {str(loc["id"]): Held(str(loc.get("name") or "")
                                     + ("" if loc.get("isActive", True) else ", inactive"))
                async for loc in client.iterate("Locations", ("locations",)) if loc.get("id")}

    notes = (_NOTE,) if "taxes" in sections else ()
    return await read_sections("shopify", "Shopify", sections, {"warehouses": warehouses},
                               uses={"taxes": taxes}, unread=_UNREAD, on_read=on_read,
                               notes=notes)


def taxes_in_use(products: list[dict[str, Any]]) -> Codes:
    """``holded_sync.tax`` value -> the products carrying it (a few by title, then a count)."""
    titles: dict[str, list[str]] = {}
    for product in products:
        value = ((product.get("metafield") or {}).get("value") or "").strip()
        if value:
            titles.setdefault(value, []).append(str(product.get("title") or product.get("id")))
    used: Codes = {}
    for value, names in titles.items():
        shown = ", ".join(sorted(names)[:_NAMED]) + (
            f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")
        used[value] = Held(f"{len(names)} product{'s' if len(names) != 1 else ''}: {shown}")
    return used
