"""The client's cost budget against the sandbox's bucket: throttled at most once, then paced."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.shopify.sandbox import ShopifySandbox, start_shopify_sandbox
from tests.connectors.shopify.support import make_client


@pytest.fixture
async def small_shop() -> AsyncIterator[ShopifySandbox]:
    # 60 points, 100 restored per second: a 5-customer page costs 17 points, so the first page
    # meets the drained bucket unless the machine stalls 170 ms between the drain and the request.
    server = await start_shopify_sandbox(port=0, bucket_size=60, restore_rate=100)
    for i in range(40):
        await server.insert("Customer", {"firstName": "Cliente", "lastName": str(i),
                                         "email": f"c{i}@example.es", "tags": [],
                                         "companyContactProfiles": []})
    yield server
    await server.stop()


async def test_a_drained_bucket_throttles_once_then_the_client_paces_itself(
        small_shop: ShopifySandbox) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        client = make_client(small_shop, http, page_size=5, attempts=4)
        small_shop.bucket.drain(60)  # another app used the shop's points
        records = [r async for r in client.iterate("Customers", ("customers",))]
    assert len(records) == 43
    outcomes = [r.outcome for r in small_shop.requests]
    assert outcomes.count("throttled") == 1, outcomes  # the first, before the client knew
    assert outcomes[0] == "throttled"
    assert client.budget.waited > 0  # later pages waited for points instead of failing
    assert client.budget.maximum == 60 and client.budget.restore_rate == 100
