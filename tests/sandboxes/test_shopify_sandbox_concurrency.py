"""The Shopify sandbox under concurrent clients: parallel mutations on one record all
apply (none overwrites another with a stale copy) and new records get distinct ids."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.shopify.queries import DOCUMENTS
from connectors.shopify.sandbox import ShopifySandbox, start_shopify_sandbox

N = 50


@pytest.fixture
async def shop() -> AsyncIterator[ShopifySandbox]:
    server = await start_shopify_sandbox(port=0, bucket_size=100_000, restore_rate=10_000)
    server.faults.latency_ms = 20
    yield server
    await server.stop()


@pytest.fixture
async def http(shop: ShopifySandbox) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    async with httpx.AsyncClient(base_url=shop.url, timeout=60, limits=limits,
                                 headers={"X-Shopify-Access-Token": shop.access_token}) as c:
        yield c


async def gql(http: httpx.AsyncClient, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/admin/api/2025-01/graphql.json", json={
        "query": DOCUMENTS[operation], "operationName": operation, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


async def test_concurrent_tags_add_keeps_every_tag(shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    order = shop.seeded["order_paid"]["id"]
    before = set((await shop.get("Order", order) or {}).get("tags", []))
    answers = await asyncio.gather(*(gql(http, "TagsAdd", {"id": order, "tags": [f"t{i}"]})
                                     for i in range(N)))
    assert all(a["data"]["tagsAdd"]["userErrors"] == [] for a in answers)
    stored = await shop.get("Order", order)
    assert stored is not None and set(stored["tags"]) == before | {f"t{i}" for i in range(N)}


async def test_concurrent_customer_updates_of_different_fields_all_apply(
        shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    lucia = shop.seeded["lucia"]["id"]
    changes = [{"firstName": "Lucía M."}, {"lastName": "Gómez R."}, {"email": "new@lucia.example"},
               {"phone": "+34 600 000 001"}, {"note": "vip"}]
    answers = await asyncio.gather(*(gql(http, "CustomerUpdate", {"input": {"id": lucia, **c}})
                                     for c in changes))
    assert all(a["data"]["customerUpdate"]["userErrors"] == [] for a in answers)
    stored = await shop.get("Customer", lucia)
    assert stored is not None
    assert {k: stored[k] for c in changes for k in c} == {k: v for c in changes for k, v in c.items()}


async def test_concurrent_inserts_get_distinct_ids(shop: ShopifySandbox) -> None:
    records = await asyncio.gather(*(shop.insert("Customer", {"firstName": f"P{i}"}) for i in range(N)))
    assert len({r["id"] for r in records}) == N
    assert sum(r["firstName"].startswith("P") for r in await shop.all("Customer")) >= N
