"""The PrestaShop connector against its sandbox, through the shared conformance suite."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from connectors.base.contracts import MemoryLedger
from connectors.prestashop.mapping import HELD_FIELDS
from connectors.prestashop.sandbox import KEY, PrestaShopSandbox, start_prestashop_sandbox
from connectors.prestashop.sink import PrestaShopSink
from connectors.prestashop.source import PrestaShopSource
from tests.connectors.conformance import ConnectorConformance, RecordedRequest
from tests.connectors.prestashop.support import MAPPING, command, levante, lucia, make_client


class PrestaShopControl:
    def __init__(self, sandbox: PrestaShopSandbox) -> None:
        self.sandbox = sandbox

    def recorded(self) -> list[RecordedRequest]:
        return [RecordedRequest(r.time, r.method, r.path, r.status, r.auth)
                for r in self.sandbox.requests]

    def throttle_next(self, count: int, retry_after: int) -> None:
        self.sandbox.faults.throttle_next, self.sandbox.faults.retry_after = count, retry_after

    def lose_next_write(self) -> None:
        self.sandbox.faults.lose_next_writes = 1

    def expire_auth_once(self) -> None:
        raise NotImplementedError("a PrestaShop webservice key has no session to expire")

    def revoke_credentials(self) -> None:
        self.sandbox.faults.revoked.add(KEY)

    def break_paging(self) -> None:
        self.sandbox.faults.ignore_paging = True

    async def seed(self, count: int) -> None:
        for i in range(count):
            await self.sandbox.store.insert("customers", {
                "firstname": "Cliente", "lastname": str(i), "email": f"c{i}@example.es",
                "active": "1", "deleted": "0", "is_guest": "0"})

    async def count_written(self, cmd: dict[str, Any]) -> int:
        """Customers whose tax address holds the command's tax id."""
        tax_id = (cmd["payload"] or {}).get("tax_id")
        holders = {a["id_customer"] for a in await self.sandbox.store.all("addresses")
                   if a.get("deleted") != "1" and tax_id in (a.get("vat_number"), a.get("dni"))}
        return len(holders)


class TestPrestaShopConformance(ConnectorConformance):
    system = "prestashop"
    held_fields = HELD_FIELDS
    page_size = 4
    supports_auth_refresh = False  # a static webservice key: nothing to refresh

    @pytest.fixture
    async def sandbox(self) -> AsyncIterator[PrestaShopSandbox]:
        server = await start_prestashop_sandbox(port=0)
        yield server
        await server.stop()

    @pytest.fixture
    def control(self, sandbox: PrestaShopSandbox) -> PrestaShopControl:
        return PrestaShopControl(sandbox)

    @pytest.fixture
    def client_factory(self, sandbox: PrestaShopSandbox,
                       http: httpx.AsyncClient) -> Callable[[], Any]:
        return lambda: make_client(sandbox, http, page_size=self.page_size)

    @pytest.fixture
    def source_factory(self, client_factory: Callable[[], Any]) -> Callable[[], PrestaShopSource]:
        return lambda: PrestaShopSource(client_factory(), MAPPING, batch=self.page_size)

    @pytest.fixture
    def sink_factory(self, client_factory: Callable[[], Any]
                     ) -> Callable[[MemoryLedger], PrestaShopSink]:
        return lambda ledger: PrestaShopSink(client_factory(), MAPPING, ledger)

    @pytest.fixture
    def sample_commands(self) -> list[dict[str, Any]]:
        return [command("contact", "contact/prestashop/1", levante(tax_id="ESB76543210")),
                command("contact", "contact/prestashop/2", lucia(tax_id="Y1234567X"))]

    async def probe(self, client: Any) -> Any:
        return await client.get("customers", 1)

    async def list_all(self, client: Any) -> list[Any]:
        return [r async for r in client.list("customers", display="[id,email]")]
