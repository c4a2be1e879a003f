"""The Shopify tenant reader (connectors/shopify/tenant.py): the tax keys products carry and
the shop's locations, against the sandbox."""
from __future__ import annotations


import httpx
import pytest

from app.mapping.tenant import Held
from connectors.shopify.errors import AccessDenied
from connectors.shopify.sandbox import ShopifySandbox
from connectors.shopify.tenant import read_tenant, taxes_in_use
from tests.connectors.shopify.support import make_client


def test_the_tax_keys_in_use_name_a_few_products_and_count_the_rest() -> None:
    products = [{"title": f"Pan {i}", "metafield": {"value": "IVA 4%"}} for i in range(5)]
    products += [{"title": "Aceite", "metafield": {"value": " IVA 10% "}},  # read as the source does
                 {"title": "Sin IVA propio", "metafield": None}, {"title": "Vacío",
                                                                   "metafield": {"value": ""}}]
    assert taxes_in_use(products) == {
        "IVA 4%": Held("5 products: Pan 0, Pan 1, Pan 2 and 2 more"),
        "IVA 10%": Held("1 product: Aceite")}


async def test_products_tax_keys_and_every_location_over_several_pages(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    closed = await sandbox.insert("Location", {"name": "Tienda cerrada", "isActive": False})
    tenant = await read_tenant(make_client(sandbox, http, page_size=1),
                               ["taxes", "warehouses", "payment_methods"])
    assert tenant.used["taxes"] == {"IVA 10%": Held("1 product: Aceite de girasol alto oleico"),
                                    "IVA 21%": Held("1 product: Camiseta Holded")}
    assert tenant.codes["warehouses"] == {sandbox.seeded["location"]["id"]: Held("Almacén central"),
                                          closed["id"]: Held("Tienda cerrada, inactive")}
    assert "payment gateways" in tenant.unchecked["payment_methods"]
    assert {r.operation for r in sandbox.requests} == {"Products", "Locations"}


async def test_without_read_locations_the_shop_cannot_be_read(
        sandbox: ShopifySandbox, http: httpx.AsyncClient) -> None:
    sandbox.scopes.discard("read_locations")
    with pytest.raises(AccessDenied):
        await read_tenant(make_client(sandbox, http), ["warehouses"])
