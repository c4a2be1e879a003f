"""SAP B1 stock: an item's levels per mapped warehouse from its ItemWarehouseInfoCollection,
and the periodic sweep that reports a stock movement which left the item's update time alone."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.avro import codec
from app.mapping import MappingInvalid, Unmappable, parse_mapping
from connectors.base.polling import PollState
from connectors.sap_b1 import mapping as sapmap
from connectors.sap_b1 import stock
from connectors.sap_b1.sandbox import SapSandbox
from connectors.sap_b1.source import SapB1Source
from tests.connectors.sap_b1.support import MAPPING, FakeClock, make_client
from tests.mapping.factories import example_data

MADRID = ZoneInfo("Europe/Madrid")
FIVE_MINUTES = dt.timedelta(minutes=5)


def level(warehouse: str, units: int | str) -> dict[str, object]:
    return {"warehouse": warehouse, "quantity": Decimal(units)}


# ---- pure ----------------------------------------------------------------------------------
def test_levels_sum_the_mapped_warehouses_and_report_a_missing_row_as_0() -> None:
    item = {"ItemCode": "A1", "InventoryItem": "tYES", "ItemWarehouseInfoCollection": [
        {"WarehouseCode": "01", "InStock": 4}, {"WarehouseCode": "03", "InStock": Decimal("1.5")},
        {"WarehouseCode": "02", "InStock": 9}]}          # 02: not mapped, left out
    warehouses = {"01": "central", "03": "central", "04": "tienda"}
    assert stock.item_levels(item, warehouses) == (
        [level("central", "5.5"), level("tienda", 0)], [])


def test_services_and_a_mapping_without_sap_warehouses_report_no_stock() -> None:
    service = {"ItemCode": "S1", "InventoryItem": "tNO",
               "ItemWarehouseInfoCollection": [{"WarehouseCode": "01", "InStock": 3}]}
    assert stock.item_levels(service, {"01": "central"}) == ([], [])
    # no map: the collection is not even read (the source does not select it)
    assert stock.item_levels({"ItemCode": "A1", "InventoryItem": "tYES"}, {}) == ([], [])
    with pytest.raises(ValueError, match="ItemWarehouseInfoCollection"):
        stock.item_levels({"ItemCode": "A1", "InventoryItem": "tYES"}, {"01": "central"})


def test_the_product_carries_its_levels_and_a_bad_quantity_parks_it_with_the_reason() -> None:
    item = {"ItemCode": "A0001", "ItemName": "Tornillo", "SalesVATGroup": "R3",
            "InventoryItem": "tYES", "ItemWarehouseInfoCollection": [
                {"WarehouseCode": "01", "InStock": 12}, {"WarehouseCode": "02", "InStock": 3}]}
    product = sapmap.item_to_product(item, mapping=MAPPING)
    assert product["stock"] == [level("central", 12)]
    codec("Product").dumps(product)
    assert "stock" in sapmap.HELD_FIELDS["product"]  # a level changed alone is a change
    bad = {**item, "ItemWarehouseInfoCollection": [{"WarehouseCode": "01", "InStock": "n/a"}]}
    with pytest.raises(Unmappable) as caught:
        sapmap.item_to_product(bad, mapping=MAPPING)
    assert caught.value.reasons == [
        "ItemWarehouseInfoCollection: InStock 'n/a' of warehouse '01' is not a number"]


def test_the_sweep_memory_survives_the_poll_state_json_and_forgets_what_it_did_not_read() -> None:
    start = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    state = stock.noted(None, {"A1": "aa", "S1": "ss"})
    assert state.watermark is None and stock.sweep_due(state, start, FIVE_MINUTES)
    state = stock.after_sweep(start, {"A1": "bb", "A2": "cc"})
    state = PollState.from_json(state.to_json())  # as the poller keeps it between runs
    assert stock.remembered(state) == {"A1": "bb", "A2": "cc"}
    state = stock.noted(state, {"A2": "dd"})
    assert state.watermark == start and stock.remembered(state) == {"A1": "bb", "A2": "dd"}
    assert not stock.sweep_due(state, start + dt.timedelta(minutes=4), FIVE_MINUTES)
    assert stock.sweep_due(state, start + FIVE_MINUTES, FIVE_MINUTES)


def test_sap_warehouse_codes_in_the_mapping_must_be_quoted_text() -> None:
    data = example_data()
    data["systems"]["sap_b1"]["warehouses"] = {1: "central", "TOOLONG99": "central"}
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(data)
    text = str(caught.value)
    assert "systems.sap_b1.warehouses.1: got 1" in text  # YAML reads 01 unquoted as 1
    assert "systems.sap_b1.warehouses.TOOLONG99" in text
    data["systems"]["sap_b1"]["warehouses"] = {"01": "central"}
    assert stock.mapped_warehouses(parse_mapping(data)) == {"01": "central"}


# ---- against the sandbox -------------------------------------------------------------------
@pytest.fixture
def sandbox(clocked_sandbox: SapSandbox) -> SapSandbox:
    return clocked_sandbox  # stamps follow the test's clock (conftest.py)


def source(sandbox: SapSandbox, http: httpx.AsyncClient, **kwargs: object) -> SapB1Source:
    options = {"mapping": MAPPING, "stock_interval": FIVE_MINUTES, **kwargs}
    return SapB1Source(make_client(sandbox, http, page_size=2), **options)  # type: ignore[arg-type]


def sweeps(sandbox: SapSandbox) -> list[dict[str, list[str]]]:
    """The query of each page the stock sweep asked for."""
    queries = [parse_qs(r.query) for r in sandbox.requests if r.path.endswith("/Items")]
    return [q for q in queries if q.get("$filter") == [stock.SWEEP_FILTER]]


async def test_a_stock_movement_alone_is_reported_once_by_the_next_sweep(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    src = source(sandbox, http)
    # a minute after the seed: later polls' overlap windows do not read the items again
    state, events = await src.poll(None, clock.advance(60))
    levels = {e["source_id"]: e["payload"]["stock"] for e in events if e["entity"] == "product"}
    assert levels == {"A0001": [level("central", 120)],   # 15 more in 02, which is not mapped
                      "A0002": [level("central", 48)], "S0001": []}
    items = [parse_qs(r.query) for r in sandbox.requests if r.path.endswith("/Items")]
    assert all("ItemWarehouseInfoCollection" in q["$select"][0] for q in items)
    assert sweeps(sandbox) and all("tYES" in q["$filter"][0] for q in sweeps(sandbox))

    before = await sandbox.get("Items", "A0001")
    await sandbox.move_stock("A0001", "01", -5)   # a delivery
    moved = await sandbox.get("Items", "A0001")
    assert (moved["UpdateDate"], moved["UpdateTime"], moved["DataVersion"]) == (
        before["UpdateDate"], before["UpdateTime"], before["DataVersion"])

    read = len(sweeps(sandbox))
    state, events = await src.poll(state, clock.advance(60))   # no sweep due yet
    assert events == [] and len(sweeps(sandbox)) == read
    state, events = await src.poll(state, clock.advance(240))
    assert [(e["entity_key"], e["payload"]["stock"]) for e in events] == [
        ("product/sap_b1/A0001", [level("central", 115)])]
    assert events[0]["source_ts"] == dt.datetime.combine(
        dt.date.fromisoformat(before["UpdateDate"]),
        dt.time.fromisoformat(before["UpdateTime"]), tzinfo=MADRID)
    state, events = await src.poll(state, clock.advance(300))  # swept again: nothing changed
    assert events == [] and len(sweeps(sandbox)) > read + 1


async def test_a_movement_in_an_unmapped_warehouse_reports_nothing(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    src = source(sandbox, http, stock_interval=dt.timedelta(0))  # a sweep at every poll
    state, _ = await src.poll(None, clock.advance(1))
    await sandbox.move_stock("A0001", "02", 7)
    state, events = await src.poll(state, clock.advance(10))
    assert events == []
    await sandbox.move_stock("A0002", "01", 2)
    _, events = await src.poll(state, clock.advance(10))
    assert [(e["source_id"], e["payload"]["stock"]) for e in events] == [
        ("A0002", [level("central", 50)])]


async def test_an_item_changed_and_moved_in_one_run_is_reported_once(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    src = source(sandbox, http, stock_interval=dt.timedelta(0))
    state, _ = await src.poll(None, clock.advance(60))
    clock.advance(30)
    await sandbox.patch("Items", "A0002", {"ItemName": "Aceite de girasol 1 L (PET)"})
    await sandbox.move_stock("A0002", "01", -8)
    _, events = await src.poll(state, clock.advance(30))
    assert [(e["source_id"], e["payload"]["name"], e["payload"]["stock"]) for e in events] == [
        ("A0002", "Aceite de girasol 1 L (PET)", [level("central", 40)])]


async def test_an_unmappable_item_is_parked_once_not_at_every_sweep(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    await sandbox.create("Items", {"ItemCode": "Z0001", "ItemName": "Sin IVA mapeado",
                                   "SalesVATGroup": "ZZ"})
    await sandbox.move_stock("Z0001", "01", 3)
    src = source(sandbox, http, stock_interval=dt.timedelta(0))
    state, _ = await src.poll(None, clock.advance(60))
    state, _ = await src.poll(state, clock.advance(60))
    assert [p.entity_key for p in src.parked] == ["product/sap_b1/Z0001"]


async def test_without_mapped_sap_warehouses_no_stock_is_read(
        sandbox: SapSandbox, http: httpx.AsyncClient, clock: FakeClock) -> None:
    data = example_data()
    del data["systems"]["sap_b1"]["warehouses"]
    src = source(sandbox, http, mapping=parse_mapping(data))
    state, events = await src.poll(None, clock.advance(1))
    assert {e["source_id"]: e["payload"]["stock"] for e in events if e["entity"] == "product"
            } == {"A0001": [], "A0002": [], "S0001": []}
    items = [parse_qs(r.query) for r in sandbox.requests if r.path.endswith("/Items")]
    assert items and not any("ItemWarehouseInfoCollection" in q["$select"][0] for q in items)
    assert sweeps(sandbox) == [] and stock.SWEEP not in state
