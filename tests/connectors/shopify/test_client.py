"""ShopifyClient against scripted answers (httpx.MockTransport): costs, throttling, errors."""
from __future__ import annotations

import json

import httpx
import pytest

from connectors.base.errors import Fault, FatalError, PaginationLoop, RetryableError, SkipRecord
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.shopify.client import CostBudget, LeakyBucket, ShopifyClient, gid, numeric_id
from connectors.shopify.errors import AccessDenied, Rejected, UserErrors
from connectors.shopify.queries import requested_cost
from tests.connectors.fakes import FakeApi, FakeClock, json_response, raising

PATH = "/admin/api/2025-01/graphql.json"
TOKEN = "shpat_secret_value_1234"


def cost(available: float, requested: int = 1, rate: float = 50.0, maximum: float = 1000.0
         ) -> dict[str, object]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested,
                     "throttleStatus": {"maximumAvailable": maximum,
                                        "currentlyAvailable": available, "restoreRate": rate}}}


def ok(data: dict[str, object], available: float = 1000.0, rate: float = 50.0) -> httpx.Response:
    return json_response(200, {"data": data, "extensions": cost(available, rate=rate)})


def make(api: FakeApi, clock: FakeClock, attempts: int = 3) -> ShopifyClient:
    return ShopifyClient(api.client("https://tienda.myshopify.com"),
                         shop_url="https://tienda.myshopify.com", access_token=TOKEN,
                         clock=clock, retry=RetryPolicy(max_attempts=attempts, base_delay=0.01),
                         limiter=TokenBucket(RateLimit(rate=1000, burst=1000), clock))


def test_ids_come_out_of_gids() -> None:
    assert numeric_id("gid://shopify/Order/450789469") == "450789469"
    assert numeric_id(450789469) == "450789469"
    assert gid("Customer", "gid://shopify/Customer/7") == "gid://shopify/Customer/7"
    with pytest.raises(ValueError):
        numeric_id("gid://shopify/Order/abc")


async def test_sends_the_token_to_the_versioned_endpoint_with_the_operation() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.on("POST", PATH, ok({"shop": {"name": "x"}}))
    assert await make(api, clock).execute("Shop") == {"shop": {"name": "x"}}
    request = api.requests[0]
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert api.sent_json()["operationName"] == "Shop"
    assert api.sent_json()["query"].startswith("query Shop")


async def test_throttled_waits_what_the_bucket_needs_then_succeeds() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    throttled = json_response(200, {"errors": [{"message": "Throttled",
                                                "extensions": {"code": "THROTTLED"}}],
                                    "extensions": cost(10, requested=60, rate=50)})
    api.script("POST", PATH, throttled)
    api.on("POST", PATH, ok({"shop": {}}))
    await make(api, clock).execute("Shop")
    assert len(api.requests) == 2
    assert 1.0 in clock.sleeps  # (60 - 10) / 50 points per second


async def test_a_query_waits_for_enough_points_before_it_is_sent() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.on("POST", PATH, ok({"shop": {}}, available=0, rate=100))
    client = make(api, clock)
    await client.execute("Shop")  # the answer says the bucket is empty
    sent_at = []
    api.on("POST", PATH, lambda r: (sent_at.append(clock.now), ok({"shop": {}}))[1])
    start = clock.now
    await client.execute("Customers", {"first": 50})
    need = requested_cost("Customers", {"first": 50}) / 100
    assert sent_at[0] - start == pytest.approx(need, abs=0.02)
    assert client.budget.waited == pytest.approx(need, abs=0.02)


async def test_cost_budget_refills_at_the_restore_rate() -> None:
    clock = FakeClock(autojump=True)
    budget = CostBudget(maximum=100, restore_rate=10, clock=clock)
    await budget.acquire(100)
    await budget.acquire(20)
    assert clock.sleeps[-1] == pytest.approx(2.0)
    clock.now += 1000
    assert budget.available() == 100  # never above the maximum


async def test_http_429_honours_retry_after() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.script("POST", PATH, json_response(429, {"errors": "Exceeded"}, [("Retry-After", "2.0")]))
    api.on("POST", PATH, ok({"shop": {}}))
    await make(api, clock).execute("Shop")
    assert 2.0 in clock.sleeps and len(api.requests) == 2


async def test_401_is_fatal_at_once_and_never_shows_the_token() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.on("POST", PATH, json_response(401, {"errors": f"[API] Invalid API key {TOKEN}"}))
    with pytest.raises(AccessDenied) as caught:
        await make(api, clock).execute("Shop")
    assert isinstance(caught.value, FatalError) and caught.value.fault is Fault.CONFIG
    assert len(api.requests) == 1
    assert TOKEN not in str(caught.value)


async def test_graphql_errors_are_rejections_and_access_denied_is_fatal() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.script("POST", PATH, json_response(200, {"errors": [{"message": "Field 'x' doesn't "
                                                             "exist on type 'Shop'"}]}))
    api.script("POST", PATH, json_response(200, {"errors": [
        {"message": "no", "extensions": {"code": "ACCESS_DENIED"}}]}))
    client = make(api, clock)
    with pytest.raises(Rejected) as rejected:
        await client.execute("Shop")
    assert isinstance(rejected.value, SkipRecord)
    with pytest.raises(AccessDenied):
        await client.execute("Shop")


async def test_user_errors_of_a_mutation_raise_with_the_fields() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.on("POST", PATH, ok({"customerUpdate": {"customer": None, "userErrors": [
        {"field": ["input", "email"], "message": "Email is invalid"}]}}))
    with pytest.raises(UserErrors) as caught:
        await make(api, clock).mutate("CustomerUpdate", {"input": {"id": "gid://shopify/"
                                                                   "Customer/1"}},
                                      field="customerUpdate")
    assert "input.email: Email is invalid" in str(caught.value)
    assert caught.value.errors[0]["field"] == ["input", "email"]


async def test_a_mutation_with_an_unknown_outcome_is_not_repeated_blindly() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.on("POST", PATH, raising(httpx.RemoteProtocolError("dropped")))
    with pytest.raises(RetryableError):
        await make(api, clock).mutate("TagsAdd", {"id": "gid://shopify/Order/1", "tags": ["a"]},
                                      field="tagsAdd")
    assert len(api.requests) == 1


async def test_a_query_with_an_unknown_outcome_is_retried() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.script("POST", PATH, raising(httpx.ConnectError("refused")))
    api.on("POST", PATH, ok({"shop": {}}))
    await make(api, clock).execute("Shop")
    assert len(api.requests) == 2


def _page(ids: list[int], cursor: str | None, more: bool) -> httpx.Response:
    return ok({"customers": {"nodes": [{"id": f"gid://shopify/Customer/{i}"} for i in ids],
                             "pageInfo": {"hasNextPage": more, "endCursor": cursor}}})


async def test_iterate_follows_end_cursors_and_refuses_a_repeated_one() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    api.script("POST", PATH, _page([1, 2], "c1", True), _page([3], None, False))
    client = make(api, clock)
    nodes = [n async for n in client.iterate("Customers", ("customers",), page_size=2)]
    assert [n["id"][-1] for n in nodes] == ["1", "2", "3"]
    assert [json.loads(r.content)["variables"]["after"] for r in api.requests] == [None, "c1"]
    api.script("POST", PATH, _page([1, 2], "c1", True), _page([3, 4], "c1", True))
    with pytest.raises(PaginationLoop):
        _ = [n async for n in client.iterate("Customers", ("customers",), page_size=2)]


async def test_rest_listing_follows_link_and_obeys_the_call_limit_header() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    base = "https://tienda.myshopify.com/admin/api/2025-01/customers.json"
    api.script("GET", "/admin/api/2025-01/customers.json",
               json_response(200, {"customers": [{"id": 1}]},
                             [("Link", f'<{base}?page_info=abc&limit=1>; rel="next"'),
                              ("X-Shopify-Shop-Api-Call-Limit", "40/40")]),
               json_response(200, {"customers": [{"id": 2}]},
                             [("X-Shopify-Shop-Api-Call-Limit", "1/40")]))
    client = make(api, clock)
    records = [r async for r in client.rest_pages("customers", "customers", {"limit": 1})]
    assert [r["id"] for r in records] == [1, 2]
    assert api.requests[1].url.params["page_info"] == "abc"
    assert clock.sleeps and clock.sleeps[-1] == pytest.approx(0.5)  # full bucket: one leak


def test_leaky_bucket_reads_the_header() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(size=40, leak_rate=2, clock=clock)
    bucket.observe("32/80")
    assert bucket.size == 80 and bucket.level() == 32
    bucket.observe("garbage")
    assert bucket.level() == 32
