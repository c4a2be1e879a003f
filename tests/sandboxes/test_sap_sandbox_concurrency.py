"""The SAP B1 sandbox under concurrent clients: each write is one transaction, as in SAP.

Parallel POSTs get distinct DocEntry / DocNum and are all kept; parallel payments never
apply more than an invoice's open balance; of parallel PATCHes sending the same If-Match,
one wins and the others get 412.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from connectors.sap_b1.sandbox import COMPANY_DB, PASSWORD, USER, SapSandbox, start_sap_sandbox

LOGIN = {"CompanyDB": COMPANY_DB, "UserName": USER, "Password": PASSWORD}
N = 50


@pytest.fixture
async def sb() -> AsyncIterator[SapSandbox]:
    server = await start_sap_sandbox(port=0)
    server.faults.latency_ms = 20
    yield server
    await server.stop()


@pytest.fixture
async def sl(sb: SapSandbox) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    async with httpx.AsyncClient(base_url=sb.url + "/", limits=limits, timeout=60) as client:
        assert (await client.post("Login", json=LOGIN)).status_code == 200
        yield client


async def test_concurrent_creates_are_all_kept_with_unique_keys(sb: SapSandbox, sl: httpx.AsyncClient) -> None:
    before = len(await sb.all("Invoices"))
    line = {"ItemCode": "A0001", "Quantity": 1, "Price": 10, "VatGroup": "R3"}
    responses = await asyncio.gather(*(
        sl.post("Invoices", json={"CardCode": "C0001", "NumAtCard": f"P-{i}", "DocumentLines": [line]})
        for i in range(N)))
    assert [r.status_code for r in responses] == [201] * N
    entries = [r.json()["DocEntry"] for r in responses]
    numbers = [r.json()["DocNum"] for r in responses]
    assert len(set(entries)) == N and len(set(numbers)) == N
    kept = await sb.all("Invoices")
    assert len(kept) == before + N
    assert sorted(r["NumAtCard"] for r in kept if str(r.get("NumAtCard")).startswith("P-")) == \
        sorted(f"P-{i}" for i in range(N))
    partners = await asyncio.gather(*(
        sl.post("BusinessPartners", json={"CardCode": f"N{i:03d}", "CardName": f"Nuevo {i}"})
        for i in range(N)))
    assert [r.status_code for r in partners] == [201] * N


async def test_concurrent_payments_never_exceed_the_open_balance(sb: SapSandbox, sl: httpx.AsyncClient) -> None:
    invoice = await sb.get("Invoices", 1)
    open_balance = Decimal(str(invoice["DocTotal"])) - Decimal(str(invoice["PaidToDate"]))
    body = {"CardCode": "C0001", "TransferSum": 100, "TransferAccount": "57200000",
            "PaymentInvoices": [{"DocEntry": 1, "SumApplied": 100}]}
    responses = await asyncio.gather(*(sl.post("IncomingPayments", json=body) for _ in range(20)))
    accepted = sum(r.status_code == 201 for r in responses)
    assert accepted == int(open_balance // 100)
    assert all(r.status_code in (201, 400) for r in responses)
    assert len({r.json()["DocEntry"] for r in responses if r.status_code == 201}) == accepted
    assert Decimal(str((await sb.get("Invoices", 1))["PaidToDate"])) == 100 * accepted
    assert len(await sb.find("IncomingPayments", CardCode="C0001")) >= accepted


async def test_concurrent_patches_with_one_etag_let_one_win(sb: SapSandbox, sl: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(
        sl.patch("BusinessPartners('C0002')", json={"Phone1": str(i)}, headers={"If-Match": 'W/"1"'})
        for i in range(20)))
    assert sorted(r.status_code for r in responses) == [204] + [412] * 19
    assert (await sb.get("BusinessPartners", "C0002"))["DataVersion"] == 2
