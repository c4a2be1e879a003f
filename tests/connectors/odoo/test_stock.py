"""Odoo stock: a variant's levels per mapped warehouse, from its quants, and stock moves
reported though they leave the product's write_date alone."""
from __future__ import annotations

from decimal import Decimal

import httpx

from app.mapping import parse_mapping
from connectors.odoo.sandbox import OdooSandbox
from connectors.odoo.source import OdooSource
from connectors.odoo.stock import levels_by_variant
from tests.connectors.odoo.support import MAPPING, make_client, now
from tests.mapping.factories import example_data

STOCK, CUSTOMERS = 8, 5  # the seeded WH/Stock (warehouse 1) and Partners/Customers locations


def test_levels_sum_internal_quants_per_mapped_warehouse_and_report_empty_ones_as_0() -> None:
    quants = [{"product_id": [1, "A"], "location_id": [8, "WH/Stock"], "quantity": 4.0},
              {"product_id": [1, "A"], "location_id": [9, "WH/Stock/Shelf"], "quantity": 1.5},
              {"product_id": [1, "A"], "location_id": [20, "B/Stock"], "quantity": 7.0},
              {"product_id": [2, "B"], "location_id": [5, "Partners/Customers"], "quantity": 3.0}]
    locations = {8: 1, 9: 1, 20: 2, 21: 3}  # internal location -> warehouse; 5 is not internal
    levels = levels_by_variant(quants, locations, {1: "central", 3: "tienda"}, [1, 2])
    assert levels == {
        1: [{"warehouse": "central", "quantity": Decimal("5.5")},
            {"warehouse": "tienda", "quantity": Decimal(0)}],  # warehouse 2 is not mapped
        2: [{"warehouse": "central", "quantity": Decimal(0)},
            {"warehouse": "tienda", "quantity": Decimal(0)}]}


async def quant(sb: OdooSandbox, product: int, location: int, quantity: float) -> int:
    return await sb.orm.insert_raw("stock.quant", {"product_id": product, "location_id": location,
                                                   "quantity": quantity})


async def age(sb: OdooSandbox, model: str, rid: int) -> None:
    """Last written long ago: no poll's overlap window reads the record again."""
    record = await sb.orm.get(model, rid)
    assert record is not None
    await sb.orm.put(model, {**record, "write_date": "2020-01-01 00:00:00"})


async def test_products_carry_their_levels_and_a_stock_move_alone_reports_the_product(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    await age(sb, "product.template", 1)
    await age(sb, "product.product", 1)
    held = await quant(sb, 1, STOCK, 10.0)
    await quant(sb, 1, CUSTOMERS, 3.0)  # delivered: not on hand
    source = OdooSource(make_client(sb, http), MAPPING)
    state, events = await source.poll(None, now())
    stock = {e["payload"]["sku"]: e["payload"]["stock"] for e in events if e["entity"] == "product"}
    assert stock["ACE-5L"] == [{"warehouse": "central", "quantity": Decimal(10)}]
    assert stock["LIB-01"] == [{"warehouse": "central", "quantity": Decimal(0)}]
    assert stock["CONS-H"] == []  # a service: Odoo keeps no stock of it
    before = {e["event_id"] for e in events}

    # A delivery of 6: the quants move, the product's write_date does not.
    await sb.orm.write_one("stock.quant", held, {"quantity": 4.0}, internal=True)
    state, events = await source.poll(state, now())
    fresh = [e for e in events if e["event_id"] not in before]
    assert [(e["entity_key"], e["payload"]["stock"]) for e in fresh] == [
        ("product/odoo/1", [{"warehouse": "central", "quantity": Decimal(4)}])]


async def test_without_mapped_odoo_warehouses_no_stock_is_read(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    await quant(sb, 1, STOCK, 10.0)
    data = example_data()
    del data["systems"]["odoo"]["warehouses"]
    source = OdooSource(make_client(sb, http), parse_mapping(data))
    state, events = await source.poll(None, now())
    assert {e["payload"]["sku"]: e["payload"]["stock"] for e in events
            if e["entity"] == "product"}["ACE-5L"] == []
    assert "quant" not in state.entities
