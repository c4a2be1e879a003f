"""The line each ERP sandbox prints at start (``holded-sync sandbox <erp>``): the environment a
worker reads to use it. Read back as a worker would, it must give the connector the settings
the demo and the flow tests use, and a client."""
from __future__ import annotations

import pytest

from app.connections import clients
from app.devrun.sandboxes import ERP_SYSTEMS, start_erp_sandbox, worker_env
from app.settings import Settings


@pytest.mark.parametrize("system", ERP_SYSTEMS)
async def test_the_printed_environment_gives_a_worker_the_sandbox(system, monkeypatch):
    sandbox, expected = await start_erp_sandbox(system)
    try:
        line = worker_env(system, sandbox)
        for pair in line.split():
            name, value = pair.split("=", 1)
            monkeypatch.setenv(name, value)
        settings = Settings()
        assert settings.systems == ("holded", system)
        assert getattr(settings, system).model_dump() == expected[system].model_dump()
        assert system in clients(settings)
    finally:
        await sandbox.stop()
