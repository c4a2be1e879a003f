"""Contract: the real HoldedClient against the Holded sandbox, in process (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from connectors.base.errors import FatalError
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.holded.client import HoldedClient
from connectors.holded.errors import (
    HoldedRejected, NotFound, UnexpectedContent, UnknownSku, WriteNotApplied,
)
from connectors.holded.sandbox import SandboxServer

KEY = "sandbox-key"


def client(server: SandboxServer, http: httpx.AsyncClient, version: str = "v1",
           key: str = KEY) -> HoldedClient:
    return HoldedClient(http, api_key=key, base_url=server.url, version=version,  # type: ignore[arg-type]
                        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
                        # Holded's own 2.5/s would only slow the suite; the sandbox has no limit here.
                        limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000)))


async def test_v1_contacts_crud_customid_and_not_found(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http)
    created = await holded.contacts.create({"name": "ACME SL", "code": "B12345678",
                                            "customId": "contact/odoo/7", "type": "client"})
    contact_id = created["id"]
    found = await holded.contacts.find_by_custom_id("contact/odoo/7")
    assert found is not None and found["id"] == contact_id
    assert await holded.contacts.find_by_custom_id("contact/odoo/8") is None
    record = await holded.contacts.update_verified(contact_id, {"name": "ACME SA"})
    assert record["name"] == "ACME SA"
    await holded.contacts.delete(contact_id)
    with pytest.raises(NotFound):
        await holded.contacts.get(contact_id)


async def test_v1_paging_over_1200_contacts(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await sandbox.insert("contacts", [{"name": f"C{i}", "customId": f"k{i}"} for i in range(1200)])
    names = [c["name"] async for c in client(sandbox, http).contacts.list(lane="bulk")]
    assert len([n for n in names if n.startswith("C")]) >= 1200
    pages = [r for r in sandbox.requests if r.path.endswith("/invoicing/v1/contacts")]
    assert len(pages) == 4


async def test_v1_products_stock_and_skus(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http)
    warehouses = [w async for w in holded.warehouses.list()]
    assert warehouses
    product = await holded.products.create({"kind": "simple", "name": "Widget", "sku": "W-1", "price": 10})
    await holded.products.adjust_stock(product["id"], warehouses[0]["id"], product["id"], 5)
    assert "W-1" in await holded.products.skus()
    assert await holded.warehouses.levels(warehouses[0]["id"]) == {product["id"]: Decimal(5)}


async def test_v1_stock_adjustments_add_to_the_level_per_warehouse(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http)
    [first, *_] = [w async for w in holded.warehouses.list()]
    second = await holded.warehouses.create({"name": "Tienda"})
    product = (await holded.products.create({"kind": "simple", "name": "W", "sku": "W-2", "price": 1}))["id"]
    await holded.products.adjust_stock(product, first["id"], product, 7)
    await holded.products.adjust_stock(product, first["id"], product, -2)  # a delta, not a level
    await holded.products.adjust_stock(product, second["id"], product, 3)
    assert (await holded.warehouses.levels(first["id"]))[product] == Decimal(5)
    assert (await holded.warehouses.levels(second["id"]))[product] == Decimal(3)
    assert (await holded.products.get(product))["stock"] == 8  # the read's total of all warehouses


async def test_v1_stock_refuses_other_shapes_units_and_warehouses(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http)
    [warehouse, *_] = [w async for w in holded.warehouses.list()]
    product = (await holded.products.create({"kind": "simple", "name": "W", "sku": "W-3", "price": 1}))["id"]
    url = holded.products._url(product, "stock")
    for body in ({"stock": {"warehouseId": warehouse["id"], "quantity": 5}},  # the digest's shape
                 {"stock": {warehouse["id"]: {product: 1.5}}},                # not whole units
                 {"stock": {warehouse["id"]: {"5f0c1a2b3c4d5e6f70819203": 1}}},  # another item
                 {"stock": {"5f0c1a2b3c4d5e6f70819203": {product: 1}}}):      # unknown warehouse
        with pytest.raises((HoldedRejected, NotFound)):
            await holded.call("PUT", url, body=body)
    assert await holded.warehouses.levels(warehouse["id"]) == {}
    with pytest.raises(TypeError):
        await holded.products.adjust_stock(product, warehouse["id"], product, Decimal("1.5"))  # type: ignore[arg-type]


async def test_v1_reference_data(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http)
    taxes = await holded.taxes()
    assert "s_iva_21" in taxes
    assert [s async for s in holded.numbering_series("invoice").list()]
    assert [t async for t in holded.treasury.list()]
    assert [a async for a in holded.expense_accounts.list()]
    await holded.payment_methods()
    _ = [c async for c in holded.sales_channels.list()]
    _ = [g async for g in holded.contact_groups.list()]
    _ = [r async for r in holded.remittances.list()]
    _ = [f async for f in holded.funnels.list()]
    _ = [lead async for lead in holded.leads.list()]
    assert isinstance(await holded.chart_of_accounts(), list)
    _ = [e async for e in holded.daily_ledger()]


async def test_v1_documents_checked_create_pay_pdf(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http)
    await holded.products.create({"kind": "simple", "name": "Widget", "sku": "W-2", "price": 10})
    invoices = holded.documents("invoice")
    with pytest.raises(UnknownSku):
        await invoices.create_checked({"date": 1767225600, "contactName": "X",
                                       "items": [{"sku": "NOPE", "units": 1, "subtotal": 10}]})
    doc = await invoices.create_checked({"date": 1767225600, "contactName": "Cliente",
                                         "items": [{"sku": "W-2", "units": 2, "subtotal": 10,
                                                    "taxes": ["s_iva_21"]}]})
    paid = await invoices.pay(doc["id"], date=1767225600, amount=5)
    assert paid.get("paymentId")
    assert (await invoices.pdf(doc["id"])).startswith(b"%PDF")
    listed = [d async for d in invoices.list(starttmp=0, endtmp=2_000_000_000)]
    assert doc["id"] in {d["id"] for d in listed}
    with pytest.raises(WriteNotApplied):
        await invoices.update_verified(doc["id"], {"notes": "n", "bogusField": "x"})


async def test_v1_unknown_route_and_bad_key(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http)
    with pytest.raises(UnexpectedContent):
        await holded.call("GET", f"{sandbox.url}/inventory/v1/warehouses")
    with pytest.raises(FatalError):
        await client(sandbox, http, key="wrong-key").contacts.get("5f1b2c3d4e5f60718293a4b5")


async def test_v2_contacts_products_money(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    holded = client(sandbox, http, "v2")
    created = await holded.contacts.create({"name": "Beta SL", "vat_number": "B87654321"})
    contact_id = created["id"]
    assert (await holded.contacts.get(contact_id))["name"] == "Beta SL"
    await sandbox.insert("contacts", [{"name": f"V{i}"} for i in range(250)])
    contacts = [c async for c in holded.contacts.list()]
    assert len(contacts) >= 251
    _ = [p async for p in holded.products.list()]
    _ = [d async for d in holded.documents("invoice").list()]
    _ = [p async for p in holded.payments.list()]
    _ = [p async for p in holded.price_lists.list()]
    accounts = [a async for a in holded.bank_accounts.list()]
    if accounts:
        _ = [m async for m in holded.bank_accounts.movements(accounts[0]["id"])]
    assert "limit" in await holded.usage()
    with pytest.raises(NotFound):
        await holded.contacts.get("5f1b2c3d4e5f60718293a4b5")
