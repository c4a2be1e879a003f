"""The PrestaShop sandbox's contract over plain HTTP: keys, list parameters, writes, faults."""
from __future__ import annotations

from collections.abc import AsyncIterator
from xml.etree import ElementTree

import httpx
import pytest
from click.testing import CliRunner

from connectors.prestashop.sandbox import (
    KEY, NARROW_KEY, READ_KEY, PrestaShopSandbox, start_prestashop_sandbox,
)
from connectors.prestashop.sandbox_cli import sandbox_prestashop_command

JSON = {"output_format": "JSON"}


@pytest.fixture
async def sb() -> AsyncIterator[PrestaShopSandbox]:
    server = await start_prestashop_sandbox(port=0)
    yield server
    await server.stop()


@pytest.fixture
async def api(sb: PrestaShopSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sb.url}/api", auth=(KEY, "")) as client:
        yield client


def xml_error(response: httpx.Response) -> tuple[str, str]:
    root = ElementTree.fromstring(response.content)
    return root.findtext("errors/error/code") or "", root.findtext("errors/error/message") or ""


async def test_keys_are_basic_auth_users_with_per_resource_permissions(sb: PrestaShopSandbox) -> None:
    async with httpx.AsyncClient(base_url=f"{sb.url}/api") as anon:
        missing = await anon.get("/customers", params=JSON)
        assert missing.status_code == 401 and "Basic realm" in missing.headers["WWW-Authenticate"]
        assert xml_error(missing) == ("17", "Authentication key is empty")
        wrong = await anon.get("/customers", params=JSON, auth=("NOPE" * 8, ""))
        assert xml_error(wrong) == ("18", "Invalid authentication key")
        narrow = await anon.get("/products", params=JSON, auth=(NARROW_KEY, ""))
        assert narrow.status_code == 401 and "not allowed" in xml_error(narrow)[1]
        assert (await anon.get("/customers/1", params=JSON, auth=(NARROW_KEY, ""))).status_code == 200
        unknown = await anon.get("/carts_typo", params=JSON, auth=(KEY, ""))
        assert unknown.status_code == 400 and unknown.json()["errors"][0]["code"] == 23
        body = b"<prestashop><address><id>1</id><alias>x</alias></address></prestashop>"
        read_only = await anon.put("/addresses/1", content=body, auth=(READ_KEY, ""))
        assert read_only.status_code == 401
    sb.faults.revoked.add(KEY)
    async with httpx.AsyncClient(base_url=f"{sb.url}/api", auth=(KEY, "")) as revoked:
        assert (await revoked.get("/customers", params=JSON)).status_code == 401


async def test_lists_display_limit_and_empty_results(api: httpx.AsyncClient) -> None:
    ids_only = (await api.get("/customers", params=JSON)).json()
    assert ids_only == {"customers": [{"id": 1}, {"id": 2}]}
    some = (await api.get("/customers", params={**JSON, "display": "[id,email]",
                                                 "limit": "1,1"})).json()
    assert some == {"customers": [{"id": 2, "email": "lucia@example.es"}]}
    full = (await api.get("/products", params={**JSON, "display": "full", "limit": "1"})).json()
    assert full["products"][0]["price"] == "100.000000"
    assert full["products"][0]["name"] == [{"id": "1", "value": "Taladro percutor 750W"}]
    empty = await api.get("/customers", params={**JSON, "filter[email]": "[nadie@x.es]"})
    assert empty.json() == []
    bad = await api.get("/customers", params={**JSON, "display": "[id,iban]"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == 35
    three = await api.get("/customers", params={**JSON, "limit": "1,2,3"})
    assert three.status_code == 400 and three.json()["errors"][0]["code"] == 39


@pytest.mark.parametrize("limit, ids", [
    # WebserviceRequest::manageFilters: 'LIMIT ' . (int) $a . ', ' . (int) $b, PHP's casts
    ("abc", []), ("a,b", []), ("", []), ("\u0661", []), ("0,abc", []),
    (" 1", [1]), ("1abc", [1]), ("1.9", [1]), ("1e0", [1]), ("+1", [1]), ("abc,1", [1]),
    ("1, 1", [2]),
])
async def test_each_limit_part_is_cast_as_php_int(api: httpx.AsyncClient, limit: str,
                                                  ids: list[int]) -> None:
    answer = await api.get("/customers", params={**JSON, "limit": limit})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert ([r["id"] for r in body["customers"]] if body else []) == ids


async def test_filters_and_sort_and_the_date_1_rule(api: httpx.AsyncClient) -> None:
    no_date = await api.get("/orders", params={**JSON, "filter[date_upd]": "[2000-01-01 00:00:00,"
                                                                         "2100-01-01 00:00:00]"})
    assert no_date.status_code == 400 and "date=1" in no_date.json()["errors"][0]["message"]
    dated = await api.get("/orders", params={**JSON, "date": "1", "filter[date_upd]":
                                             "[2000-01-01 00:00:00,2100-01-01 00:00:00]"})
    assert [o["id"] for o in dated.json()["orders"]] == [1, 2, 3]
    assert (await api.get("/orders", params={**JSON, "sort": "[date_upd_ASC]"})).status_code == 400
    desc = await api.get("/orders", params={**JSON, "sort": "[id_DESC]", "filter[module]":
                                            "[ps_wirepayment|cheque]"})
    assert [o["id"] for o in desc.json()["orders"]] == [3, 1]
    ids = await api.get("/orders", params={**JSON, "filter[id]": "[2,9]"})
    assert [o["id"] for o in ids.json()["orders"]] == [2, 3]
    like = await api.get("/customers", params={**JSON, "filter[email]": "%[levante]%"})
    assert [c["id"] for c in like.json()["customers"]] == [1]
    unknown = await api.get("/customers", params={**JSON, "filter[iban]": "[x]"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["code"] == 32


async def test_blank_schema_and_xml_output(api: httpx.AsyncClient) -> None:
    blank = (await api.get("/addresses", params={**JSON, "schema": "blank"})).json()["address"]
    assert blank["vat_number"] == "" and blank["dni"] == "" and "id_customer" in blank
    xml = await api.get("/customers/1")
    assert xml.headers["content-type"].startswith("text/xml")
    assert ElementTree.fromstring(xml.content).findtext("customer/email") == "compras@levante.example"
    missing = await api.get("/customers/99", params=JSON)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == 87


def address_xml(**fields: str) -> bytes:
    """An address body: the fields Address::$definition requires, then ``fields``."""
    required = {"id_country": "1", "alias": "x", "lastname": "Sanz", "firstname": "Ana",
                "address1": "Calle 1", "city": "Paterna"}
    body = "".join(f"<{k}>{v}</{k}>" for k, v in {**required, **fields}.items())
    return f"<prestashop><address>{body}</address></prestashop>".encode()


async def test_writes_take_prestashop_xml(sb: PrestaShopSandbox, api: httpx.AsyncClient) -> None:
    created = await api.post("/addresses", params=JSON, content=address_xml(
        id_customer="1", alias="Almacén", address1="Polígono 3", address2="Nave 2"))
    assert created.status_code == 201 and created.json()["address"]["id"] == 3
    assert created.json()["address"]["date_upd"] != ""
    no_id = await api.put("/addresses/3", params=JSON,
                          content=b"<prestashop><address><alias>x</alias></address></prestashop>")
    assert no_id.status_code == 400
    put = await api.put("/addresses/3", params=JSON, content=address_xml(
        id="3", id_customer="1", alias="Nave"))
    assert put.status_code == 200 and put.json()["address"]["address2"] == ""  # PUT replaces
    unknown = await api.put("/addresses/3", params=JSON, content=(
        b"<prestashop><address><id>3</id><iban>ES1</iban></address></prestashop>"))
    assert unknown.status_code == 400
    readonly = await api.post("/orders", params=JSON, content=b"<prestashop><order/></prestashop>")
    assert readonly.status_code == 405


@pytest.mark.parametrize("method, path, body, code", [
    ("POST", "/addresses", b"<prestashop><address><id_country>1</id_country><alias>x</alias>"
     b"<address1>C 1</address1><city>V</city></address></prestashop>", 41),  # no names
    ("PUT", "/addresses/1", b"<prestashop><address><id>1</id><id_customer>1</id_customer>"
     b"<alias>x</alias></address></prestashop>", 41),
    ("PUT", "/addresses/1", address_xml(id="1", lastname=""), 85),
    ("PUT", "/addresses/1", address_xml(id="1", dni="ES B12345678"), 85),  # isDniLite
    ("PUT", "/addresses/1", address_xml(id="1", dni="X" * 17), 85),
])
async def test_an_address_prestashop_refuses_writes_nothing(
        sb: PrestaShopSandbox, api: httpx.AsyncClient, method: str, path: str, body: bytes,
        code: int) -> None:
    before = await sb.store.all("addresses")
    refused = await api.request(method, path, params=JSON, content=body)
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == code
    assert await sb.store.all("addresses") == before
    taken = await api.put("/addresses/1", params=JSON, content=address_xml(
        id="1", dni="X-7654321.B"))
    assert taken.status_code == 200, taken.text


def stock_xml(**fields: str) -> bytes:
    body = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f"<prestashop><stock_available>{body}</stock_available></prestashop>".encode()


def stock_fields(**over: str) -> dict[str, str]:
    """Seeded stock record 2 (product 2's own quantity, 120) as a full PUT body."""
    return {"id": "2", "id_product": "2", "id_product_attribute": "0", "id_shop": "1",
            "id_shop_group": "0", "quantity": "120", "depends_on_stock": "0",
            "out_of_stock": "2", "location": "", **over}


async def test_stock_availables_are_set_not_created(sb: PrestaShopSandbox,
                                                    api: httpx.AsyncClient) -> None:
    created = await api.post("/stock_availables", params=JSON,
                             content=stock_xml(**{**stock_fields(), "id": ""}))
    assert created.status_code == 405 and len(await sb.store.all("stock_availables")) == 6
    put = await api.put("/stock_availables/2", params=JSON, content=stock_xml(**stock_fields(
        quantity="-3")))  # isInt: PrestaShop takes an oversold (negative) quantity
    assert put.status_code == 200 and put.json()["stock_available"]["quantity"] == "-3"


@pytest.mark.parametrize("over, status", [
    ({"quantity": "1.5"}, 400), ({"quantity": ""}, 400), ({"out_of_stock": ""}, 400),
    ({"id_product": "-1"}, 400), ({"depends_on_stock": "yes"}, 400),
    ({"depends_on_stock": "1"}, 500),  # updateWs: not while it follows physical stock
    # isInt is (string)(int)$v === (string)$v: only the canonical spelling of an int passes
    ({"quantity": "007"}, 400), ({"quantity": "-0"}, 400), ({"quantity": "+5"}, 400),
    ({"quantity": " 7"}, 400), ({"quantity": "7 "}, 400), ({"out_of_stock": "02"}, 400),
    # isUnsignedId: the same, and below 2^32
    ({"id_product": "02"}, 400), ({"id_product": "4294967296"}, 400),
    ({"id_shop": "01"}, 400),
])
async def test_a_stock_put_prestashop_refuses_changes_nothing(
        sb: PrestaShopSandbox, api: httpx.AsyncClient, over: dict[str, str], status: int) -> None:
    refused = await api.put("/stock_availables/2", params=JSON,
                            content=stock_xml(**stock_fields(**over)))
    assert refused.status_code == status, refused.text
    assert (await sb.store.get("stock_availables", 2))["quantity"] == "120"  # type: ignore[index]


async def test_a_combinations_quantity_resets_its_products_total(
        sb: PrestaShopSandbox, api: httpx.AsyncClient) -> None:
    # Seeded: product 3 (own record 3, 12 units) in sizes CAM-001/2/3 (records 4-6: 4, 6, 2).
    put = await api.put("/stock_availables/5", params=JSON, content=stock_xml(**stock_fields(
        id="5", id_product="3", id_product_attribute="2", quantity="10")))
    assert put.status_code == 200
    assert [r["quantity"] for r in await sb.store.all("stock_availables")] == [
        "14", "120", "16", "4", "10", "2"]


async def test_combinations_are_listed_by_reference_and_not_written(
        sb: PrestaShopSandbox, api: httpx.AsyncClient) -> None:
    found = (await api.get("/combinations", params={
        **JSON, "filter[reference]": "[cam-002]", "display": "[id,id_product,reference]"})).json()
    assert found == {"combinations": [{"id": 2, "id_product": "3", "reference": "CAM-002"}]}
    full = (await api.get("/combinations/1", params=JSON)).json()["combination"]
    assert full["quantity"] == "0" and full["minimal_quantity"] == "1"  # not the stock
    bad = await api.get("/combinations", params={**JSON, "filter[size]": "[M]"})
    assert bad.status_code == 400
    body = b"<prestashop><combination><id>1</id><id_product>3</id_product></combination></prestashop>"
    assert (await api.put("/combinations/1", params=JSON, content=body)).status_code == 405
    assert (await api.post("/combinations", params=JSON, content=body)).status_code == 405
    xml = await api.get("/combinations", params={"filter[reference]": "[CAM-003]",
                                                 "display": "full"})
    assert ElementTree.fromstring(xml.content).findtext("combinations/combination/reference") \
        == "CAM-003"


async def test_fault_switches_and_request_log(sb: PrestaShopSandbox, api: httpx.AsyncClient) -> None:
    sb.faults.throttle_next, sb.faults.retry_after = 1, 7
    throttled = await api.get("/customers", params=JSON)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    sb.faults.error_next = 1
    assert (await api.get("/customers", params=JSON)).status_code == 503
    sb.faults.lose_next_writes = 1
    with pytest.raises(httpx.RemoteProtocolError):
        await api.put("/addresses/1", params=JSON, content=address_xml(
            id="1", id_customer="1", alias="Lost"))
    assert (await sb.store.get("addresses", 1))["alias"] == "Lost"  # type: ignore[index]  # committed
    sb.faults.ignore_paging = True
    first = (await api.get("/customers", params={**JSON, "limit": "1,1"})).json()
    assert first["customers"] == [{"id": 1}]
    assert [(r.method, r.status, r.outcome) for r in sb.requests] == [
        ("GET", 429, "response"), ("GET", 503, "response"), ("PUT", None, "dropped"),
        ("GET", 200, "response")]


def test_cli_command_is_a_click_command() -> None:
    result = CliRunner().invoke(sandbox_prestashop_command, ["--help"])
    assert result.exit_code == 0 and "--timezone" in result.output


async def test_a_nan_bound_or_value_is_text_not_a_crash(api: httpx.AsyncClient) -> None:
    # Decimal("nan") refuses to be compared: the interval and the sort answered 500.
    for spec in ("[nan,1]", "[1,nan]", "[snan,9]"):
        bad = await api.get("/customers", params={**JSON, "filter[id]": spec})
        assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == 36, spec
    created = await api.post("/addresses", params=JSON, content=address_xml(
        id_customer="1", alias="NaN"))
    assert created.status_code == 201
    by_alias = await api.get("/addresses", params={**JSON, "sort": "[alias_ASC]"})
    assert by_alias.status_code == 200 and len(by_alias.json()["addresses"]) == 3


@pytest.mark.parametrize("record_id, status", [
    ("10000000000000000000", 404), ("9" * 5000, 404),  # PHP's (int): an id no record has
    ("²", 400), ("١", 400),  # digits to str.isdigit, not to PrestaShop
])
async def test_an_odd_id_in_the_url_is_refused_not_a_crash(
        api: httpx.AsyncClient, record_id: str, status: int) -> None:
    # Beyond 64 bits it reached SQLite, "²" reached int(): 500s the client retried.
    got = await api.get(f"/customers/{record_id}", params=JSON)
    assert got.status_code == status and got.json()["errors"][0]["code"] in (20, 87)
    put = await api.put(f"/addresses/{record_id}", params=JSON, content=(
        f"<prestashop><address><id>{record_id}</id><alias>x</alias></address>"
        "</prestashop>").encode())
    assert put.status_code == status, put.text


async def test_a_limit_beyond_php_ints_is_clamped_not_a_crash(api: httpx.AsyncClient) -> None:
    # PrestaShop casts each part with (int); a 5000-digit part crashed int() here.
    huge = await api.get("/customers", params={**JSON, "limit": "9" * 5000})
    assert huge.status_code == 200 and len(huge.json()["customers"]) == 2
    past = await api.get("/customers", params={**JSON, "limit": f"{'9' * 5000},1"})
    assert past.status_code == 200 and past.json() == []


@pytest.mark.parametrize("encoding", ["bogus", "rot13", "utf-32", "idna"])
async def test_a_body_in_an_unknown_encoding_is_an_xml_error(
        api: httpx.AsyncClient, encoding: str) -> None:
    body = (f"<?xml version='1.0' encoding='{encoding}'?><prestashop><address>"
            "<alias>x</alias></address></prestashop>").encode()
    refused = await api.post("/addresses", params=JSON, content=body)
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == 127


async def test_a_stock_quantity_beyond_php_ints_is_refused(sb: PrestaShopSandbox,
                                                           api: httpx.AsyncClient) -> None:
    # isInt fails beyond PHP_INT_MAX; a 5000-digit quantity crashed the combination's sum.
    for quantity in ("9" * 5000, "9223372036854775808", "١٢"):
        refused = await api.put("/stock_availables/5", params=JSON, content=stock_xml(
            **stock_fields(id="5", id_product="3", id_product_attribute="2",
                           quantity=quantity)))
        assert refused.status_code == 400, quantity
        assert refused.json()["errors"][0]["code"] == 85
    assert (await sb.store.get("stock_availables", 5))["quantity"] == "6"  # type: ignore[index]
