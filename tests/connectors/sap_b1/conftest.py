"""Fixtures: a seeded SAP B1 sandbox on a free port and a real httpx client."""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.sap_b1.client import SapB1Client
from connectors.sap_b1.sandbox import SapSandbox, start_sap_sandbox
from tests.connectors.sap_b1.support import FakeClock, make_client


@pytest.fixture
async def sandbox() -> AsyncIterator[SapSandbox]:
    server = await start_sap_sandbox(port=0)
    yield server
    await server.stop()


@pytest.fixture
def sap(sandbox: SapSandbox, http: httpx.AsyncClient) -> SapB1Client:
    return make_client(sandbox, http)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 11, 20, 9, 0, 0, tzinfo=dt.UTC))


@pytest.fixture
async def clocked_sandbox(clock: FakeClock) -> AsyncIterator[SapSandbox]:
    """A seeded sandbox whose stamps follow ``clock`` (the source tests' UpdateDate/Time)."""
    server = await start_sap_sandbox(port=0, now=clock)
    yield server
    await server.stop()
