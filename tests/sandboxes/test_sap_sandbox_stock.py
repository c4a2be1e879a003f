"""The SAP sandbox's item stock over plain HTTP: ItemWarehouseInfoCollection rows per
warehouse with read-only quantities, Warehouses, and inventory postings that leave the item's
update time alone."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.sap_b1.sandbox import COMPANY_DB, PASSWORD, USER, SapSandbox, start_sap_sandbox
from connectors.sap_b1.sandbox_errors import SapError


@pytest.fixture
async def sb() -> AsyncIterator[SapSandbox]:
    server = await start_sap_sandbox(port=0)
    yield server
    await server.stop()


@pytest.fixture
async def sl(sb: SapSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sb.url + "/") as client:
        login = {"CompanyDB": COMPANY_DB, "UserName": USER, "Password": PASSWORD}
        assert (await client.post("Login", json=login)).status_code == 200
        yield client


def error_of(response: httpx.Response) -> tuple[int, Any, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]["value"]


async def test_items_show_their_stock_per_warehouse_and_select_keeps_it_small(
        sl: httpx.AsyncClient) -> None:
    warehouses = (await sl.get("Warehouses")).json()["value"]
    assert [w["WarehouseCode"] for w in warehouses] == ["01", "02"]
    body = (await sl.get("Items", params={
        "$select": "ItemCode,ItemWarehouseInfoCollection",
        "$filter": "InventoryItem eq 'tYES'"})).json()["value"]
    assert [set(i) for i in body] == [{"ItemCode", "ItemWarehouseInfoCollection", "odata.etag"}] * 2
    rows = {r["WarehouseCode"]: r["InStock"] for r in body[0]["ItemWarehouseInfoCollection"]}
    assert (body[0]["ItemCode"], rows) == ("A0001", {"01": 120, "02": 15})


async def test_quantities_are_read_only_and_warehouses_must_exist(
        sb: SapSandbox, sl: httpx.AsyncClient) -> None:
    item = {"ItemCode": "N1", "ItemName": "Nuevo"}
    for rows, code in (([{"WarehouseCode": "01", "InStock": 5}], -5006),
                       ([{"WarehouseCode": "99"}], -5002),
                       ([{"WarehouseCode": "01"}, {"WarehouseCode": "01"}], -5002),
                       ([{"WarehouseCode": "01", "Bogus": 1}], -1000)):
        answer = await sl.post("Items", json={**item, "ItemWarehouseInfoCollection": rows})
        assert error_of(answer)[:2] == (400, code), rows
    created = await sl.post("Items", json={**item, "ItemWarehouseInfoCollection": [
        {"WarehouseCode": "02"}]})
    assert created.status_code == 201
    assert [(r["WarehouseCode"], r["InStock"]) for r in
            created.json()["ItemWarehouseInfoCollection"]] == [("02", 0)]
    default = await sl.post("Items", json={"ItemCode": "N2"})  # every warehouse, at 0
    assert [r["WarehouseCode"] for r in default.json()["ItemWarehouseInfoCollection"]] == [
        "01", "02"]
    patch = await sl.patch("Items('N1')", headers={"If-Match": created.json()["odata.etag"]},
                           json={"ItemWarehouseInfoCollection": [{"WarehouseCode": "01"}]})
    assert error_of(patch)[0] == 400
    assert (await sb.get("Items", "N1"))["DataVersion"] == 1


async def test_a_posting_moves_in_stock_but_not_the_items_update_time(sb: SapSandbox) -> None:
    before = await sb.get("Items", "A0002")
    await sb.move_stock("A0002", "02", 6)   # A0002 had no stock there: the row is kept at 6
    after = await sb.get("Items", "A0002")
    assert {r["WarehouseCode"]: r["InStock"] for r in after["ItemWarehouseInfoCollection"]} == {
        "01": 48, "02": 6}
    assert [after[k] for k in ("UpdateDate", "UpdateTime", "DataVersion")] == [
        before[k] for k in ("UpdateDate", "UpdateTime", "DataVersion")]
    for item, warehouse, units in (("A0002", "02", -7), ("S0001", "01", 1), ("A0002", "99", 1)):
        with pytest.raises(SapError) as caught:
            await sb.move_stock(item, warehouse, units)
        assert caught.value.status == 400, (item, warehouse, units)
    assert (await sb.get("Items", "A0002"))["ItemWarehouseInfoCollection"] == \
        after["ItemWarehouseInfoCollection"]   # a refused posting changed nothing
