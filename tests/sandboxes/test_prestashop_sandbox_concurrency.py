"""The PrestaShop sandbox under concurrent clients: parallel POSTs all succeed with
distinct ids (MySQL's AUTO_INCREMENT) and every record is kept."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.prestashop.sandbox import KEY, PrestaShopSandbox, start_prestashop_sandbox

JSON = {"output_format": "JSON"}
N = 50


@pytest.fixture
async def sb() -> AsyncIterator[PrestaShopSandbox]:
    server = await start_prestashop_sandbox(port=0)
    server.faults.latency_ms = 20
    yield server
    await server.stop()


@pytest.fixture
async def api(sb: PrestaShopSandbox) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    async with httpx.AsyncClient(base_url=f"{sb.url}/api", auth=(KEY, ""), limits=limits,
                                 timeout=60) as client:
        yield client


async def test_concurrent_creates_get_unique_ids_and_are_all_kept(
        sb: PrestaShopSandbox, api: httpx.AsyncClient) -> None:
    before = len(await sb.store.all("addresses"))
    responses = await asyncio.gather(*(api.post("/addresses", params=JSON, content=(
        "<prestashop><address><id_customer>1</id_customer><id_country>1</id_country>"
        f"<alias>Parallel {i}</alias><lastname>Sanz</lastname><firstname>Ana</firstname>"
        f"<address1>Calle {i}</address1><city>Paterna</city>"
        "</address></prestashop>").encode()) for i in range(N)))
    assert [r.status_code for r in responses] == [201] * N
    ids = [r.json()["address"]["id"] for r in responses]
    assert len(set(ids)) == N
    kept = await sb.store.all("addresses")
    assert len(kept) == before + N
    assert sorted(r["alias"] for r in kept if r["alias"].startswith("Parallel ")) == \
        sorted(f"Parallel {i}" for i in range(N))
