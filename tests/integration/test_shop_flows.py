"""Shops -> Kafka -> Holded end to end: PrestaShop orders with an invoice, and paid Shopify
orders, become exactly one Holded invoice each with the shop's totals, and the shop's payments
are registered on them."""
from __future__ import annotations

from decimal import Decimal

import pytest

from app.live_mapping import publish_mapping
from app.devrun.sandboxes import start_erp_sandbox
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.integration.test_odoo_flow import MAPPING
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
async def holded():
    server = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    yield server
    await server.stop()


async def synced_documents(flow, holded, system: str) -> dict[str, dict]:
    """Wait until every shop invoice the engine knows has an outcome in Holded."""
    async def decided():
        entities = await flow.table("entities")
        wanted = {k for k in entities if k.startswith(f"invoice/{system}/")}
        results = {r["entity_key"]: r for r in await flow.read_results("holded")}
        got = {k: results[k] for k in wanted if k in results}
        return got if wanted and len(got) == len(wanted) else None
    outcomes = await wait_for(decided, 180, f"an outcome for every {system} invoice", flow.worker)
    entities = await flow.table("entities")
    assert all(r["status"] == "succeeded" for r in outcomes.values()), outcomes
    docs = {f["value"]: d for d in await holded.all("documents") for f in d.get("customFields", [])
            if f.get("field") == "holded_sync_key"}
    assert set(outcomes) <= set(docs) and len(await holded.all("documents")) == len(outcomes)
    for key in outcomes:  # the shop's totals, as its connector read them, to the cent
        assert Decimal(str(docs[key]["total"])) == entities[key]["record"]["totals"]["total"]
    return {k: docs[k] for k in outcomes}


async def payments_registered(flow, holded, system: str, docs: dict[str, dict]) -> None:
    entities = await flow.table("entities")
    paid = {e["record"]["invoice_key"]: e["record"]["amount"] for k, e in entities.items()
            if k.startswith(f"payment/{system}/") and e["record"]}
    assert paid, f"the {system} seed has payments"

    async def registered():
        results = [r for r in await flow.read_results("holded")
                   if r["entity_key"].startswith(f"payment/{system}/")]
        return results if len(results) >= len(paid) else None
    results = await wait_for(registered, 120, f"the {system} payments in Holded", flow.worker)
    assert all(r["status"] == "succeeded" for r in results), results
    for invoice_key, amount in paid.items():
        if invoice_key in docs:
            doc = next(d for d in await holded.all("documents") if d["id"] == docs[invoice_key]["id"])
            assert Decimal(str(doc["paymentsTotal"])) >= amount


@pytest.mark.parametrize("system", ["prestashop", "shopify"])
async def test_shop_invoices_and_their_payments_reach_holded(own_flow, holded, system):
    shop, shop_settings = await start_erp_sandbox(system)
    try:
        # pay_drafts: the shop invoices reach Holded as drafts (the default), and Holded's /pay
        # approves a draft, so by default their payments are parked for review
        # (test_odoo_flow.py shows that). This test is about the payments' amounts and
        # documents, so it lets the payments approve the drafts.
        flow = await own_flow(
            systems=("holded", system), poll_interval_s=1.0,
            holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key", requests_per_second=20,
                                  pay_drafts=True),
            **shop_settings)
        await publish_mapping(flow.settings, MAPPING)
        docs = await synced_documents(flow, holded, system)
        await payments_registered(flow, holded, system, docs)
        # Then quiet: more polls of both systems emit no further commands (no ping-pong).
        await flow.wait_idle(60)
        settled = len(await flow.commands(system)) + len(await flow.commands("holded"))
        seen = len(shop.requests)

        async def more_polls():
            return len(shop.requests) >= seen + 6
        await wait_for(more_polls, 60, f"more {system} polls", flow.worker)
        await flow.wait_idle(60)
        assert len(await flow.commands(system)) + len(await flow.commands("holded")) == settled
    finally:
        await shop.stop()
