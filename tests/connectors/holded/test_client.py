from __future__ import annotations

import base64
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from connectors.base.errors import AuthExpired, FatalError, PaginationLoop, RetryableError
from connectors.base.retry import RetryPolicy
from connectors.holded.client import HoldedClient
from connectors.holded.errors import (
    AccountBlocked,
    HoldedRejected,
    NotFound,
    UnexpectedContent,
    UnknownSku,
    UnsupportedOperation,
    WriteNotApplied,
    ZeroPriceLine,
)
from tests.connectors.fakes import FakeApi, FakeClock, SequenceRandom, json_response, raising

KEY = "v1-secret-key-0123456789"
INV = "/api/invoicing/v1"
ID = "5f1b2c3d4e5f60718293a4b5"


def make(api: FakeApi, version: str = "v1", **kwargs: object) -> HoldedClient:
    clock = FakeClock(autojump=True)
    return HoldedClient(api.client("https://api.holded.com"), api_key=SecretStr(KEY),
                        base_url="https://api.holded.com/api", version=version,  # type: ignore[arg-type]
                        retry=RetryPolicy(max_attempts=3), clock=clock, rand=SequenceRandom(0.1),
                        **kwargs)  # type: ignore[arg-type]


def html() -> httpx.Response:
    return httpx.Response(200, text="<!DOCTYPE html><html>app</html>",
                          headers={"content-type": "text/html; charset=utf-8"})


# -- auth, versions ---------------------------------------------------------------------
async def test_v1_sends_the_key_header_and_never_a_bearer() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/contacts/{ID}", json_response(200, {"id": ID}))
    assert await make(api).contacts.get(ID) == {"id": ID}
    request = api.requests[0]
    assert request.headers["key"] == KEY and "authorization" not in request.headers


async def test_v2_sends_a_bearer_token() -> None:
    api = FakeApi()
    api.on("GET", f"/api/v2/contacts/{ID}", json_response(200, {"id": ID}))
    await make(api, "v2").contacts.get(ID)
    assert api.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "key" not in api.requests[0].headers


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        make(FakeApi(), "v3")
    with pytest.raises(ValueError):
        HoldedClient(httpx.AsyncClient(), api_key="")


async def test_a_resource_missing_in_the_version_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedOperation):
        await make(FakeApi(), "v1").usage()
    with pytest.raises(UnsupportedOperation):
        await make(FakeApi(), "v2").documents("purchaserefund").get(ID)


# -- paging -----------------------------------------------------------------------------
async def test_v1_pages_1200_contacts_as_500_500_200_then_empty() -> None:
    api = FakeApi()
    data = [{"id": str(i)} for i in range(1200)]

    def pages(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["page"])
        return json_response(200, data[(n - 1) * 500 : n * 500])

    api.on("GET", f"{INV}/contacts", pages)
    got = [c async for c in make(api).contacts.list(lane="bulk")]
    assert got == data
    assert [r.url.params["page"] for r in api.requests] == ["1", "2", "3", "4"]


async def test_v1_server_ignoring_page_raises_instead_of_looping() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/products", json_response(200, [{"id": "a"}]))
    with pytest.raises(PaginationLoop):
        _ = [p async for p in make(api).products.list()]


async def test_v2_cursor_paging() -> None:
    api = FakeApi()
    pages = {
        None: {"items": [{"id": 1}, {"id": 2}], "cursor": "c1", "has_more": True},
        "c1": {"items": [{"id": 3}], "cursor": None, "has_more": False},
    }
    api.on("GET", "/api/v2/invoices",
           lambda r: json_response(200, pages[r.url.params.get("cursor")]))
    docs = [d async for d in make(api, "v2").documents("invoice").list(starttmp=0)]
    assert [d["id"] for d in docs] == [1, 2, 3]
    assert api.requests[0].url.params["limit"] == "100"
    assert api.requests[0].url.params["start_date"] == "1970-01-01T00:00:00Z"
    assert api.requests[1].url.params["cursor"] == "c1"


async def test_v2_repeated_cursor_raises() -> None:
    api = FakeApi()
    api.on("GET", "/api/v2/contacts", lambda r: json_response(
        200, {"items": [{"id": r.url.params.get("cursor")}], "cursor": "x", "has_more": True}))
    with pytest.raises(PaginationLoop):
        _ = [c async for c in make(api, "v2").contacts.list()]


async def test_document_list_filters_and_reference_lists_are_single_requests() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/documents/purchase", lambda r: json_response(
        200, [] if r.url.params["page"] == "2" else [{"id": "d"}]))
    api.on("GET", f"{INV}/taxes", json_response(200, [
        {"id": "", "key": "s_iva_21", "amount": "21"}, {"id": "", "key": "s_ret_19", "amount": "19"}]))
    docs = [d async for d in make(api).documents("purchase").list(
        starttmp=100, endtmp=200, contactid="c", paid=0, sort="created-asc", billed=None)]
    assert docs == [{"id": "d"}]
    params = api.requests[0].url.params
    assert (params["starttmp"], params["endtmp"], params["contactid"], params["paid"],
            params["sort"]) == ("100", "200", "c", "0", "created-asc")
    assert "billed" not in params
    taxes = await make(api).taxes()
    assert set(taxes) == {"s_iva_21", "s_ret_19"}
    assert "page" not in api.requests[-1].url.params


# -- contacts: CustomId written, customId read ------------------------------------------
async def test_contact_create_writes_CustomId_and_filters_by_customId_array() -> None:
    api = FakeApi()
    api.on("POST", f"{INV}/contacts", json_response(201, {"status": 1, "info": "Created", "id": ID}))
    api.on("GET", f"{INV}/contacts", lambda r: json_response(200, [
        {"id": ID, "customId": "contact/odoo/7"}] if r.url.params["page"] == "1" else []))
    client = make(api)
    await client.contacts.create({"name": "ACME", "customId": "contact/odoo/7"})
    assert api.sent_json(0) == {"name": "ACME", "CustomId": "contact/odoo/7"}
    found = await client.contacts.find_by_custom_id("contact/odoo/7")
    assert found == {"id": ID, "customId": "contact/odoo/7"}
    assert api.requests[1].url.params.get_list("customId[]") == ["contact/odoo/7"]


# -- quirks -----------------------------------------------------------------------------
async def test_200_html_is_an_error_not_an_empty_success() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/contacts/{ID}", html())
    with pytest.raises(UnexpectedContent, match="web app") as info:
        await make(api).contacts.get(ID)
    assert len(api.requests) == 1  # fatal: not retried
    assert KEY not in str(info.value)


async def test_200_json_body_with_a_text_content_type_is_refused_outside_pdf() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/products/{ID}", httpx.Response(
        200, text='{"id": "x"}', headers={"content-type": "text/plain"}))
    with pytest.raises(UnexpectedContent):
        await make(api).products.get(ID)


async def test_not_found_envelope_is_NotFound() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/contacts/{ID}", json_response(400, {"status": 0, "info": "not found"}))
    with pytest.raises(NotFound, match="not found"):
        await make(api).contacts.get(ID)
    assert len(api.requests) == 1


async def test_other_envelopes_carry_their_info_even_on_200() -> None:
    api = FakeApi()
    api.on("POST", f"{INV}/documents/invoice/{ID}/pay",
           json_response(400, {"status": 0, "info": "Wrong date"}))
    api.on("POST", f"{INV}/contacts", json_response(200, {"status": 0, "info": "Duplicated"}))
    with pytest.raises(HoldedRejected, match="Wrong date"):
        await make(api).documents("invoice").pay(ID, date=0, amount=10)
    with pytest.raises(HoldedRejected, match="Duplicated"):
        await make(api).contacts.create({"name": "x"})


async def test_a_draft_document_with_status_0_is_not_an_error() -> None:
    api = FakeApi()
    draft = {"id": ID, "status": 0, "draft": True, "products": [], "docNumber": None}
    api.on("GET", f"{INV}/documents/invoice/{ID}", json_response(200, draft))
    assert await make(api).documents("invoice").get(ID) == draft


async def test_402_account_blocked_is_fatal_with_the_reason() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/contacts", httpx.Response(
        402, text="Account has been blocked. Reason: Unpaid", headers={"content-type": "text/html"}))
    with pytest.raises(AccountBlocked, match="Unpaid") as info:
        _ = [c async for c in make(api).contacts.list()]
    assert isinstance(info.value, FatalError) and info.value.fault.value == "config"
    assert len(api.requests) == 1


async def test_update_verified_names_the_dropped_fields() -> None:
    api = FakeApi()
    api.on("PUT", f"{INV}/documents/invoice/{ID}", json_response(
        200, {"status": 1, "info": "Updated", "id": ID}))
    api.on("GET", f"{INV}/documents/invoice/{ID}", json_response(
        200, {"id": ID, "notes": "ERP 42", "desc": "old", "customFields": [], "products": []}))
    with pytest.raises(WriteNotApplied) as info:
        await make(api).documents("invoice").update_verified(
            ID, {"notes": "ERP 42", "desc": "new", "bogusField": 1, "items": [{"sku": "A"}]})
    assert info.value.fields == ("desc", "bogusField")
    assert info.value.record_id == ID


async def test_update_verified_passes_when_applied_with_read_names() -> None:
    api = FakeApi()
    api.on("PUT", f"{INV}/contacts/{ID}", json_response(200, {"status": 1, "info": "Updated"}))
    api.on("GET", f"{INV}/contacts/{ID}", json_response(200, {
        "id": ID, "customId": "k", "name": "ACME", "defaults": {"dueDays": 30},
        "billAddress": {"city": "Bilbao", "countryCode": "ES"}}))
    record = await make(api).contacts.update_verified(ID, {
        "CustomId": "k", "name": "ACME", "defaults": {"paymentDay": 5},
        "billAddress": {"city": "Bilbao"}})
    assert record["id"] == ID


async def test_create_checked_refuses_unknown_skus_before_writing() -> None:
    api = FakeApi()
    with pytest.raises(UnknownSku) as info:
        await make(api).documents("invoice").create_checked(
            {"date": 1, "items": [{"sku": "A", "subtotal": 10}, {"sku": "NOPE", "subtotal": 5}]},
            known_skus={"A"})
    assert info.value.skus == ("NOPE",)
    assert api.requests == []


async def test_create_checked_scans_the_catalogue_when_no_skus_given() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/products", lambda r: json_response(200, [
        {"id": "p", "sku": "A", "variants": [{"sku": "A-RED"}]}] if r.url.params["page"] == "1" else []))
    with pytest.raises(UnknownSku, match="B"):
        await make(api).documents("invoice").create_checked(
            {"date": 1, "items": [{"sku": "A-RED", "subtotal": 1}, {"sku": "B", "subtotal": 1}]})


async def test_create_checked_raises_on_a_zero_priced_line() -> None:
    api = FakeApi()
    api.on("POST", f"{INV}/documents/invoice", json_response(201, {"status": 1, "id": ID}))
    api.on("GET", f"{INV}/documents/invoice/{ID}", json_response(200, {"id": ID, "products": [
        {"name": "Widget", "sku": "A", "price": 10}, {"name": "Free text", "price": 0}]}))
    with pytest.raises(ZeroPriceLine) as info:
        await make(api).documents("invoice").create_checked(
            {"date": 1, "products": [{"sku": "A", "subtotal": 10}, {"name": "Free text", "subtotal": 7}]},
            known_skus={"A"})
    assert info.value.record_id == ID
    assert "line 2" in str(info.value)
    assert "items" in api.sent_json(0) and "products" not in api.sent_json(0)


async def test_create_checked_returns_the_document_when_lines_hold() -> None:
    api = FakeApi()
    api.on("POST", f"{INV}/documents/invoice", json_response(201, {"status": 1, "id": ID}))
    api.on("GET", f"{INV}/documents/invoice/{ID}", json_response(
        200, {"id": ID, "products": [{"sku": "A", "price": 10}]}))
    doc = await make(api).documents("invoice").create_checked(
        {"date": 1, "items": [{"sku": "A", "subtotal": 10}]}, known_skus={"A"})
    assert doc["id"] == ID


async def test_pdf_tolerates_text_html_and_strips_leading_headers() -> None:
    api = FakeApi()
    data = base64.b64encode(b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 x").decode()
    api.on("GET", f"{INV}/documents/invoice/{ID}/pdf", httpx.Response(
        200, text=f'{{"status": 1, "data": "{data}"}}', headers={"content-type": "text/html"}))
    assert await make(api).documents("invoice").pdf(ID) == b"%PDF-1.4 x"


# -- status classification --------------------------------------------------------------
async def test_429_is_retried_after_retry_after() -> None:
    api = FakeApi()
    api.script("GET", f"{INV}/contacts/{ID}", httpx.Response(429, headers={"Retry-After": "3"}))
    api.on("GET", f"{INV}/contacts/{ID}", json_response(200, {"id": ID}))
    client = make(api)
    assert await client.contacts.get(ID) == {"id": ID}
    assert client.transport.limiter.rate() < client.transport.limiter.full_rate


async def test_5xx_and_timeouts_are_retried_then_raised() -> None:
    api = FakeApi()
    api.script("GET", f"{INV}/contacts/{ID}", httpx.Response(502), raising(httpx.ConnectTimeout("t")))
    api.on("GET", f"{INV}/contacts/{ID}", httpx.Response(503, text="down"))
    with pytest.raises(RetryableError):
        await make(api).contacts.get(ID)
    assert len(api.requests) == 3


async def test_v1_bad_key_is_fatal_after_one_retry() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/contacts/{ID}", json_response(401, {"status": 0, "info": "Unauthorized"}))
    with pytest.raises(FatalError) as info:
        await make(api).contacts.get(ID)
    assert len(api.requests) == 2
    assert KEY not in str(info.value) and KEY not in repr(info.value.context)


async def test_v2_401_is_auth_expired() -> None:
    api = FakeApi()
    api.on("GET", f"/api/v2/contacts/{ID}", httpx.Response(
        401, json={"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "bad token"},
        headers={"content-type": "application/problem+json"}))
    with pytest.raises(AuthExpired, match="bad token"):
        await make(api, "v2").contacts.get(ID)


@pytest.mark.parametrize(("status", "error"), [(403, FatalError), (404, NotFound), (422, HoldedRejected)])
async def test_v2_problem_json_errors(status: int, error: type[Exception]) -> None:
    api = FakeApi()
    api.on("POST", "/api/v2/contacts", httpx.Response(
        status, json={"type": "https://x/problems/y", "title": "Problem", "status": status,
                      "detail": "contacts:contacts.write missing"},
        headers={"content-type": "application/problem+json"}))
    with pytest.raises(error, match="contacts.write missing"):
        await make(api, "v2").contacts.create({"name": "x"})
    assert len(api.requests) == 1


async def test_429_with_a_v1_envelope_keeps_retry_after() -> None:
    api = FakeApi()
    api.script("GET", f"{INV}/contacts/{ID}", httpx.Response(
        429, json={"status": 0, "info": "Too many requests"}, headers={"Retry-After": "0"}))
    api.on("GET", f"{INV}/contacts/{ID}", json_response(200, {"id": ID}))
    client = make(api)
    assert await client.contacts.get(ID) == {"id": ID}
    assert len(api.requests) == 2


# -- stock ------------------------------------------------------------------------------
async def test_a_stock_adjustment_is_never_repeated_by_the_transport() -> None:
    """A 502 after the PUT may mean the units were added: repeating it could add them twice."""
    api = FakeApi()
    route = api.on("PUT", f"{INV}/products/{ID}/stock", json_response(502, {"status": 0}))
    with pytest.raises(RetryableError):
        await make(api).products.adjust_stock(ID, "w1", ID, 3)
    assert route.calls == 1
    assert api.sent_json() == {"stock": {"w1": {ID: 3}}}


@pytest.mark.parametrize("body", [
    [{"productId": ID, "stock": 5}],                       # a bare list: another shape
    {"warehouse": {"products": [{"id": ID, "stock": 5}]}},  # rows without product_id
    {"warehouse": {"products": [{"product_id": ID, "stock": "many"}]}},
])
async def test_warehouse_levels_in_an_unknown_shape_are_an_error_not_zero(body: object) -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/warehouses/w1/stock", json_response(200, body))
    with pytest.raises(UnexpectedContent):
        await make(api).warehouses.levels("w1")


async def test_warehouse_levels_read_products_and_variants_exactly() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/warehouses/w1/stock", json_response(200, {"warehouse": {"products": [
        {"product_id": ID, "stock": 2.5, "variants": {"v1": 4}}]}}))
    assert await make(api).warehouses.levels("w1") == {ID: Decimal("2.5"), "v1": Decimal(4)}
