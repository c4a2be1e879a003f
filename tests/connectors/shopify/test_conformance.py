"""The Shopify connector against its sandbox, through the shared conformance suite."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from connectors.base.contracts import MemoryLedger
from connectors.shopify.client import ShopifyClient
from connectors.shopify.mapping import HELD_FIELDS, invoice_tag
from connectors.shopify.sandbox import ShopifySandbox, start_shopify_sandbox
from connectors.shopify.sink import ShopifySink
from connectors.shopify.source import ShopifySource
from tests.connectors.conformance import ConnectorConformance, RecordedRequest
from tests.connectors.shopify.support import (
    MAPPING, command, contact_payload, invoice_payload, make_client, numeric,
)


class ShopifyControl:
    def __init__(self, sandbox: ShopifySandbox) -> None:
        self.sandbox = sandbox

    def recorded(self) -> list[RecordedRequest]:
        return [RecordedRequest(r.time, r.method, r.path, r.status) for r in self.sandbox.requests]

    def throttle_next(self, count: int, retry_after: int) -> None:
        self.sandbox.faults.storm_next, self.sandbox.faults.storm_retry_after = count, retry_after

    def lose_next_write(self) -> None:
        self.sandbox.faults.lose_next_writes = 1

    def expire_auth_once(self) -> None:
        raise NotImplementedError("Shopify access tokens are static; nothing expires")

    def revoke_credentials(self) -> None:
        self.sandbox.revoke_token()

    def break_paging(self) -> None:
        self.sandbox.faults.ignore_cursor = True

    async def seed(self, count: int) -> None:
        for i in range(count):
            await self.sandbox.insert("Customer", {
                "firstName": "Cliente", "lastName": f"Prueba {i}", "displayName": f"Cliente {i}",
                "email": f"cliente{i}@example.es", "phone": None, "tags": [],
                "defaultAddress": None, "metafield": None, "companyContactProfiles": []})

    async def count_written(self, cmd: dict[str, Any]) -> int:
        if cmd["entity"] == "invoice":
            tag = invoice_tag(cmd["payload"]["number"])
            return sum(tag in o.get("tags", []) for o in await self.sandbox.all("Order"))
        target = cmd["links"]["shopify"]
        return sum(numeric(c) == target for c in await self.sandbox.all("Customer"))


class TestShopifyConformance(ConnectorConformance):
    system = "shopify"
    held_fields = HELD_FIELDS
    page_size = 5
    supports_auth_refresh = False

    @pytest.fixture
    async def sandbox(self) -> AsyncIterator[ShopifySandbox]:
        server = await start_shopify_sandbox(port=0)
        yield server
        await server.stop()

    @pytest.fixture
    def control(self, sandbox: ShopifySandbox) -> ShopifyControl:
        return ShopifyControl(sandbox)

    @pytest.fixture
    def client_factory(self, sandbox: ShopifySandbox,
                       http: httpx.AsyncClient) -> Callable[[], ShopifyClient]:
        return lambda: make_client(sandbox, http, page_size=self.page_size)

    @pytest.fixture
    def source_factory(self, client_factory: Callable[[], ShopifyClient]
                       ) -> Callable[[], ShopifySource]:
        return lambda: ShopifySource(client_factory(), mapping=MAPPING)

    @pytest.fixture
    def sink_factory(self, client_factory: Callable[[], ShopifyClient]
                     ) -> Callable[[MemoryLedger], ShopifySink]:
        return lambda ledger: ShopifySink(client_factory(), mapping=MAPPING, ledger=ledger)

    @pytest.fixture
    def sample_commands(self, sandbox: ShopifySandbox) -> list[dict[str, Any]]:
        lucia, order = sandbox.seeded["lucia"], sandbox.seeded["order_paid"]
        return [command("contact", "contact/holded/64a1f0c2e4b0a1000000cc01", contact_payload(),
                        links={"shopify": numeric(lucia)}),
                command("invoice", f"invoice/shopify/{numeric(order)}", invoice_payload())]

    async def probe(self, client: ShopifyClient) -> Any:
        return await client.execute("Shop")

    async def list_all(self, client: ShopifyClient) -> list[Any]:
        return [r async for r in client.iterate("Customers", ("customers",),
                                                page_size=self.page_size)]

    async def test_echo_of_a_sink_write_hashes_equal_on_held_fields(
        self, sink_factory: Callable[[MemoryLedger], ShopifySink],
        source_factory: Callable[[], ShopifySource], sample_commands: list[dict[str, Any]],
    ) -> None:
        """Only contacts read back as what was written: an invoice command only tags the
        order with the Holded number, and the order reads back as the order it always was
        (the tag itself is checked in test_source_sink.py)."""
        readable = [c for c in sample_commands if c["entity"] == "contact"]
        assert readable
        await super().test_echo_of_a_sink_write_hashes_equal_on_held_fields(
            sink_factory, source_factory, readable)
