"""Odoo stock -> Kafka -> Holded end to end: a level on hand in Odoo's warehouse reaches the
Holded warehouse the mapping names, a stock move (which leaves the product's write_date alone)
follows, and each level is written once (no loop)."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.devrun.sandboxes import start_erp_sandbox
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mapping-es.yaml"
CENTRAL = "64a1f0c2e4b0a10000000e01"  # Holded's seeded warehouse: canonical "central"
WH_STOCK = 8                          # Odoo's WH/Stock location (warehouse 1: "central")


@pytest.fixture
async def sandboxes():
    holded = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    odoo, settings = await start_erp_sandbox("odoo")
    yield holded, odoo, settings
    await odoo.stop()
    await holded.stop()


async def test_an_odoo_stock_level_and_a_stock_move_reach_holded_once(own_flow, sandboxes):
    holded, odoo, odoo_settings = sandboxes
    quant = await odoo.orm.insert_raw("stock.quant", {"product_id": 1, "location_id": WH_STOCK,
                                                      "quantity": 12.0})
    flow = await own_flow(
        holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key", requests_per_second=20),
        poll_interval_s=1.0, **odoo_settings)
    await publish_mapping(flow.settings, MAPPING)

    def level_is(units: int):
        async def check():
            found = await holded.all("products", sku="ACE-5L")
            held = found[0].get("stockByWarehouse", {}).get(CENTRAL) if found else None
            return held if held == units else None
        return check
    await wait_for(level_is(12), 180, "12 units of ACE-5L in Holded's central warehouse", flow.worker)

    # A delivery of 5 in Odoo: only the quant moves.
    await odoo.orm.write_one("stock.quant", quant, {"quantity": 7.0}, internal=True)
    await wait_for(level_is(7), 120, "7 units of ACE-5L in Holded", flow.worker)
    await flow.wait_idle(60)
    stock_writes = [r for r in holded.requests if r.method == "PUT" and r.path.endswith("/stock")]
    assert len(stock_writes) == 2  # +12, then -5: each level once, nothing re-sent
    assert len(await holded.all("products", sku="ACE-5L")) == 1
