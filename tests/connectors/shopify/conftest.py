"""Fixtures: a seeded Shopify sandbox on a free port."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.shopify.sandbox import ShopifySandbox, start_shopify_sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[ShopifySandbox]:
    server = await start_shopify_sandbox(port=0)
    yield server
    await server.stop()
