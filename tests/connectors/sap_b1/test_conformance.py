"""The SAP B1 connector against its sandbox, through the shared conformance suite."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from connectors.base.contracts import MemoryLedger
from connectors.sap_b1.client import SapB1Client
from connectors.sap_b1.mapping import HELD_FIELDS
from connectors.sap_b1.sandbox import SapSandbox, start_sap_sandbox
from connectors.sap_b1.sink import SapB1Sink
from connectors.sap_b1.source import SapB1Source
from tests.connectors.conformance import ConnectorConformance, RecordedRequest
from tests.connectors.sap_b1.support import (
    MAPPING, TRANSFER_ACCOUNT, command, contact_payload, make_client, payment_payload,
)


class SapControl:
    def __init__(self, sandbox: SapSandbox) -> None:
        self.sandbox = sandbox

    def recorded(self) -> list[RecordedRequest]:
        return [RecordedRequest(r.time, r.method, r.path, r.status, r.auth)
                for r in self.sandbox.requests]

    def throttle_next(self, count: int, retry_after: int) -> None:
        self.sandbox.faults.throttle_next, self.sandbox.faults.retry_after = count, retry_after

    def lose_next_write(self) -> None:
        self.sandbox.faults.lose_next_writes = 1

    def expire_auth_once(self) -> None:
        self.sandbox.faults.expire_next = 1

    def revoke_credentials(self) -> None:
        self.sandbox.faults.revoked = True

    def break_paging(self) -> None:
        self.sandbox.faults.ignore_paging = True

    async def seed(self, count: int) -> None:
        for i in range(count):
            await self.sandbox.create("BusinessPartners", {
                "CardCode": f"C9{i:04d}", "CardName": f"Cliente {i}", "CardType": "cCustomer"})

    async def count_written(self, cmd: dict[str, Any]) -> int:
        if cmd["entity"] == "payment":
            return len(await self.sandbox.find("IncomingPayments", Remarks=cmd["entity_key"],
                                               Cancelled="tNO"))
        return len(await self.sandbox.find("BusinessPartners",
                                           CardCode=cmd["links"]["sap_b1"]))


class TestSapB1Conformance(ConnectorConformance):
    system = "sap_b1"
    held_fields = HELD_FIELDS
    page_size = 5

    @pytest.fixture
    async def sandbox(self) -> AsyncIterator[SapSandbox]:
        server = await start_sap_sandbox(port=0)
        yield server
        await server.stop()

    @pytest.fixture
    def control(self, sandbox: SapSandbox) -> SapControl:
        return SapControl(sandbox)

    @pytest.fixture
    def client_factory(self, sandbox: SapSandbox,
                       http: httpx.AsyncClient) -> Callable[[], SapB1Client]:
        return lambda: make_client(sandbox, http, page_size=self.page_size)

    @pytest.fixture
    def source_factory(self, client_factory: Callable[[], SapB1Client]
                       ) -> Callable[[], SapB1Source]:
        return lambda: SapB1Source(client_factory(), mapping=MAPPING)

    @pytest.fixture
    def sink_factory(self, client_factory: Callable[[], SapB1Client]
                     ) -> Callable[[MemoryLedger], SapB1Sink]:
        return lambda ledger: SapB1Sink(client_factory(), mapping=MAPPING, ledger=ledger,
                                        transfer_account=TRANSFER_ACCOUNT)

    @pytest.fixture
    def sample_commands(self) -> list[dict[str, Any]]:
        return [command("payment", "payment/holded/64a1f0c2e4b0a1000000aa01",
                        payment_payload(1, "100.00")),
                command("contact", "contact/holded/64a1f0c2e4b0a1000000cc01", contact_payload(),
                        links={"sap_b1": "C0001"})]

    async def probe(self, client: SapB1Client) -> Any:
        return await client.call("GET", "PaymentTermsTypes", params={"$top": 1})

    async def list_all(self, client: SapB1Client) -> list[Any]:
        return [r async for r in client.list("BusinessPartners",
                                             select=("CardCode", "CardName"))]
