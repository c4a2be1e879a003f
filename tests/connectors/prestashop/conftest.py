"""Fixtures: a seeded PrestaShop sandbox on a free port."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.prestashop.sandbox import PrestaShopSandbox, start_prestashop_sandbox


@pytest.fixture
async def sb() -> AsyncIterator[PrestaShopSandbox]:
    server = await start_prestashop_sandbox(port=0)
    yield server
    await server.stop()
