"""The two client.py boundaries the sink relies on: exact Decimal JSON, and no blind POST repeats."""

from __future__ import annotations

from decimal import Decimal as D

import httpx
import pytest
from pydantic import SecretStr

from connectors.base.errors import RetryableError
from connectors.base.retry import RetryPolicy
from connectors.holded.client import HoldedClient, dumps_json
from tests.connectors.fakes import FakeApi, FakeClock, SequenceRandom, json_response, raising

INV = "/api/invoicing/v1"
ID = "5f1b2c3d4e5f60718293a4b5"


def make(api: FakeApi) -> HoldedClient:
    return HoldedClient(api.client("https://api.holded.com"), api_key=SecretStr("k" * 24),
                        base_url="https://api.holded.com/api", retry=RetryPolicy(max_attempts=3),
                        clock=FakeClock(autojump=True), rand=SequenceRandom(0.1))


def test_dumps_json_keeps_decimal_text_and_refuses_nan() -> None:
    body = {"amount": D("0.30"), "items": [{"units": D("2"), "subtotal": D("49.900000")}],
            "price": D("1E+2"), "name": "Año", "ok": True, "none": None}
    assert dumps_json(body) == ('{"amount":0.30,"items":[{"units":2,"subtotal":49.900000}],'
                                '"price":100,"name":"Año","ok":true,"none":null}')
    with pytest.raises(ValueError):
        dumps_json({"x": D("NaN")})


async def test_decimal_bodies_reach_the_wire_exactly() -> None:
    api = FakeApi()
    api.on("POST", f"{INV}/documents/invoice/{ID}/pay",
           json_response(200, {"status": 1, "invoiceId": ID, "paymentId": "p"}))
    api.on("POST", f"{INV}/products", json_response(201, {"status": 1, "id": ID}))
    client = make(api)
    await client.documents("invoice").pay(ID, date=1772712000, amount=D("0.10") + D("0.20"))
    await client.products.create({"name": "Silla", "price": D("49.900000")})
    assert b'"amount":0.30' in api.requests[0].content
    assert b'"price":49.900000' in api.requests[1].content
    assert api.requests[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize("failure", [httpx.Response(502), raising(httpx.ReadError("dropped"))])
async def test_a_post_with_an_unknown_outcome_is_not_repeated(failure: object) -> None:
    api = FakeApi()
    api.script("POST", f"{INV}/contacts", failure)  # type: ignore[arg-type]
    api.on("POST", f"{INV}/contacts", json_response(201, {"status": 1, "id": ID}))
    with pytest.raises(RetryableError):
        await make(api).contacts.create({"name": "x"})
    assert len(api.requests) == 1  # the caller must search before writing again


async def test_a_post_refused_with_429_is_retried_and_gets_keep_their_retries() -> None:
    api = FakeApi()
    api.script("POST", f"{INV}/contacts", httpx.Response(429, headers={"Retry-After": "0"}))
    api.on("POST", f"{INV}/contacts", json_response(201, {"status": 1, "id": ID}))
    api.script("GET", f"{INV}/contacts/{ID}", httpx.Response(502))
    api.on("GET", f"{INV}/contacts/{ID}", json_response(200, {"id": ID}))
    client = make(api)
    assert (await client.contacts.create({"name": "x"}))["id"] == ID
    assert await client.contacts.get(ID) == {"id": ID}
    assert api.paths() == [f"POST {INV}/contacts"] * 2 + [f"GET {INV}/contacts/{ID}"] * 2
