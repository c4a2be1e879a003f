"""The Holded poller with read_stock: products with their stock per warehouse, pure mapping
first, then poll_once against the sandbox, written to by the Holded sink as an ERP would."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from app.core.decide import apply_change, apply_result
from app.core.hashing import content_hash
from app.core.policy import default_policy
from app.mapping import Unmappable, parse_mapping
from connectors.holded.inbound_products import product_from_holded, stock_of
from connectors.holded.sandbox import SandboxServer
from connectors.holded.source import PRODUCTS, PollConfig, PollState, poll_once
from tests.connectors.holded.sink_support import make_client, make_sink, product_command
from tests.mapping.factories import example_data, example_mapping

CENTRAL = "64a1f0c2e4b0a10000000e01"  # the sandbox's seeded warehouse, "central" in the example
TALLER = "64a1f0c2e4b0a10000000e02"   # a second warehouse, mapped only where a test says so
T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
STOCK = PollConfig(read_stock=True)
MAPPING = example_mapping()


def mapping_with_taller():  # type: ignore[no-untyped-def]
    data = example_data()
    data["warehouses"]["taller"] = "Taller"
    data["systems"]["holded"]["warehouses"][TALLER] = "taller"
    return parse_mapping(data, source="m.yaml")


def holded_product(**changes: Any) -> dict[str, Any]:
    record = {"id": "p1", "kind": "simple", "name": "Aceite", "desc": "", "sku": "GIR-500",
              "price": 8.136364, "taxes": ["s_iva_10"], "cost": 0, "barcode": "", "stock": 7}
    record.update(changes)
    return record


# -- pure ------------------------------------------------------------------------------------

def test_levels_are_per_canonical_warehouse_with_zeros_and_unmapped_left_out() -> None:
    table = {CENTRAL: {"p1": D(5), "p2": D(1)}, TALLER: {"p1": D(2)}, "otro": {}}
    assert stock_of(holded_product(), table, mapping=mapping_with_taller()) == [
        {"warehouse": "central", "quantity": D("5.0000")},
        {"warehouse": "taller", "quantity": D("2.0000")}]
    # taller unmapped: read (its 2 units make the total add up) but not reported
    assert stock_of(holded_product(), table, mapping=MAPPING) == [
        {"warehouse": "central", "quantity": D("5.0000")}]
    assert stock_of(holded_product(id="p3", stock=0), table, mapping=MAPPING) == [
        {"warehouse": "central", "quantity": D("0.0000")}]


def test_levels_that_do_not_add_up_to_the_products_total_are_not_reported() -> None:
    with pytest.raises(Unmappable, match="add up to 5, its own stock total is 9"):
        stock_of(holded_product(stock=9), {CENTRAL: {"p1": D(5)}}, mapping=MAPPING)
    with pytest.raises(Unmappable, match="without a stock total"):
        stock_of(holded_product(stock=None), {CENTRAL: {"p1": D(5)}}, mapping=MAPPING)


def test_a_product_maps_back_through_the_mapping_never_guessed() -> None:
    out = product_from_holded(holded_product(), stock=[], mapping=MAPPING)
    assert (out["sku"], out["price"], out["sales_taxes"], out["cost"], out["description"]) == (
        "GIR-500", D("8.136364"), ["iva_10"], None, None)
    with pytest.raises(Unmappable) as caught:
        product_from_holded(holded_product(sku="", taxes=["s_iva_99"]), stock=[], mapping=MAPPING)
    assert "has no sku" in str(caught.value) and "'s_iva_99'" in str(caught.value)


# -- against the sandbox ---------------------------------------------------------------------

async def write_from_erp(sandbox: SandboxServer, http: httpx.AsyncClient, n: int, units: str,
                         mapping=MAPPING) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the Holded sink writes for an Odoo product with ``units`` in central."""
    cmd = product_command(n)
    cmd["payload"]["stock"] = [{"warehouse": "central", "quantity": D(units)}]
    outcome = await make_sink(make_client(sandbox, http), mapping).execute(cmd)
    assert outcome.result["status"] == "succeeded", outcome.result
    return cmd


def products_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["entity"] == "product"]


async def test_a_stock_change_is_one_change_event_and_no_change_none(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await write_from_erp(sandbox, http, 1, "5")
    client = make_client(sandbox, http)
    state, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK)
    [first] = products_of(events)
    target = first["source_id"]
    assert first["entity_key"] == f"product/holded/{target}" and first["lane"] == "bulk"
    assert first["payload"]["stock"] == [{"warehouse": "central", "quantity": D("5.0000")}]
    state, events = await poll_once(client, state, MAPPING, T0 + MINUTE, config=STOCK)
    assert products_of(events) == []  # unchanged: nothing
    await client.products.adjust_stock(target, CENTRAL, target, 2)  # a delivery in Holded
    state, events = await poll_once(client, state, MAPPING, T0 + 2 * MINUTE, config=STOCK)
    [changed] = products_of(events)
    assert changed["payload"]["stock"] == [{"warehouse": "central", "quantity": D("7.0000")}]
    assert changed["lane"] == "realtime" and changed["event_id"] != first["event_id"]
    assert set(state.hashes[PRODUCTS]) == {target}


async def test_stock_costs_one_read_per_warehouse_not_per_product(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await sandbox.insert("warehouses", [{"id": TALLER, "name": "Taller", "default": False}])
    for n in range(1, 5):
        await write_from_erp(sandbox, http, n, str(n))
    sandbox.requests.clear()
    _, events = await poll_once(make_client(sandbox, http), PollState(), MAPPING, T0, config=STOCK)
    assert len(products_of(events)) == 4
    reads = [r.path for r in sandbox.requests if r.path.endswith("/stock")]
    assert sorted(reads) == sorted(f"/api/invoicing/v1/warehouses/{w}/stock" for w in (CENTRAL, TALLER))


async def test_an_unmapped_warehouse_is_not_reported_and_is_named_in_the_log(
        sandbox: SandboxServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    await sandbox.insert("warehouses", [{"id": TALLER, "name": "Taller", "default": False}])
    await write_from_erp(sandbox, http, 1, "5")
    client = make_client(sandbox, http)
    [target] = [p["id"] async for p in client.products.list()]
    await client.products.adjust_stock(target, TALLER, target, 3)
    with caplog.at_level(logging.INFO, logger="connectors.holded.source_stock"):
        _, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK)
    [event] = products_of(events)
    assert event["payload"]["stock"] == [{"warehouse": "central", "quantity": D("5.0000")}]
    assert f"{TALLER} (Taller)" in caplog.text and "not in systems.holded.warehouses" in caplog.text
    _, events = await poll_once(client, PollState(), mapping_with_taller(), T0, config=STOCK)
    assert products_of(events)[0]["payload"]["stock"] == [
        {"warehouse": "central", "quantity": D("5.0000")},
        {"warehouse": "taller", "quantity": D("3.0000")}]


async def test_an_unmappable_product_is_parked_with_its_reasons(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    client = make_client(sandbox, http)
    await client.products.create({"kind": "simple", "name": "Sin SKU", "price": 1.0})
    parked: list[tuple[str, str, list[str]]] = []
    _, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK,
                                on_parked=lambda *p: parked.append(p))
    assert products_of(events) == []
    assert [(r, "has no sku" in " ".join(why)) for r, _, why in parked] == [(PRODUCTS, True)]


async def test_without_read_stock_no_product_or_stock_is_read(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await write_from_erp(sandbox, http, 1, "5")
    sandbox.requests.clear()
    _, events = await poll_once(make_client(sandbox, http), PollState(), MAPPING, T0)
    assert products_of(events) == []
    assert not [r for r in sandbox.requests if "/products" in r.path or "/warehouses" in r.path]


async def test_the_read_back_of_what_the_sink_wrote_hashes_as_what_was_written(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    written = await write_from_erp(sandbox, http, 3, "4")
    _, events = await poll_once(make_client(sandbox, http), PollState(), MAPPING, T0, config=STOCK)
    [event] = products_of(events)
    assert event["payload"] == written["payload"]
    assert event["content_hash"] == content_hash(written["payload"])


async def test_stock_written_from_the_erp_and_read_back_does_not_ping_pong(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    """Odoo -> Holded (the sink writes the level) -> the Holded poller reads it back: the
    engine sends it on to the shop that writes stock, never back to Holded, and the next poll
    reports nothing."""
    policy = default_policy(("odoo", "shopify"), stock_targets=("shopify",))
    cmd = product_command(4)
    cmd["payload"]["stock"] = [{"warehouse": "central", "quantity": D("6")}]
    erp = apply_change({"event_id": "e-odoo", "entity_key": cmd["entity_key"],
                        "entity": "product", "source_system": "odoo", "source_id": "4",
                        "source_ts": 1, "op": "upsert", "payload": cmd["payload"],
                        "content_hash": content_hash(cmd["payload"]), "lane": "realtime"},
                       None, None, None, policy)
    assert sorted(c["target_system"] for c in erp.commands) == ["holded", "shopify"]
    [to_holded] = [c for c in erp.commands if c["target_system"] == "holded"]
    outcome = await make_sink(make_client(sandbox, http), MAPPING).execute(to_holded)
    assert outcome.result["status"] == "succeeded"
    apply_result(outcome.result, erp.replicas, erp.links)

    client = make_client(sandbox, http)
    state, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK)
    [read_back] = products_of(events)
    twin = apply_change(read_back, None, None, None, policy)
    assert [c["target_system"] for c in twin.commands] == ["shopify"]  # never Holded again
    assert twin.commands[0]["payload"]["stock"] == [
        {"warehouse": "central", "quantity": D("6.0000")}]
    _, events = await poll_once(client, state, MAPPING, T0 + MINUTE, config=STOCK)
    assert products_of(events) == []
    puts = [r for r in sandbox.requests if r.method == "PUT" and r.path.endswith("/stock")]
    assert len(puts) == 1  # the one adjustment of the ERP's write
