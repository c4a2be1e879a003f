from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.odoo.sandbox import OdooSandbox, start_odoo_sandbox


@pytest.fixture
async def sb() -> AsyncIterator[OdooSandbox]:
    server = await start_odoo_sandbox(port=0)
    yield server
    await server.stop()
