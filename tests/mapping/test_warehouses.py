"""Warehouses in the mapping document: canonical codes, per-system maps, checks."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping import MappingInvalid, Unmappable, parse_mapping
from app.mapping.resolve import Resolver
from tests.mapping.factories import small_data

HOLDED_WH = "5f0c1a2b3c4d5e6f70819203"


def with_warehouses() -> dict[str, Any]:
    data = small_data()
    data["warehouses"] = {"central": "Almacén central", "tienda": {"name": "Tienda"}}
    data["systems"]["holded"]["warehouses"] = {HOLDED_WH: "central", "6f0c1a2b3c4d5e6f70819204": "tienda"}
    data["systems"]["odoo"] = {"warehouses": {1: "central", 2: "tienda"}}
    data["systems"]["business_central"] = {"stock_warehouse": "central"}
    return data


def issues_of(data: object) -> list[str]:
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(data, source="m.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_warehouses_map_both_ways_and_are_optional() -> None:
    mapping = parse_mapping(with_warehouses())
    assert mapping.warehouses["tienda"].name == "Tienda"
    assert mapping.systems["holded"].warehouses.to_system("central") == HOLDED_WH
    assert mapping.systems["odoo"].warehouses.to_canonical(2) == "tienda"
    assert mapping.systems["business_central"].stock_warehouse == "central"
    assert parse_mapping(small_data()).warehouses == {}


def test_odoo_warehouse_keys_are_record_ids() -> None:
    data = with_warehouses()
    data["systems"]["odoo"]["warehouses"] = {"WH": "central"}
    assert issues_of(data) == ["m.yaml: systems.odoo.warehouses.WH: got str 'WH' (expected an integer)"]


def test_a_warehouse_without_a_holded_warehouse_is_an_error() -> None:
    data = with_warehouses()
    del data["systems"]["holded"]["warehouses"]["6f0c1a2b3c4d5e6f70819204"]
    [issue] = issues_of(data)
    assert issue.startswith("m.yaml: warehouses.tienda: canonical warehouse 'tienda' has no "
                            "Holded warehouse")


def test_unknown_canonical_warehouses_are_reported() -> None:
    data = with_warehouses()
    data["systems"]["odoo"]["warehouses"][3] = "almacen_b"
    data["systems"]["business_central"]["stock_warehouse"] = "nowhere"
    paths = {i.split(":")[1].strip() for i in issues_of(data)}
    assert paths == {"systems.odoo.warehouses.3", "systems.business_central.stock_warehouse"}


def test_stock_warehouse_is_a_business_central_and_prestashop_setting_only() -> None:
    data = with_warehouses()
    data["systems"]["odoo"]["stock_warehouse"] = "central"
    [issue] = issues_of(data)
    assert ("'stock_warehouse' is a setting of the business_central and prestashop sections "
            "only") in issue


def test_prestashop_sells_from_a_canonical_warehouse() -> None:
    data = with_warehouses()
    data["systems"]["prestashop"] = {"stock_warehouse": "tienda"}
    assert parse_mapping(data).systems["prestashop"].stock_warehouse == "tienda"
    data["systems"]["prestashop"]["stock_warehouse"] = "almacen_b"
    [issue] = issues_of(data)
    assert "systems.prestashop.stock_warehouse" in issue and "almacen_b" in issue


def test_resolver_names_an_unmapped_warehouse() -> None:
    data = with_warehouses()
    data["warehouses"]["b"] = "B"
    data["systems"]["holded"]["warehouses"]["7f0c1a2b3c4d5e6f70819205"] = "b"
    mapping = parse_mapping(data)
    resolver = Resolver(mapping, "holded")
    assert resolver.code("warehouses", "b", "stock[0]") == "7f0c1a2b3c4d5e6f70819205"
    resolver.code("warehouses", "otro", "stock[1]")
    with pytest.raises(Unmappable, match=r"stock\[1\]: canonical warehouse 'otro' is not in mapping v1"):
        resolver.raise_if_any()
