"""Fixtures every connector's tests share."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The client a connector under test talks to its sandbox through."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
