"""PrestaShopClient against a scripted webservice (httpx.MockTransport): auth, paging, errors."""
from __future__ import annotations

import base64
import datetime as dt

import httpx
import pytest

from connectors.base.errors import FatalError, Fault, PaginationLoop, RetryableError
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.prestashop.client import PrestaShopClient, interval, to_xml
from connectors.prestashop.errors import KeyRejected, NotFound, PermissionDenied, Rejected
from connectors.prestashop.source import PrestaShopSource
from tests.connectors.fakes import FakeApi, FakeClock, json_response, raising
from tests.connectors.prestashop.support import MAPPING

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456"
XML_401 = (b'<?xml version="1.0" encoding="UTF-8"?><prestashop><errors><error><code><![CDATA[18]]>'
           b'</code><message><![CDATA[Invalid authentication key]]></message></error></errors>'
           b'</prestashop>')


def make(api: FakeApi, page_size: int = 2) -> PrestaShopClient:
    clock = FakeClock(autojump=True)
    return PrestaShopClient(api.client("https://shop.test"), base_url="https://shop.test",
                            api_key=KEY, page_size=page_size, clock=clock, rand=lambda: 0.0,
                            retry=RetryPolicy(max_attempts=3, base_delay=0.01),
                            limiter=TokenBucket(RateLimit(rate=1000, burst=1000), clock))


async def test_lists_page_with_offset_limit_basic_auth_and_json() -> None:
    api = FakeApi()
    pages = [{"customers": [{"id": 1}, {"id": 2}]}, {"customers": [{"id": 3}]}]
    api.script("GET", "/api/customers", *(json_response(200, p) for p in pages))
    ids = [c["id"] async for c in make(api).list("customers")]
    assert ids == [1, 2, 3]
    first, second = api.requests
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert first.url.params["output_format"] == "JSON" and first.url.params["display"] == "full"
    assert [r.url.params["limit"] for r in api.requests] == ["0,2", "2,2"]
    assert "date" not in first.url.params and second.url.params["limit"] == "2,2"


async def test_an_empty_list_is_a_bare_array_and_ends_the_walk() -> None:
    api = FakeApi()
    api.script("GET", "/api/orders", json_response(200, {"orders": [{"id": 1}, {"id": 2}]}),
               json_response(200, []))
    assert [o["id"] async for o in make(api).list("orders")] == [1, 2]
    assert len(api.requests) == 2


async def test_date_filters_need_date_1_and_are_sent_with_it() -> None:
    api = FakeApi()
    api.on("GET", "/api/orders", json_response(200, []))
    client = make(api)
    with pytest.raises(ValueError, match="date=True"):
        [o async for o in client.list("orders", filters={"date_upd": interval("a", "b")})]
    with pytest.raises(ValueError, match="date=True"):
        [o async for o in client.list("orders", sort="[date_upd_ASC]")]
    assert api.requests == []
    [o async for o in client.list("orders", filters={"date_upd": interval("a", "b")}, date=True)]
    assert api.requests[0].url.params["date"] == "1"
    assert api.requests[0].url.params["filter[date_upd]"] == "[a,b]"


async def test_a_page_that_repeats_raises_pagination_loop() -> None:
    api = FakeApi()
    api.on("GET", "/api/customers", json_response(200, {"customers": [{"id": 1}, {"id": 2}]}))
    with pytest.raises(PaginationLoop):
        [c async for c in make(api).list("customers")]


@pytest.mark.parametrize(("status", "body", "error", "fault"), [
    (401, XML_401, KeyRejected, Fault.CONFIG),
    (401, b'{"errors":[{"code":22,"message":"Resource of type \\"orders\\" is not allowed '
          b'with this authentication key"}]}', PermissionDenied, Fault.CONFIG),
    (403, b"", PermissionDenied, Fault.CONFIG),
    (404, b'{"errors":[{"code":87,"message":"Invalid ID"}]}', NotFound, Fault.DATA),
    (400, b'{"errors":[{"code":32,"message":"Unable to filter by this field"}]}', Rejected,
     Fault.DATA),
])
async def test_errors_are_translated_at_one_boundary(status: int, body: bytes, error: type,
                                                     fault: Fault) -> None:
    api = FakeApi()
    api.on("GET", "/api/orders/1", httpx.Response(status, content=body))
    with pytest.raises(error) as caught:
        await make(api).get("orders", 1)
    assert caught.value.fault is fault
    assert KEY not in str(caught.value)
    assert len(api.requests) == 1  # none of these is retried


async def test_error_codes_are_kept() -> None:
    api = FakeApi()
    api.on("GET", "/api/orders/1", httpx.Response(401, content=XML_401))
    with pytest.raises(KeyRejected) as caught:
        await make(api).get("orders", 1)
    assert caught.value.codes == (18,) and "Invalid authentication key" in str(caught.value)


async def test_reads_are_retried_on_5xx() -> None:
    api = FakeApi()
    api.script("GET", "/api/orders/1", httpx.Response(503, text="<html>down</html>"))
    api.on("GET", "/api/orders/1", json_response(200, {"order": {"id": 1}}))
    assert (await make(api).get("orders", 1)) == {"id": 1}
    assert len(api.requests) == 2


async def test_a_post_whose_answer_is_lost_is_not_repeated() -> None:
    api = FakeApi()
    api.on("POST", "/api/addresses", raising(httpx.ReadError("connection reset")))
    with pytest.raises(RetryableError):
        await make(api).create("addresses", {"id_customer": "1", "alias": "x"})
    assert len(api.requests) == 1


async def test_a_post_refused_with_429_is_retried() -> None:
    api = FakeApi()
    api.script("POST", "/api/addresses", httpx.Response(429, headers={"Retry-After": "0"}))
    api.on("POST", "/api/addresses", json_response(201, {"address": {"id": 9}}))
    assert (await make(api).create("addresses", {"alias": "x"}))["id"] == 9
    assert len(api.requests) == 2


async def test_put_sends_the_full_record_as_xml_with_its_id() -> None:
    api = FakeApi()
    api.on("PUT", "/api/products/3", json_response(200, {"product": {"id": 3}}))
    await make(api).update("products", 3, {"reference": "A&B", "date_upd": "x",
                                           "name": [{"id": "1", "value": "Té"}]})
    sent = api.requests[0].content.decode()
    assert "<product><reference>A&amp;B</reference>" in sent and "<id>3</id>" in sent
    assert '<language id="1">Té</language>' in sent and "date_upd" not in sent


async def test_php_notices_before_the_json_are_tolerated() -> None:
    api = FakeApi()
    api.on("GET", "/api/orders/1", httpx.Response(
        200, content=b'<br /><b>Notice</b>: Undefined index x<br />{"order": {"id": 1}}'))
    assert (await make(api).get("orders", 1)) == {"id": 1}


def test_to_xml_is_prestashop_input() -> None:
    assert to_xml("addresses", {"id": 5, "dni": "1"}).endswith(
        b"<prestashop><address><id>5</id><dni>1</dni></address></prestashop>")


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        PrestaShopClient(httpx.AsyncClient(), base_url="https://x", api_key="")


async def test_a_list_answer_of_another_shape_is_a_remote_fault() -> None:
    api = FakeApi()
    api.on("GET", "/api/customers", json_response(200, {"customer": {"id": 1}}))
    with pytest.raises(FatalError) as caught:
        [c async for c in make(api).list("customers")]
    assert caught.value.fault is Fault.REMOTE


async def test_a_shop_that_ignores_the_id_filter_stops_the_poll() -> None:
    api = FakeApi()
    api.on("GET", "/api/countries", json_response(200, []))
    api.on("GET", "/api/currencies", json_response(200, []))
    api.on("GET", "/api/customers", json_response(200, {"customers": [
        {"id": 1, "date_upd": "2026-01-01 10:00:00"}, {"id": 2, "date_upd": "2026-01-01 10:00:00"}]}))
    api.on("GET", "/api/addresses", json_response(200, []))
    source = PrestaShopSource(make(api), MAPPING, batch=2, streams=("customers",))
    with pytest.raises(PaginationLoop):
        await source.poll(None, dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    walked = [r.url.params["filter[id]"] for r in api.requests if r.url.path == "/api/customers"
              and "date" in r.url.params]
    assert walked == ["[1,2147483647]", "[3,2147483647]"]
