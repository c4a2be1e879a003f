"""BusinessCentralClient against a scripted API (httpx.MockTransport): tokens, errors, paging."""
from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.base.errors import FatalError, Fault, PaginationLoop, RateLimited
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.business_central.client import BUDGETS, BusinessCentralClient, request_budget
from connectors.business_central.errors import EtagConflict, NotFound, Rejected, TokenRejected
from tests.connectors.fakes import FakeApi, FakeClock, json_response

COMPANY = "2f0c5b8e-6d1a-4c3e-9b7a-1e5d3c2b1a00"
BASE = f"/v2.0/t1/production/api/v2.0/companies({COMPANY})"
TOKEN = "/t1/oauth2/v2.0/token"


def token_route(api: FakeApi, *tokens: str, expires_in: int = 3600) -> list[dict[str, list[str]]]:
    forms: list[dict[str, list[str]]] = []
    issued = iter(tokens)

    def respond(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return json_response(200, {"token_type": "Bearer", "expires_in": expires_in,
                                   "access_token": next(issued)})
    api.on("POST", TOKEN, respond)
    return forms


def make(api: FakeApi, clock: FakeClock | None = None, attempts: int = 3) -> BusinessCentralClient:
    clock = clock or FakeClock(autojump=True)
    return BusinessCentralClient(
        api.client("https://bc.test"), tenant="t1", environment="production", company_id=COMPANY,
        client_id="app", client_secret="s3cret-value", api_url="https://bc.test",
        token_url="https://bc.test" + TOKEN, clock=clock, rand=lambda: 0.0,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01),
        limiter=TokenBucket(RateLimit(rate=1000, burst=1000), clock))


async def test_token_is_fetched_with_client_credentials_and_cached() -> None:
    api = FakeApi()
    forms = token_route(api, "tok-1")
    api.on("GET", f"{BASE}/customers", json_response(200, {"value": []}))
    bc = make(api)
    await bc.call("GET", "customers")
    await bc.call("GET", "customers")
    assert len(forms) == 1
    assert forms[0]["grant_type"] == ["client_credentials"]
    assert forms[0]["scope"] == ["https://api.businesscentral.dynamics.com/.default"]
    assert [r.headers["Authorization"] for r in api.requests[1:]] == ["Bearer tok-1"] * 2


async def test_token_is_fetched_again_after_expiry() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    forms = token_route(api, "tok-1", "tok-2", expires_in=120)
    api.on("GET", f"{BASE}/customers", json_response(200, {"value": []}))
    bc = make(api, clock)
    await bc.call("GET", "customers")
    clock.now += 61  # expiry minus the 60 s skew has passed
    await bc.call("GET", "customers")
    assert len(forms) == 2 and api.requests[-1].headers["Authorization"] == "Bearer tok-2"


async def test_a_401_gets_one_new_token_then_fails_clearly() -> None:
    api = FakeApi()
    forms = token_route(api, "tok-1", "tok-2", "tok-3")
    api.on("GET", f"{BASE}/customers", json_response(401, {"error": {
        "code": "Authentication_InvalidCredentials", "message": "rejected"}}))
    bc = make(api)
    with pytest.raises(FatalError) as caught:
        await bc.call("GET", "customers")
    assert caught.value.fault is Fault.CONFIG and "Entra app" in caught.value.message
    assert len(forms) == 2  # the first token and exactly one refresh
    assert api.routes[("GET", f"{BASE}/customers")].calls == 2


async def test_wrong_secret_is_a_config_error_without_the_secret() -> None:
    api = FakeApi()
    api.on("POST", TOKEN, json_response(401, {
        "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret "
        "provided. Ensure the secret...\r\nTrace ID: x"}))
    with pytest.raises(TokenRejected) as caught:
        await make(api).call("GET", "customers")
    assert caught.value.fault is Fault.CONFIG
    assert "invalid_client" in str(caught.value) and "s3cret-value" not in str(caught.value)
    assert api.routes[("POST", TOKEN)].calls == 1  # a wrong secret is not retried


async def test_odata_errors_are_translated_at_the_boundary() -> None:
    api = FakeApi()
    token_route(api, "tok-1")
    api.script("GET", f"{BASE}/customers({COMPANY})", json_response(404, {"error": {
        "code": "BadRequest_NotFound", "message": "The customer does not exist."}}))
    api.script("POST", f"{BASE}/customers", json_response(400, {"error": {
        "code": "BadRequest", "message": "The property 'foo' does not exist"}}))
    bc = make(api)
    with pytest.raises(NotFound) as missing:
        await bc.get("customers", COMPANY)
    assert missing.value.code == "BadRequest_NotFound"  # type: ignore[attr-defined]
    with pytest.raises(Rejected, match="property 'foo'"):
        await bc.create("customers", {"foo": 1})


async def test_patch_sends_if_match_and_a_412_is_a_conflict() -> None:
    api = FakeApi()
    token_route(api, "tok-1")
    api.on("PATCH", f"{BASE}/customers({COMPANY})", json_response(412, {"error": {
        "code": "Request_EntityChanged", "message": "Another user has already changed the record."
    }}))
    bc = make(api)
    with pytest.raises(EtagConflict):
        await bc.update("customers", COMPANY, {"email": "a@b.es"}, etag='W/"abc"')
    assert api.requests[-1].headers["If-Match"] == 'W/"abc"'
    assert api.routes[("PATCH", f"{BASE}/customers({COMPANY})")].calls == 1  # never retried
    with pytest.raises(ValueError):
        await bc.update("customers", COMPANY, {"email": "a@b.es"}, etag="")


async def test_429_retry_after_is_honoured() -> None:
    api, clock = FakeApi(), FakeClock(autojump=True)
    token_route(api, "tok-1")
    api.script("GET", f"{BASE}/items", json_response(429, {"error": {
        "code": "Application_TooManyRequests", "message": "slow down"}}, [("Retry-After", "7")]))
    api.on("GET", f"{BASE}/items", json_response(200, {"value": [{"id": "x"}]}))
    bc = make(api, clock)
    start = clock.now
    assert await bc.call("GET", "items") == {"value": [{"id": "x"}]}
    assert clock.now - start >= 7


async def test_429_on_a_post_is_retried_but_a_5xx_is_not() -> None:
    api = FakeApi()
    token_route(api, "tok-1")
    api.script("POST", f"{BASE}/customers",
               json_response(429, {}, [("Retry-After", "0")]), json_response(201, {"id": "a"}),
               json_response(503, {}))
    bc = make(api)
    assert await bc.create("customers", {"displayName": "A"}) == {"id": "a"}
    with pytest.raises(Exception) as caught:
        await bc.create("customers", {"displayName": "B"})
    assert not isinstance(caught.value, RateLimited)
    assert len([r for r in api.requests if r.method == "POST" and "customers" in r.url.path]) == 3


async def test_next_link_paging_and_a_repeated_link_is_a_loop() -> None:
    api = FakeApi()
    token_route(api, "tok-1")
    link = f"https://bc.test{BASE}/items?$skiptoken=2"
    pages = {None: {"value": [{"id": 1}, {"id": 2}], "@odata.nextLink": link},
             "2": {"value": [{"id": 3}]}}
    api.on("GET", f"{BASE}/items", lambda r: json_response(
        200, pages[r.url.params.get("$skiptoken")]))
    bc = make(api)
    assert [r["id"] async for r in bc.list("items", filter="number eq 'A'")] == [1, 2, 3]
    assert api.requests[1].url.params["$filter"] == "number eq 'A'"
    api.on("GET", f"{BASE}/items", json_response(200, {"value": [{"id": 1}],
                                                      "@odata.nextLink": link}))
    with pytest.raises(PaginationLoop):
        _ = [r async for r in bc.list("items")]


async def test_amounts_are_exact_decimals_both_ways() -> None:
    api = FakeApi()
    token_route(api, "tok-1")
    api.on("POST", f"{BASE}/items", lambda r: json_response(201, json.loads(r.content)))
    api.on("GET", f"{BASE}/items", lambda r: httpx.Response(
        200, content=b'{"value":[{"unitPrice":0.1}]}', headers={"Content-Type": "application/json"}))
    bc = make(api)
    await bc.create("items", {"unitPrice": Decimal("0.10") + Decimal("0.20")})
    assert b'"unitPrice":0.30' in api.requests[-1].content
    assert [r["unitPrice"] async for r in bc.list("items")] == [Decimal("0.1")]


def test_budget_defaults_to_the_stricter_published_figure() -> None:
    assert request_budget().rate == pytest.approx(10.0)  # 600 requests per minute
    assert BUDGETS["sliding-5min"].rate == pytest.approx(20.0)
    with pytest.raises(ValueError):
        request_budget("unknown")


async def test_ids_are_checked_before_they_reach_a_url() -> None:
    api = FakeApi()
    with pytest.raises(ValueError):
        await make(api).get("customers", "x)/../companies(y")
    assert api.requests == []
    with pytest.raises(ValueError):
        BusinessCentralClient(httpx.AsyncClient(), tenant="t", environment="p", company_id="nope",
                              client_id="a", client_secret="b")
