"""Odoo answers that mean the settings are wrong fail at once as configuration errors."""
from __future__ import annotations

import httpx
import pytest

from connectors.base.errors import FatalError, Fault
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.odoo.client import OdooClient


def client(handler) -> tuple[OdooClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return OdooClient(http, base_url="http://erp.example", db="prod", login="admin",
                      api_key="k3y-value", retry=RetryPolicy(max_attempts=3, base_delay=0.0),
                      limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000))), seen


async def test_a_web_page_instead_of_json_rpc_is_a_config_error_not_retried():
    odoo, seen = client(lambda r: httpx.Response(200, text="<!DOCTYPE html><html></html>"))
    with pytest.raises(FatalError, match="is ODOO_URL an Odoo server") as info:
        await odoo.authenticate()
    assert info.value.fault == Fault.CONFIG and len(seen) == 1


async def test_an_unknown_database_is_a_config_error_naming_odoo_db():
    body = {"jsonrpc": "2.0", "id": 1, "error": {"code": 200, "message": "Odoo Server Error",
            "data": {"name": "builtins.ValueError",
                     "message": 'FATAL:  database "prod" does not exist'}}}
    odoo, seen = client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(FatalError, match="check ODOO_DB") as info:
        await odoo.authenticate()
    assert info.value.fault == Fault.CONFIG and len(seen) == 1
