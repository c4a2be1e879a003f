"""The Holded sandbox most tests here run against: in process, on 127.0.0.1, no rate limit.
Tests of the rate limit or of the seeded sandbox define their own ``sandbox``."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.holded.sandbox import SandboxServer, start_sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(port=0, rate_limit=None)
    try:
        yield server
    finally:
        await server.stop()
