"""The Holded sandbox's v1 contract: auth, HTML for unknown routes, contacts, products, taxes, paging."""
from __future__ import annotations

import re

import httpx
import pytest

from connectors.holded.sandbox import SandboxServer
from tests.sandboxes.conftest import KEY, new_contact

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


def is_html(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.headers["content-type"].startswith("text/html")


# --- auth, blocked account, request log ------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"key": "wrong"}, {"Authorization": f"Bearer {KEY}"}])
async def test_v1_rejects_missing_or_bad_key_with_401(sandbox: SandboxServer, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=sandbox.v1_url, headers=headers) as client:
        response = await client.get("/contacts")
    assert response.status_code == 401
    assert response.json()["status"] == 0


async def test_blocked_account_gets_402(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    sandbox.faults.account_blocked = True
    response = await v1.get("/contacts")
    assert response.status_code == 402
    assert response.json() == {"status": 0, "info": "Account has been blocked. Reason: Unpaid"}


async def test_every_request_is_recorded_with_a_key_id_never_the_key(sandbox: SandboxServer,
                                                                      v1: httpx.AsyncClient) -> None:
    await v1.get("/contacts", params={"phone": "600"})
    async with httpx.AsyncClient(base_url=sandbox.v1_url) as anonymous:
        await anonymous.get("/contacts")
    ok_record, rejected = sandbox.requests[-2:]
    assert (ok_record.method, ok_record.path, ok_record.status) == ("GET", "/api/invoicing/v1/contacts", 200)
    assert ok_record.query == {"phone": ["600"]}
    assert ok_record.key_id == sandbox.key_id(KEY) and KEY not in ok_record.key_id
    assert (rejected.status, rejected.key_id) == (401, None)


# --- routes that do not exist answer with the web app's HTML, HTTP 200 ----------------------
@pytest.mark.parametrize("path", [
    "/api/invoicing/v1/nothing", "/api/invoicing/v1/documents/receiptnote", "/api/invoicing/v1/documents/invoice/search",
    "/api/invoicing/v1/numberingseries", "/api/inventory/v1/warehouses", "/api/invoicing/v1/warehouse",
    "/api/invoicing/v1/contacts/search", "/api/webhooks/v1/create",
])
async def test_unknown_routes_return_the_html_page(sandbox: SandboxServer, v1: httpx.AsyncClient, path: str) -> None:
    response = await v1.get(sandbox.url.removesuffix("/api") + path)
    assert is_html(response)
    assert "<html" in response.text


async def test_post_to_unknown_doc_type_is_html_and_creates_nothing(sandbox: SandboxServer,
                                                                  v1: httpx.AsyncClient) -> None:
    response = await v1.post("/documents/bill", json={"date": 1767225600})
    assert is_html(response)
    assert await sandbox.count("documents") == 0


async def test_writes_need_a_json_content_type(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/contacts", content="name=ACME", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and response.json()["status"] == 0


@pytest.mark.parametrize("body", [
    b'{"name": "W", "price": 10, "tax": NaN}', b'{"name": "W", "price": Infinity}',
    b'{"name": "W", "price": 10, "tax": 1e400}', b'{"name": "W", "price": -Infinity}',
    b"[" * 100_000 + b"]" * 100_000,  # nested too deep for the parser: once a 500 too
])
async def test_a_number_json_cannot_hold_is_400_invalid_json(
        sandbox: SandboxServer, v1: httpx.AsyncClient, body: bytes) -> None:
    """NaN and Infinity are not JSON, and 1e400 is none a double holds: a JavaScript server
    refuses the first two (it crashed the sandbox: 500, retried forever)."""
    response = await v1.post("/products", content=body,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json() == {"status": 0, "info": "Invalid JSON"}
    assert await sandbox.count("products") == 0


# --- contacts --------------------------------------------------------------------------------
async def test_contact_create_returns_created_envelope_with_object_id(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/contacts", json={"name": "ACME SL", "CustomId": "contact/odoo/7"})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == 1 and body["info"] == "Created" and OBJECT_ID.match(body["id"])


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "  "}, {"name": 7},
                                  {"name": None, "code": "B1"}])
async def test_a_contact_is_created_with_a_name_of_text_only(v1: httpx.AsyncClient, body) -> None:
    response = await v1.post("/contacts", json={"CustomId": "contact/odoo/9", **body})
    assert response.status_code == 400 and response.json()["info"] == "Wrong name"
    assert (await v1.get("/contacts", params={"customId[]": "contact/odoo/9"})).json() == []
    made = await new_contact(v1)
    assert (await v1.put(f"/contacts/{made}", json={"name": ["x"]})).status_code == 400
    assert (await v1.put(f"/contacts/{made}", json={"email": "a@b.es"})).status_code == 200


async def test_custom_id_is_written_capitalised_and_read_lower_case(v1: httpx.AsyncClient) -> None:
    written = await new_contact(v1, CustomId="contact/odoo/1")
    lower = await new_contact(v1, customId="contact/odoo/2")
    assert (await v1.get(f"/contacts/{written}")).json()["customId"] == "contact/odoo/1"
    assert (await v1.get(f"/contacts/{lower}")).json()["customId"] is None  # "customId" on write is dropped


async def test_contacts_filter_by_custom_id_array_phone_and_mobile_only(v1: httpx.AsyncClient) -> None:
    a = await new_contact(v1, name="Alpha", CustomId="c/1", phone="+34 600 000 001", email="a@x.es", code="B1")
    b = await new_contact(v1, name="Beta", CustomId="c/2", mobile="611")
    await new_contact(v1, name="Gamma", CustomId="c/3")

    async def ids(**params: object) -> list[str]:
        return [c["id"] for c in (await v1.get("/contacts", params=params)).json()]

    assert await ids(**{"customId[]": ["c/1", "c/2"]}) == [a, b]
    assert await ids(phone="+34 600 000 001") == [a]
    assert await ids(phone="600000001") == []  # exact match, special characters included
    assert await ids(mobile="611") == [b]
    assert len(await ids(name="Alpha")) == 3  # no filter by name, email or code: all come back
    assert len(await ids(email="a@x.es")) == 3
    assert len(await ids(code="B1")) == 3


async def test_contact_defaults_are_read_back_in_another_shape(v1: httpx.AsyncClient) -> None:
    cid = await new_contact(v1, defaults={"salesTax": 21, "dueDays": 30, "expensesAccountRecord": 62900000})
    defaults = (await v1.get(f"/contacts/{cid}")).json()["defaults"]
    assert defaults["tax"] == 21 and defaults["dueDays"] == 30 and defaults["expensesAccount"] == 62900000
    assert "salesTax" not in defaults


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_unknown_contact_id_is_400_not_found(v1: httpx.AsyncClient, method: str) -> None:
    response = await v1.request(method, "/contacts/5f0c0c0c0c0c0c0c0c0c0c0c", json={"name": "x"})
    assert response.status_code == 400
    assert response.json() == {"status": 0, "info": "not found"}


async def test_contact_update_and_delete(v1: httpx.AsyncClient) -> None:
    cid = await new_contact(v1)
    response = await v1.put(f"/contacts/{cid}", json={"email": "new@acme.es", "favouriteColour": "red"})
    assert response.json() == {"status": 1, "info": "Updated", "id": cid}
    contact = (await v1.get(f"/contacts/{cid}")).json()
    assert contact["email"] == "new@acme.es" and "favouriteColour" not in contact
    assert (await v1.delete(f"/contacts/{cid}")).json()["status"] == 1
    assert (await v1.get(f"/contacts/{cid}")).status_code == 400


async def test_contact_type_outside_the_documented_set_is_rejected(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/contacts", json={"name": "X", "type": "customer"})
    assert response.status_code == 400 and response.json()["status"] == 0


async def test_contact_sales_account_is_kept_but_not_in_the_read_shape(
        sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    cid = await new_contact(v1, CustomId="k1", defaults={"salesAccountRecord": 70500000})
    defaults = (await v1.get(f"/contacts/{cid}")).json()["defaults"]
    assert "salesAccountRecord" not in defaults and "salesAccount" not in defaults
    [stored] = await sandbox.all("contacts", customId="k1")
    assert stored["salesAccountRecord"] == 70500000


@pytest.mark.parametrize("defaults", [{"language": "gl"}, {"language": "ES"}, {"currency": "EUR"},
                                      {"currency": "euro"},
                                      # documented as integers: an account id or a text is refused
                                      {"salesAccountRecord": "64a1f0c2e4b0a1000000705a"},
                                      {"salesAccountRecord": "70500000"},
                                      {"expensesAccountRecord": 6.2e7},
                                      {"expensesAccountRecord": True}])
async def test_contact_defaults_outside_the_documented_values_are_rejected(
        v1: httpx.AsyncClient, defaults: dict) -> None:
    response = await v1.post("/contacts", json={"name": "X", "defaults": defaults})
    assert response.status_code == 400 and response.json()["status"] == 0


@pytest.mark.parametrize("field", ["clientRecord", "supplierRecord"])
@pytest.mark.parametrize("value", ["43000001", 4.3e7, True, -1, "64a1f0c2e4b0a10000004300"])
async def test_contact_ledger_records_are_whole_numbers(
        sandbox: SandboxServer, v1: httpx.AsyncClient, field: str, value: object) -> None:
    """clientRecord / supplierRecord are documented as integers (ledger sub-accounts), as
    defaults' salesAccountRecord is: another type is refused on create and on update."""
    created = await v1.post("/contacts", json={"name": "X", field: value})
    assert created.status_code == 400 and created.json()["status"] == 0
    cid = await new_contact(v1, CustomId="rec", **{field: 43000001})
    updated = await v1.put(f"/contacts/{cid}", json={field: value})
    assert updated.status_code == 400 and updated.json()["status"] == 0
    assert (await v1.get(f"/contacts/{cid}")).json()[field] == 43000001


# --- v1 paging: fixed 500 per page, ends with an empty array ---------------------------------
async def test_contacts_paginate_500_per_page_then_empty(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    await sandbox.insert("contacts", [{"name": f"C{i:04d}", "customId": f"c/{i}"} for i in range(1200)])
    pages = [(await v1.get("/contacts", params={"page": p, "limit": 1000})).json() for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [500, 500, 200, 0]
    names = [c["name"] for page in pages for c in page]
    assert names == [f"C{i:04d}" for i in range(1200)]


# --- products, services, warehouses ----------------------------------------------------------
async def test_products_list_is_a_bare_array_and_tax_becomes_tax_keys(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/products", json={"name": "Widget", "sku": "W-1", "price": 10, "tax": 10})
    assert response.status_code == 201
    products = (await v1.get("/products")).json()
    assert isinstance(products, list)
    assert products[0]["taxes"] == ["s_iva_10"] and products[0]["total"] == 11.0 and products[0]["sku"] == "W-1"


async def test_product_update_takes_subtotal_not_price(v1: httpx.AsyncClient) -> None:
    pid = (await v1.post("/products", json={"name": "Widget", "price": 10})).json()["id"]
    await v1.put(f"/products/{pid}", json={"price": 99})
    assert (await v1.get(f"/products/{pid}")).json()["price"] == 10
    await v1.put(f"/products/{pid}", json={"subtotal": 12.5})
    assert (await v1.get(f"/products/{pid}")).json()["price"] == 12.5


@pytest.mark.parametrize("field", ["cost", "purchasePrice", "weight"])
@pytest.mark.parametrize("value", ["12.5", True, [1], {"eur": 1}])
async def test_a_product_amount_that_is_no_number_is_refused(
        v1: httpx.AsyncClient, field: str, value: object) -> None:
    """Reads show cost, purchasePrice and weight as numbers; the sandbox never serves one
    that is not (nothing written)."""
    created = await v1.post("/products", json={"name": "Widget", field: value})
    assert created.status_code == 400 and created.json()["status"] == 0
    pid = (await v1.post("/products", json={"name": "Widget", field: 2.5})).json()["id"]
    updated = await v1.put(f"/products/{pid}", json={field: value})
    assert updated.status_code == 400 and updated.json()["status"] == 0
    assert (await v1.get(f"/products/{pid}")).json()[field] == 2.5


@pytest.mark.parametrize("price", [10**30, -1e30])
async def test_a_product_price_too_large_to_count_to_the_cent_is_refused(
        sandbox: SandboxServer, v1: httpx.AsyncClient, price: float) -> None:
    created = await v1.post("/products", json={"name": "Widget", "price": price})
    assert created.status_code == 400 and created.json() == {"status": 0, "info": "Wrong price"}
    pid = (await v1.post("/products", json={"name": "Widget", "price": 10})).json()["id"]
    updated = await v1.put(f"/products/{pid}", json={"subtotal": price})
    assert updated.status_code == 400 and updated.json() == {"status": 0, "info": "Wrong subtotal"}
    assert [p["price"] for p in (await v1.get("/products")).json()] == [10]


async def test_product_tax_that_is_no_vat_rate_is_rejected(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/products", json={"name": "Widget", "price": 10, "tax": 17})
    assert response.status_code == 400 and response.json()["status"] == 0


async def test_stock_moves_are_added_per_warehouse(v1: httpx.AsyncClient) -> None:
    """The integrators' shape {warehouse: {item: n}} adds n; the digest's
    {warehouseId, quantity} shape is refused, never half understood."""
    pid = (await v1.post("/products", json={"name": "Widget", "sku": "W", "price": 1, "stock": 5})).json()["id"]
    warehouse = (await v1.get("/warehouses")).json()[0]["id"]
    response = await v1.put(f"/products/{pid}/stock", json={"stock": {warehouse: {pid: -2}}})
    assert response.json()["status"] == 1
    assert (await v1.get(f"/products/{pid}")).json()["stock"] == 3
    levels = (await v1.get(f"/warehouses/{warehouse}/stock")).json()["warehouse"]["products"]
    assert [(p["product_id"], p["sku"], p["stock"]) for p in levels] == [(pid, "W", 3)]
    unknown = await v1.put(f"/products/{pid}/stock", json={"stock": {"5f0c0c0c0c0c0c0c0c0c0c0c": {pid: 1}}})
    assert unknown.status_code == 400
    digest_shape = await v1.put(f"/products/{pid}/stock",
                                json={"stock": {"warehouseId": warehouse, "quantity": 1}})
    assert digest_shape.status_code == 400
    assert (await v1.get(f"/products/{pid}")).json()["stock"] == 3


SHIRT, SHIRT_M, SHIRT_L = "5f1a0000000000000000aa01", "5f1a0000000000000000aa02", "5f1a0000000000000000aa03"


async def shirt_with_variants(sandbox: SandboxServer, warehouse: str) -> None:
    """A product of kind ``variants`` as Holded's app makes it (the API creates none)."""
    await sandbox.insert("products", [{
        "id": SHIRT, "kind": "variants", "name": "Camiseta", "sku": "", "price": 20.0,
        "taxes": ["s_iva_21"], "variants": [
            {"id": SHIRT_M, "sku": "CAM-M", "barcode": "841", "price": 20.0, "cost": 8.0,
             "stockByWarehouse": {warehouse: 4}},
            {"id": SHIRT_L, "sku": "CAM-L", "price": 21.0, "stockByWarehouse": {}}]}])


async def test_a_product_with_variants_reads_and_lists_each_variants_stock(
        sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    warehouse = (await v1.get("/warehouses")).json()[0]["id"]
    await shirt_with_variants(sandbox, warehouse)
    read = (await v1.get(f"/products/{SHIRT}")).json()
    assert (read["kind"], read["stock"]) == ("variants", 4)
    assert [(v["id"], v["sku"], v["price"], v["stock"]) for v in read["variants"]] == [
        (SHIRT_M, "CAM-M", 20.0, 4), (SHIRT_L, "CAM-L", 21.0, 0)]
    assert set(read["variants"][0]) == {"id", "barcode", "sku", "price", "cost", "purchasePrice", "stock"}
    response = await v1.put(f"/products/{SHIRT}/stock", json={"stock": {warehouse: {SHIRT_L: 3}}})
    assert response.json()["status"] == 1
    [row] = (await v1.get(f"/warehouses/{warehouse}/stock")).json()["warehouse"]["products"]
    assert (row["product_id"], row["stock"], row["variants"]) == (SHIRT, 7, {SHIRT_M: 4, SHIRT_L: 3})
    assert [v["stock"] for v in (await v1.get(f"/products/{SHIRT}")).json()["variants"]] == [4, 3]


async def test_a_variants_stock_is_adjusted_only_by_its_id_under_its_own_product(
        sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    """A product with variants holds no units of its own; a variant is no product of its
    own and no item of another product. Nothing is written on a refusal."""
    warehouse = (await v1.get("/warehouses")).json()[0]["id"]
    await shirt_with_variants(sandbox, warehouse)
    other = (await v1.post("/products", json={"name": "Widget", "sku": "W", "price": 1})).json()["id"]
    refused = [
        await v1.put(f"/products/{SHIRT}/stock", json={"stock": {warehouse: {SHIRT: 1}}}),
        await v1.put(f"/products/{other}/stock", json={"stock": {warehouse: {SHIRT_M: 1}}}),
        await v1.put(f"/products/{SHIRT_M}/stock", json={"stock": {warehouse: {SHIRT_M: 1}}}),
        await v1.put(f"/products/{SHIRT}/stock", json={"stock": {warehouse: {SHIRT_M: 1, SHIRT_L: 0.5}}}),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert (await v1.get(f"/products/{SHIRT_M}")).status_code == 400  # not a product
    assert [v["stock"] for v in (await v1.get(f"/products/{SHIRT}")).json()["variants"]] == [4, 0]


async def test_a_packs_stock_is_not_adjusted(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    """A pack's stock is derived from its components': an adjustment of it is refused, by
    its own id, with nothing written (the strict reading of an undocumented case)."""
    warehouse = (await v1.get("/warehouses")).json()[0]["id"]
    [pack] = await sandbox.insert("products", [{"kind": "pack", "name": "Lote", "sku": "LOTE-1",
                                                "price": 30.0, "stockByWarehouse": {warehouse: 2}}])
    refused = await v1.put(f"/products/{pack['id']}/stock", json={"stock": {warehouse: {pack["id"]: 1}}})
    assert (refused.status_code, refused.json()["status"]) == (400, 0)
    assert (await v1.get(f"/products/{pack['id']}")).json()["stock"] == 2


async def test_services_and_contact_groups_crud(v1: httpx.AsyncClient) -> None:
    sid = (await v1.post("/services", json={"name": "Consulting", "subtotal": 80, "tax": 21})).json()["id"]
    assert (await v1.get(f"/services/{sid}")).json()["taxes"] == ["s_iva_21"]
    gid = (await v1.post("/contactgroups", json={"name": "VIP"})).json()["id"]
    assert [g["name"] for g in (await v1.get("/contactgroups")).json()] == ["VIP"]
    assert (await v1.delete(f"/contactgroups/{gid}")).json()["status"] == 1


async def test_services_get_update_delete(v1: httpx.AsyncClient) -> None:
    body = {"name": "Consultoría", "desc": "Horas\nhs-sku:CONS-H", "tags": ["erp"], "subtotal": 60,
            "tax": 21, "cost": 20}
    created = await v1.post("/services", json=body)
    assert created.status_code == 201 and OBJECT_ID.match(sid := created.json()["id"])
    read = (await v1.get(f"/services/{sid}")).json()
    assert {k: read[k] for k in ("name", "desc", "tags", "subtotal", "taxes", "cost")} == {
        "name": "Consultoría", "desc": "Horas\nhs-sku:CONS-H", "tags": ["erp"], "subtotal": 60,
        "taxes": ["s_iva_21"], "cost": 20}
    updated = await v1.put(f"/services/{sid}", json={"subtotal": 65.5, "tax": 10})
    assert updated.json() == {"status": 1, "info": "Updated", "id": sid}
    read = (await v1.get(f"/services/{sid}")).json()
    assert (read["name"], read["subtotal"], read["taxes"]) == ("Consultoría", 65.5, ["s_iva_10"])
    assert (await v1.delete(f"/services/{sid}")).json()["status"] == 1
    gone = await v1.get(f"/services/{sid}")
    assert gone.status_code == 400 and gone.json() == {"status": 0, "info": "not found"}
    assert (await v1.put(f"/services/{sid}", json={"subtotal": 1})).status_code == 400


@pytest.mark.parametrize("body", [
    {"subtotal": 10}, {"name": "", "subtotal": 10}, {"name": 7}, {"name": "S", "subtotal": "10"},
    {"name": "S", "tax": 7}, {"name": "S", "tags": "a,b"}, {"name": "S", "cost": "3"},
    {"name": "S", "desc": ["x"]},
])
async def test_service_create_refuses_what_the_documented_body_does_not_allow(
        sandbox: SandboxServer, v1: httpx.AsyncClient, body: dict) -> None:
    response = await v1.post("/services", json=body)
    assert response.status_code == 400 and response.json()["status"] == 0
    assert await sandbox.count("services") == 0


async def test_services_paginate_500_per_page_then_empty(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    await sandbox.insert("services", [{"name": f"S{i:04d}"} for i in range(501)])
    pages = [(await v1.get("/services", params={"page": p})).json() for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [500, 1, 0]
    assert [s["name"] for page in pages for s in page] == [f"S{i:04d}" for i in range(501)]


# --- taxes, series, reference data -----------------------------------------------------------
REQUIRED_TAX_KEYS = {
    "s_iva_21", "s_iva_10", "s_iva_4", "s_iva_0", "s_iva_exento", "s_iva_intrab", "s_iva_intras",
    "s_iva_export", "s_iva_invsuj", "s_rec_52", "s_rec_14", "s_rec_05", "s_rec_0", "s_ret_15", "s_ret_7",
    "s_ret_19", "p_iva_21", "p_iva_10", "p_iva_4", "p_iva_invsuj", "p_ret_15", "p_ret_7", "p_ret_19",
}


async def test_taxes_have_the_real_shape(v1: httpx.AsyncClient) -> None:
    taxes = {t["key"]: t for t in (await v1.get("/taxes")).json()}
    assert REQUIRED_TAX_KEYS <= set(taxes)
    assert taxes["s_rec_52"]["amount"] == "5.2" and taxes["s_rec_52"]["group"] == "receq"
    assert taxes["s_ret_15"]["group"] == "retention" and taxes["p_iva_21"]["scope"] == "purchases"
    assert all(t["id"] == "" and isinstance(t["amount"], str) for t in taxes.values())


async def test_numbering_series_by_type(v1: httpx.AsyncClient) -> None:
    series = (await v1.get("/numberingseries/invoice")).json()
    # The default one and the example mapping's online series W (not default).
    assert [(s["type"], s["default"]) for s in series] == [("invoice", True), ("invoice", False)]
    response = await v1.get("/numberingseries/bogus")
    assert response.status_code == 400 and response.json() == {"status": 0, "info": "Undefined type series"}


@pytest.mark.parametrize("last", ["7", 1.5, True, -1, None, [3]])
async def test_a_series_last_number_that_is_no_whole_number_is_refused(v1: httpx.AsyncClient,
                                                                      last: object) -> None:
    """Stored, it made every later approval with the series a 500."""
    created = await v1.post("/numberingseries/invoice",
                            json={"name": "Web", "format": "W%", "last": last})
    assert created.status_code == 400 and created.json() == {"status": 0, "info": "Wrong last"}
    series = (await v1.get("/numberingseries/invoice")).json()[0]["id"]
    updated = await v1.put(f"/numberingseries/invoice/{series}", json={"last": last})
    assert updated.status_code == 400 and updated.json() == {"status": 0, "info": "Wrong last"}
    approved = await v1.post("/documents/invoice", json={"date": 1767268800, "approveDoc": True})
    assert approved.status_code == 201 and approved.json()["invoiceNum"] == "F260001"


@pytest.mark.parametrize("path", ["/saleschannels", "/expensesaccounts", "/paymentmethods", "/treasury",
                                  "/remittances", "/warehouses"])
async def test_reference_lists_answer_json_arrays(v1: httpx.AsyncClient, path: str) -> None:
    response = await v1.get(path)
    assert response.status_code == 200 and isinstance(response.json(), list)


async def test_accounting_entry_must_balance_and_shows_in_ledger_and_chart(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/accounting/v1", headers={"key": KEY}) as acc:
        unbalanced = await acc.post("/entry", json={"date": 1767225600, "lines": [
            {"account": 57200000, "debit": 100}, {"account": 70000000, "credit": 90}]})
        assert unbalanced.status_code == 400
        unknown = await acc.post("/entry", json={"date": 1767225600, "lines": [
            {"account": 11111111, "debit": 100}, {"account": 70000000, "credit": 100}]})
        assert unknown.status_code == 400
        created = await acc.post("/entry", json={"date": 1767225600, "notes": "sale", "lines": [
            {"account": 57200000, "debit": 100}, {"account": 70000000, "credit": 100}]})
        assert created.status_code == 201
        ledger = (await acc.get("/dailyledger")).json()
        assert [(x["account"], x["debit"], x["credit"]) for x in ledger] == [(57200000, 100, 0), (70000000, 0, 100)]
        chart = (await acc.get("/chartofaccounts")).json()
        assert {a["num"]: a["balance"] for a in chart} == {57200000: 100.0, 70000000: -100.0}


async def test_crm_funnels_and_leads_are_readable(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/crm/v1", headers={"key": KEY}) as crm:
        funnels = (await crm.get("/funnels")).json()
        leads = (await crm.get("/leads")).json()
    assert funnels and leads and leads[0]["funnelId"] == funnels[0]["id"]


async def test_a_file_store_survives_a_restart_without_reseeding(make_sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "holded.sqlite"
    first = await make_sandbox(db_path=db)
    async with httpx.AsyncClient(base_url=first.v1_url, headers={"key": KEY}) as client:
        cid = await new_contact(client, CustomId="c/keep")
    await first.stop()
    second = await make_sandbox(db_path=db)
    assert [c["id"] for c in await second.all("contacts")] == [cid]
    assert await second.count("numberingseries", type="invoice") == 2  # as seeded, not twice
