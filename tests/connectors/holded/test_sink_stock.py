"""Stock levels written by the Holded sink, against the in-process sandbox (real HTTP)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from app.mapping import Unmappable, parse_mapping
from connectors.holded.sandbox import SandboxServer
from connectors.holded.sink import HoldedSink, MemoryLedger, SinkPolicy
from connectors.holded.sink_stock import StockLevel, stock_levels
from tests.connectors.holded.sink_support import make_client, make_sink, product, product_command
from tests.mapping.factories import example_data

CENTRAL = "64a1f0c2e4b0a10000000e01"  # the sandbox's seeded warehouse, mapped by the example
TIENDA = "64a1f0c2e4b0a10000000e02"
INV = "/api/invoicing/v1"


def mapping_with_tienda():  # type: ignore[no-untyped-def]
    data = example_data()
    data["warehouses"]["tienda"] = "Tienda"
    data["systems"]["holded"]["warehouses"][TIENDA] = "tienda"
    return parse_mapping(data, source="m.yaml")


def stocked(n: int, version: int = 1, **levels: str) -> dict[str, Any]:
    cmd = product_command(n, version=version)
    cmd["payload"]["stock"] = [{"warehouse": w, "quantity": D(q)} for w, q in levels.items()]
    return cmd


@pytest.fixture
async def sink(sandbox: SandboxServer, http: httpx.AsyncClient) -> HoldedSink:
    await sandbox.insert("warehouses", [{"id": TIENDA, "name": "Tienda", "default": False}])
    return make_sink(make_client(sandbox, http), mapping_with_tienda())


async def level(sandbox: SandboxServer, sku: str, warehouse: str) -> Any:
    [stored] = await sandbox.all("products", sku=sku)
    return stored.get("stockByWarehouse", {}).get(warehouse, 0)


def stock_puts(sandbox: SandboxServer) -> list[Any]:
    return [r for r in sandbox.requests if r.method == "PUT" and r.path.endswith("/stock")]


# -- mapping (pure) ---------------------------------------------------------------------
def test_levels_map_to_holded_warehouses_and_park_what_cannot_be_written() -> None:
    mapping = mapping_with_tienda()
    payload = product(1) | {"stock": [{"warehouse": "central", "quantity": D("12")},
                                      {"warehouse": "tienda", "quantity": D("-2")}]}
    assert stock_levels(payload, mapping=mapping) == [
        StockLevel(CENTRAL, ("central",), D(12)), StockLevel(TIENDA, ("tienda",), D(-2))]
    assert stock_levels(product(1), mapping=mapping) == []
    payload["stock"] = [{"warehouse": "almacen_b", "quantity": D(1)},
                        {"warehouse": "central", "quantity": D("2.5")}]
    with pytest.raises(Unmappable) as caught:
        stock_levels(payload, mapping=mapping)
    assert caught.value.reasons == [
        "stock[0]: canonical warehouse 'almacen_b' is not in mapping v3",
        "stock[1]: quantity 2.5 in 'central' is not a whole number of units (Holded's stock "
        "write is only known to take whole units)"]


# -- the sink against the sandbox ----------------------------------------------------------
async def test_levels_reach_each_warehouse_and_a_new_level_sends_the_difference(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    outcome = await sink.execute(stocked(1, central="12", tienda="3"))
    assert (outcome.result["status"], outcome.result["reason"]) == ("succeeded", None)
    assert [await level(sandbox, "SKU-1", w) for w in (CENTRAL, TIENDA)] == [12, 3]
    assert (await sink.execute(stocked(1, version=2, central="9", tienda="3"))).result["status"] == "succeeded"
    assert [await level(sandbox, "SKU-1", w) for w in (CENTRAL, TIENDA)] == [9, 3]
    assert len(stock_puts(sandbox)) == 3  # 12 and 3, then only central's -3: tienda was right already


async def test_a_redelivered_command_calls_nothing_and_a_new_version_at_the_same_level_writes_no_stock(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    cmd = stocked(1, central="5")
    await sink.execute(cmd)
    before = len(sandbox.requests)
    assert (await sink.execute(cmd)).result["status"] == "already_done"
    assert len(sandbox.requests) == before
    assert (await sink.execute(stocked(1, version=2, central="5"))).result["status"] == "succeeded"
    assert len(stock_puts(sandbox)) == 1 and await level(sandbox, "SKU-1", CENTRAL) == 5


async def test_an_unmapped_warehouse_parks_before_any_call(sink: HoldedSink, sandbox: SandboxServer) -> None:
    before = len(sandbox.requests)
    outcome = await sink.execute(stocked(1, almacen_b="4"))
    assert outcome.result["status"] == "parked" and outcome.parked_kind == "mapping"
    assert "canonical warehouse 'almacen_b' is not in mapping v3" in outcome.result["reason"]
    assert len(sandbox.requests) == before and await sandbox.count("products") == 0


async def test_a_lost_stock_response_is_read_again_not_added_twice(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    sandbox.faults.lose_path, sandbox.faults.lose_next_writes = "/stock", 1
    outcome = await sink.execute(stocked(1, central="12"))
    assert outcome.result["status"] == "succeeded"
    assert sandbox.faults.lose_next_writes == 0  # the fault did fire
    assert [r.outcome for r in stock_puts(sandbox)] == ["dropped"]
    assert await level(sandbox, "SKU-1", CENTRAL) == 12


async def test_a_command_failed_on_a_lost_stock_response_is_safe_to_run_again(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    """The ledger does not hold a failed command: its retry reads the level that did commit."""
    await sandbox.insert("warehouses", [{"id": TIENDA, "name": "Tienda", "default": False}])
    ledger = MemoryLedger()
    mapping = mapping_with_tienda()
    one_round = HoldedSink(make_client(sandbox, http), lambda: mapping, ledger,
                           policy=SinkPolicy(write_rounds=1, settle_seconds=0.0))
    sandbox.faults.lose_path, sandbox.faults.lose_next_writes = "/stock", 1
    cmd = stocked(1, central="12", tienda="1")
    first = (await one_round.execute(cmd)).result
    assert first["status"] == "failed"
    assert [await level(sandbox, "SKU-1", w) for w in (CENTRAL, TIENDA)] == [12, 0]  # committed
    retried = await make_sink(make_client(sandbox, http), mapping_with_tienda(), ledger).execute(cmd)
    assert retried.result["status"] == "succeeded"
    assert [await level(sandbox, "SKU-1", w) for w in (CENTRAL, TIENDA)] == [12, 1]
    assert [r.outcome for r in stock_puts(sandbox)] == ["dropped", "response"]  # tienda only


async def test_levels_that_do_not_add_up_to_the_product_total_are_not_adjusted(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    """A level missing from the warehouses' lists would read as 0 and the units be added twice."""
    await sink.execute(stocked(1, central="4"))
    [stored] = await sandbox.all("products", sku="SKU-1")
    stored["stockByWarehouse"]["5f0000000000000000000999"] = 6  # a warehouse no list shows
    await sandbox.state.store.put("products", stored)
    outcome = await sink.execute(stocked(1, version=2, central="10"))
    assert outcome.result["status"] == "failed"
    assert "add up to 4, its own stock total is 10" in outcome.result["reason"]
    assert len(stock_puts(sandbox)) == 1 and await level(sandbox, "SKU-1", CENTRAL) == 4


async def test_a_fractional_level_in_holded_is_not_adjusted(sink: HoldedSink, sandbox: SandboxServer) -> None:
    await sink.execute(stocked(1, central="4"))
    [stored] = await sandbox.all("products", sku="SKU-1")
    stored["stockByWarehouse"][CENTRAL] = 2.5  # e.g. typed in Holded's app
    await sandbox.state.store.put("products", stored)
    outcome = await sink.execute(stocked(1, version=2, central="5"))
    assert outcome.result["status"] == "failed" and "not a whole number" in outcome.result["reason"]
    assert await level(sandbox, "SKU-1", CENTRAL) == 2.5


async def test_a_mapped_warehouse_holded_does_not_have_fails_before_any_adjustment(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    sink = make_sink(make_client(sandbox, http), mapping_with_tienda())  # tienda not in Holded
    outcome = await sink.execute(stocked(1, central="2", tienda="1"))
    assert outcome.result["status"] == "failed"
    assert f"Holded has no warehouse {TIENDA}" in outcome.result["reason"]
    assert stock_puts(sandbox) == []
