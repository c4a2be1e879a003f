"""The Odoo sandbox under concurrent clients: every committed call is kept, ids are unique.

Real Odoo runs each RPC in its own transaction and draws ids from a database sequence, so
parallel creates never share an id and never overwrite each other, a failing call rolls
back only itself, and an id is never handed out twice (not even after an unlink).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.odoo.sandbox import OdooSandbox, start_odoo_sandbox
from connectors.odoo.sandbox_faults import Faults

N = 50


@pytest.fixture
async def sb() -> AsyncIterator[OdooSandbox]:
    server = await start_odoo_sandbox(port=0, faults=Faults(latency_ms=20))
    yield server
    await server.stop()


@pytest.fixture
async def http(sb: OdooSandbox) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    async with httpx.AsyncClient(base_url=sb.url, limits=limits, timeout=60) as client:
        yield client


async def ex(http: httpx.AsyncClient, model: str, method: str, args: list[Any],
             kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "object", "method": "execute_kw",
        "args": ["sandbox", 2, "sandbox-key", model, method, args, kwargs or {}]}}
    response = await http.post("/jsonrpc", json=body)
    assert response.status_code == 200
    return response.json()


async def test_concurrent_creates_keep_every_record_with_unique_ids(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    before = await sb.count("res.partner")
    results = await asyncio.gather(*(
        ex(http, "res.partner", "create", [[{"name": f"Parallel {i} SL",
                                              "bank_ids": [[0, 0, {"acc_number": f"ES{i:022d}"}]]}]])
        for i in range(N)))
    ids = [rid for r in results for rid in r["result"]]
    assert len(ids) == N and len(set(ids)) == N
    assert await sb.count("res.partner") == before + N
    rows = await sb.search_read("res.partner", [("id", "in", ids)], ["name", "bank_ids"])
    assert sorted(r["name"] for r in rows) == sorted(f"Parallel {i} SL" for i in range(N))
    banks = [b for r in rows for b in r["bank_ids"]]
    assert len(banks) == N and len(set(banks)) == N
    assert await sb.count("res.partner.bank", [("partner_id", "in", ids)]) == N


async def test_a_failing_call_rolls_back_only_itself(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    before = await sb.count("res.partner")
    good = [ex(http, "res.partner", "create", [[{"name": f"Kept {i} SL"}]]) for i in range(N // 2)]
    bad = [ex(http, "res.partner", "create", [[{"name": f"Bad {i} SL"}, {"vat": "no name"}]])
           for i in range(N // 2)]
    results = await asyncio.gather(*[call for pair in zip(good, bad, strict=True) for call in pair])
    assert all("result" in r for r in results[0::2])
    assert all(r["error"]["data"]["name"] == "odoo.exceptions.ValidationError" for r in results[1::2])
    assert await sb.count("res.partner") == before + N // 2
    assert await sb.count("res.partner", [("name", "like", "Bad ")]) == 0


async def test_concurrent_writes_to_one_record_lose_no_field(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    [rid] = (await ex(http, "res.partner", "create", [[{"name": "Target SL"}]]))["result"]
    fields = ["street", "city", "zip", "email", "phone", "vat"]
    results = await asyncio.gather(*(
        ex(http, "res.partner", "write", [[rid], {field: f"{field}-value"}]) for field in fields))
    assert all(r["result"] is True for r in results)
    [row] = await sb.search_read("res.partner", [("id", "=", rid)], fields)
    assert row == {"id": rid, **{field: f"{field}-value" for field in fields}}


async def test_concurrent_unlinks_and_creates_never_reuse_an_id(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    created = (await ex(http, "res.partner", "create", [[{"name": f"Old {i}"} for i in range(20)]]))["result"]
    results = await asyncio.gather(
        *(ex(http, "res.partner", "unlink", [[rid]]) for rid in created),
        *(ex(http, "res.partner", "create", [[{"name": f"New {i}"}]]) for i in range(20)))
    assert all(r["result"] is True for r in results[:20])
    new = [rid for r in results[20:] for rid in r["result"]]
    assert len(set(new)) == 20 and not set(new) & set(created)
    assert await sb.count("res.partner", [("name", "like", "Old ")]) == 0
    assert await sb.count("res.partner", [("name", "like", "New ")]) == 20


async def test_concurrent_invoices_posts_and_payments(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    line = {"name": "Consultoría", "quantity": 1.0, "price_unit": 100.0, "account_id": 2}
    created = await asyncio.gather(*(
        ex(http, "account.move", "create", [[{"move_type": "out_invoice", "partner_id": 2,
                                               "invoice_date": "2026-03-01",
                                               "invoice_line_ids": [[0, 0, line], [0, 0, line]]}]])
        for _ in range(20)))
    moves = [rid for r in created for rid in r["result"]]
    assert len(set(moves)) == 20
    lines = await sb.search_read("account.move.line", [("move_id", "in", moves)], ["move_id"])
    assert len(lines) == 40 and len({ln["id"] for ln in lines}) == 40
    posted = await asyncio.gather(*(ex(http, "account.move", "action_post", [[m]]) for m in moves))
    assert all("result" in r for r in posted)
    rows = await sb.search_read("account.move", [("id", "in", moves)], ["name", "state", "amount_total"])
    assert {r["state"] for r in rows} == {"posted"} and {r["amount_total"] for r in rows} == {200.0}
    assert len({r["name"] for r in rows}) == 20
    invoice = moves[0]
    ctx = {"context": {"active_model": "account.move", "active_ids": [invoice]}}
    wizards = await asyncio.gather(*(
        ex(http, "account.payment.register", "create", [[{"amount": 10.0}]], ctx) for _ in range(10)))
    paid = await asyncio.gather(*(
        ex(http, "account.payment.register", "action_create_payments", [w["result"]]) for w in wizards))
    payments = [p["result"]["res_id"] for p in paid]
    assert len(set(payments)) == 10
    [move] = await sb.search_read("account.move", [("id", "=", invoice)], ["amount_residual", "payment_state"])
    assert move == {"id": invoice, "amount_residual": 100.0, "payment_state": "partial"}
    names = await sb.search_read("account.payment", [("id", "in", payments)], ["name"])
    assert len({p["name"] for p in names}) == 10
