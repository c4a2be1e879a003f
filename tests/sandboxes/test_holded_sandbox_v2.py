"""The Holded sandbox's v2 contract: Bearer auth, cursor pages, problem+json, one store with v1."""
from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.holded.sandbox import SandboxServer
from tests.sandboxes.conftest import new_contact


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == status
    return body


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"key": "sandbox-key"},
                                     {"Authorization": "Basic sandbox-key"}])
async def test_v2_needs_a_bearer_token(sandbox: SandboxServer, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=sandbox.v2_url, headers=headers) as http:
        assert_problem(await http.get("/contacts"), 401)


async def test_cursor_paging_walks_every_contact_once(sandbox: SandboxServer, v2: httpx.AsyncClient) -> None:
    await sandbox.insert("contacts", [{"name": f"C{i:03d}"} for i in range(250)])
    seen, cursor, pages = [], None, []
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await v2.get("/contacts", params=params)).json()
        assert set(page) == {"items", "cursor", "has_more"}
        pages.append(len(page["items"]))
        seen += [c["name"] for c in page["items"]]
        if not page["has_more"]:
            assert page["cursor"] is None
            break
        cursor = page["cursor"]
    assert pages == [100, 100, 50]
    assert seen == [f"C{i:03d}" for i in range(250)]


@pytest.mark.parametrize("params", [
    {"limit": 101}, {"limit": 0}, {"limit": "ten"}, {"cursor": "!!garbage"},
    {"cursor": "bzo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},  # o:9999999999999999999999: it crashed
    {"cursor": "bzotMQ"},  # o:-1
])
async def test_bad_limit_or_cursor_is_a_400_problem(v2: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_problem(await v2.get("/contacts", params=params), 400)


@pytest.mark.parametrize("body", [b'{"name": "W", "price": Infinity}',
                                  b'{"name": "W", "price": 1e400}', b'{"name": "W", "price": NaN}',
                                  b"[" * 100_000 + b"]" * 100_000])
async def test_a_number_json_cannot_hold_is_a_400_problem(v2: httpx.AsyncClient,
                                                          body: bytes) -> None:
    response = await v2.post("/products", content=body,
                             headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


async def test_unknown_v2_route_is_a_404_problem(v2: httpx.AsyncClient) -> None:
    assert_problem(await v2.get("/unicorns"), 404)
    assert_problem(await v2.get("/contacts/5f0c0c0c0c0c0c0c0c0c0c0c"), 404)


async def test_contacts_are_snake_case_and_shared_with_v1(v1: httpx.AsyncClient, v2: httpx.AsyncClient) -> None:
    cid = await new_contact(v1, name="ACME SL", CustomId="contact/odoo/1", code="B1", tradeName="ACME")
    contact = (await v2.get(f"/contacts/{cid}")).json()
    assert (contact["custom_id"], contact["vat_number"], contact["trade_name"]) == ("contact/odoo/1", "B1", "ACME")
    found = (await v2.get("/contacts/search", params={"name": "acme"})).json()["items"]
    assert [c["id"] for c in found] == [cid]


async def test_v2_contact_write_validation_and_full_replacement(v2: httpx.AsyncClient) -> None:
    assert_problem(await v2.post("/contacts", json={"email": "x@y.es"}), 400)  # name required
    assert_problem(await v2.post("/contacts", json={"name": "X", "vatnumber": "B1"}), 400)  # unknown field
    created = await v2.post("/contacts", json={"name": "X", "email": "x@y.es", "vat_number": "B1"})
    assert created.status_code == 201
    cid = created.json()["id"]
    replaced = (await v2.put(f"/contacts/{cid}", json={"name": "X2"})).json()
    assert (replaced["name"], replaced["email"], replaced["vat_number"]) == ("X2", "", "")
    assert (await v2.delete(f"/contacts/{cid}")).status_code == 204
    assert_problem(await v2.get(f"/contacts/{cid}"), 404)


async def test_v2_invoice_create_list_and_v1_view(v1: httpx.AsyncClient, v2: httpx.AsyncClient) -> None:
    cid = await new_contact(v1)
    response = await v2.post("/invoices", json={
        "contact_id": cid, "date": "2026-01-15", "approve": True, "custom_fields": [{"field": "erp", "value": "1"}],
        "lines": [{"name": "Hours", "units": 2, "price": 50, "taxes": ["s_iva_21"]}]})
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (100, 21, 121)
    assert invoice["document_number"] == "F260001" and invoice["lines"][0]["price"] == 50
    listed = (await v2.get("/invoices", params={"start_date": "2026-01-01T00:00:00Z", "contact_id": cid})).json()
    assert [i["id"] for i in listed["items"]] == [invoice["id"]]
    assert (await v2.get("/invoices", params={"start_date": "2026-02-01"})).json()["items"] == []
    assert (await v1.get(f"/documents/invoice/{invoice['id']}")).json()["docNumber"] == "F260001"
    assert (await v2.get("/credit-notes")).json()["items"] == []
    assert_problem(await v2.get(f"/credit-notes/{invoice['id']}"), 404)


async def test_v2_invoice_validation(v1: httpx.AsyncClient, v2: httpx.AsyncClient) -> None:
    cid = await new_contact(v1)
    assert_problem(await v2.post("/invoices", json={"contact_id": cid, "date": "15/01/2026", "lines": []}), 400)
    assert_problem(await v2.post("/invoices", json={"contact_id": cid, "date": "2026-01-15",
                                                    "lines": [{"name": "x", "qty": 1}]}), 400)
    assert_problem(await v2.post("/invoices", json={"contact_id": "5f0c0c0c0c0c0c0c0c0c0c0c",
                                                    "date": "2026-01-15", "lines": []}), 422)


@pytest.mark.parametrize("custom_fields", ["erp", {"field": "erp"}, [{"value": "1"}], ["erp"]])
async def test_v2_invoice_custom_fields_v1_would_refuse_are_a_400_problem(
        sandbox: SandboxServer, v1: httpx.AsyncClient, v2: httpx.AsyncClient,
        custom_fields: Any) -> None:
    """One store: a v2 invoice is read by v1 as customFields, which v1 takes only as a list
    of {field, value}; v2 may not store what v1 never could."""
    cid = await new_contact(v1)
    assert_problem(await v2.post("/invoices", json={
        "contact_id": cid, "date": "2026-01-15", "lines": [], "custom_fields": custom_fields}), 400)
    assert await sandbox.count("documents", doc_type="invoice") == 0


@pytest.mark.parametrize("date", ["0001-01-01", "0001-01-01T00:00:00+01:00",
                                  "9999-12-31T23:59:59Z"])
async def test_a_date_beyond_the_calendar_is_a_400_problem(
        v1: httpx.AsyncClient, v2: httpx.AsyncClient, date: str) -> None:
    cid = await new_contact(v1)
    assert_problem(await v2.post("/invoices", json={"contact_id": cid, "date": date,
                                                    "lines": []}), 400)
    assert_problem(await v2.post("/invoices", json={"contact_id": cid, "date": "2026-01-15",
                                                    "due_date": date, "lines": []}), 400)
    assert_problem(await v2.post("/payments", json={"amount": 5, "date": date}), 400)
    assert (await v2.get("/payments")).status_code == 200


@pytest.mark.parametrize("cost", ["12.5", True, [1]])
async def test_a_product_cost_that_is_no_number_is_a_400_problem(
        v1: httpx.AsyncClient, v2: httpx.AsyncClient, cost: object) -> None:
    """v1 reads the same product's cost as a number: v2 may not store another type."""
    assert_problem(await v2.post("/products", json={"name": "W", "cost": cost}), 400)
    product = (await v2.post("/products", json={"name": "W", "cost": 3})).json()
    assert_problem(await v2.put(f"/products/{product['id']}", json={"cost": cost}), 400)
    assert (await v1.get(f"/products/{product['id']}")).json()["cost"] == 3


async def test_a_product_without_taxes_is_a_400_problem(v2: httpx.AsyncClient) -> None:
    """``taxes: []`` crashed the sandbox (a 500); v1 gives every product a VAT key."""
    assert_problem(await v2.post("/products", json={"name": "W", "price": 10, "taxes": []}), 400)
    product = (await v2.post("/products", json={"name": "W", "price": 10})).json()
    assert_problem(await v2.put(f"/products/{product['id']}", json={"taxes": []}), 400)
    assert (await v2.get(f"/products/{product['id']}")).json()["taxes"] == ["s_iva_21"]


@pytest.mark.parametrize("price", [10**30, -1e30])
async def test_amounts_too_large_to_count_to_the_cent_are_a_400_problem(
        v1: httpx.AsyncClient, v2: httpx.AsyncClient, price: float) -> None:
    assert_problem(await v2.post("/products", json={"name": "W", "price": price}), 400)
    product = (await v2.post("/products", json={"name": "W", "price": 10})).json()
    assert_problem(await v2.put(f"/products/{product['id']}", json={"price": price}), 400)
    cid = await new_contact(v1)
    assert_problem(await v2.post("/invoices", json={"contact_id": cid, "date": "2026-01-15",
                                                    "lines": [{"name": "x", "price": price}]}), 400)


async def test_bank_accounts_show_v1_payments_as_movements(v1: httpx.AsyncClient, v2: httpx.AsyncClient) -> None:
    doc = (await v1.post("/documents/invoice", json={"date": 1767268800, "approveDoc": True,
                                                     "items": [{"name": "a", "subtotal": 10}]})).json()
    await v1.post(f"/documents/invoice/{doc['id']}/pay", json={"date": 1767268800, "amount": 10})
    banks = (await v2.get("/bank-accounts")).json()["items"]
    default = banks[0]
    assert default["balance"] == 10
    movements = (await v2.get(f"/bank-accounts/{default['id']}/movements")).json()["items"]
    assert [(m["amount"], m["document_id"]) for m in movements] == [(10, doc["id"])]
    assert (await v2.get(f"/bank-accounts/{banks[1]['id']}/movements")).json()["items"] == []


async def test_v2_payments_products_taxes_price_lists_usage(v2: httpx.AsyncClient) -> None:
    payment = await v2.post("/payments", json={"amount": 5, "date": "2026-01-15T10:00:00+01:00"})
    assert payment.status_code == 201 and payment.json()["date"] == "2026-01-15T09:00:00Z"
    assert_problem(await v2.post("/payments", json={"amount": 5}), 400)
    product = await v2.post("/products", json={"name": "W", "sku": "W", "price": 10, "taxes": ["s_iva_10"]})
    assert product.status_code == 201 and product.json()["total"] == 11
    assert_problem(await v2.post("/products", json={"name": "W", "taxes": ["zz"]}), 400)
    updated = await v2.put(f"/products/{product.json()['id']}", json={"price": 20})
    assert updated.json()["total"] == 22
    taxes = (await v2.get("/taxes")).json()["items"]
    assert {"s_iva_21", "s_rec_52", "p_ret_19"} <= {t["key"] for t in taxes}
    price_lists = (await v2.get("/price-lists")).json()["items"]
    assert [p["is_default"] for p in price_lists] == [True, False]
    usage = (await v2.get("/usage")).json()
    assert usage["type"] == "standard" and usage["period"] == "monthly" and usage["limit"] == 7500
    assert usage["count"] == 8  # the eight v2 calls of this test, this one included
