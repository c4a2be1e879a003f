"""Fixtures for the sandbox tests: sandboxes on free ports, plain httpx clients against them."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from connectors.holded.sandbox import SandboxServer, start_sandbox

KEY = "sandbox-key"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Await a condition that another task makes true (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def make_sandbox() -> AsyncIterator[Callable[..., Awaitable[SandboxServer]]]:
    servers: list[SandboxServer] = []

    async def make(**options: Any) -> SandboxServer:
        options.setdefault("rate_limit", None)
        server = await start_sandbox(port=0, **options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def sandbox(make_sandbox: Callable[..., Awaitable[SandboxServer]]) -> SandboxServer:
    return await make_sandbox()


@pytest.fixture
async def v1(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.v1_url, headers={"key": KEY}) as client:
        yield client


@pytest.fixture
async def v2(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.v2_url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


async def new_contact(v1: httpx.AsyncClient, **fields: Any) -> str:
    response = await v1.post("/contacts", json={"name": "ACME SL", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
