"""The Odoo connector against its sandbox, through the shared conformance suite."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from connectors.base.contracts import MemoryLedger
from connectors.odoo.mapping import HELD_FIELDS
from connectors.odoo.sandbox import OdooSandbox, start_odoo_sandbox
from connectors.odoo.sink import OdooSink
from connectors.odoo.source import OdooSource
from tests.connectors.conformance import ConnectorConformance, RecordedRequest
from tests.connectors.odoo.support import (
    KEY, MAPPING, command, contact_payload, make_client, payment_payload,
)


class OdooControl:
    def __init__(self, sandbox: OdooSandbox) -> None:
        self.sandbox = sandbox

    def recorded(self) -> list[RecordedRequest]:
        return [RecordedRequest(r.time, "POST", f"{r.path} {r.call}", r.status, r.auth)
                for r in self.sandbox.requests]

    def throttle_next(self, count: int, retry_after: int) -> None:
        self.sandbox.faults.throttle_next, self.sandbox.faults.retry_after = count, retry_after

    def lose_next_write(self) -> None:
        self.sandbox.faults.lose_next_writes = 1

    def expire_auth_once(self) -> None:
        self.sandbox.faults.deny_next = 1

    def revoke_credentials(self) -> None:
        self.sandbox.faults.revoked.add(KEY)

    def break_paging(self) -> None:
        self.sandbox.faults.ignore_paging = True

    async def seed(self, count: int) -> None:
        await self.sandbox.call("res.partner", "create",
                                [{"name": f"Cliente {i}", "customer_rank": 1} for i in range(count)])

    async def count_written(self, cmd: dict[str, Any]) -> int:
        model = {"payment": "account.payment", "contact": "res.partner"}[cmd["entity"]]
        return await self.sandbox.count(model, [("ref", "=", cmd["entity_key"])])


class OdooConformance(ConnectorConformance):
    system = "odoo"
    held_fields = HELD_FIELDS
    page_size = 4
    protocol = "jsonrpc"

    @pytest.fixture
    async def sandbox(self) -> AsyncIterator[OdooSandbox]:
        server = await start_odoo_sandbox(port=0)
        yield server
        await server.stop()

    @pytest.fixture
    def control(self, sandbox: OdooSandbox) -> OdooControl:
        return OdooControl(sandbox)

    @pytest.fixture
    def client_factory(self, sandbox: OdooSandbox, http: httpx.AsyncClient) -> Callable[[], Any]:
        return lambda: make_client(sandbox, http, self.protocol)

    @pytest.fixture
    def source_factory(self, client_factory: Callable[[], Any]) -> Callable[[], OdooSource]:
        return lambda: OdooSource(client_factory(), MAPPING, page_size=self.page_size)

    @pytest.fixture
    def sink_factory(self, client_factory: Callable[[], Any]) -> Callable[[MemoryLedger], OdooSink]:
        return lambda ledger: OdooSink(client_factory(), MAPPING, ledger)

    @pytest.fixture
    def sample_commands(self) -> list[dict[str, Any]]:
        return [command("payment", "payment/holded/p-1", payment_payload(1, "100.00")),
                command("contact", "contact/holded/c-1", contact_payload())]

    async def probe(self, client: Any) -> Any:
        return await client.search_count("res.partner", [])

    async def list_all(self, client: Any) -> list[Any]:
        return [r async for r in client.iterate("res.partner", [], ["name"],
                                                page_size=self.page_size)]


class TestOdooJsonRpc(OdooConformance):
    protocol = "jsonrpc"


class TestOdooXmlRpc(OdooConformance):
    protocol = "xmlrpc"


class TestOdooJson2(OdooConformance):
    protocol = "json2"
    supports_auth_refresh = False
