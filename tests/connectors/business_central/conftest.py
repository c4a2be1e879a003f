"""Fixtures: a seeded BC sandbox on a free port and a real httpx client."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.business_central.client import BusinessCentralClient
from connectors.business_central.sandbox import BCSandbox, start_bc_sandbox
from tests.connectors.business_central.support import make_client


@pytest.fixture
async def sandbox() -> AsyncIterator[BCSandbox]:
    server = await start_bc_sandbox(port=0)
    yield server
    await server.stop()


@pytest.fixture
def bc(sandbox: BCSandbox, http: httpx.AsyncClient) -> BusinessCentralClient:
    return make_client(sandbox, http)
