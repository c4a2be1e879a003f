"""Canonical stock -> Shopify available quantities per location: the pure half."""
from __future__ import annotations

import pytest

from app.mapping import Unmappable, parse_mapping
from app.mapping.errors import MappingInvalid
from app.mapping.yamlload import safe_load
from connectors.shopify.stock import available_by_location, sku_query, stock_to_locations
from tests.connectors.shopify.support import ROOT, stock_mapping
from tests.support.products import product_payload

CENTRAL, OTHER = "gid://shopify/Location/7001", "gid://shopify/Location/7002"


def test_each_mapped_warehouse_becomes_its_locations_whole_quantity() -> None:
    levels, left_out = stock_to_locations(
        product_payload("A-1", ("central", "7.0000"), ("taller", "3")),
        mapping=stock_mapping(CENTRAL, taller=OTHER))
    assert {(l.location_id, l.quantity) for l in levels} == {(CENTRAL, 7), (OTHER, 3)}
    assert left_out == []


def test_warehouses_at_one_location_are_summed() -> None:
    levels, _ = stock_to_locations(product_payload("A-1", ("central", "7"), ("taller", "3")),
                                   mapping=stock_mapping(CENTRAL, taller=CENTRAL))
    assert [(l.location_id, l.canonical, l.quantity) for l in levels] == [
        (CENTRAL, ("central", "taller"), 10)]


def test_a_warehouse_without_location_is_left_out_and_named() -> None:
    levels, left_out = stock_to_locations(product_payload("A-1", ("central", "7"), ("taller", "3")),
                                          mapping=stock_mapping(CENTRAL, taller=""))
    assert [(l.location_id, l.quantity) for l in levels] == [(CENTRAL, 7)]
    assert left_out == ["taller"]


def test_levels_of_which_none_has_a_location_park_with_what_to_add() -> None:
    with pytest.raises(Unmappable) as caught:
        stock_to_locations(product_payload("A-1", ("taller", "3")),
                           mapping=stock_mapping(CENTRAL, taller=""))
    assert "no Shopify location" in str(caught.value) and "'taller'" in str(caught.value)


@pytest.mark.parametrize("quantity, words", [("2.5", "not a whole number"),
                                             ("-1", "negative"),
                                             ("1000000001", "exceed Shopify's maximum")])
def test_a_quantity_shopify_cannot_take_parks_the_product(quantity: str, words: str) -> None:
    with pytest.raises(Unmappable) as caught:
        stock_to_locations(product_payload("A-1", ("central", quantity)),
                           mapping=stock_mapping(CENTRAL))
    assert words in str(caught.value)


def test_a_shopify_warehouse_key_must_be_a_location_gid() -> None:
    data = safe_load((ROOT / "docs" / "examples" / "mapping-es.yaml").read_text(encoding="utf-8"))
    data["systems"]["shopify"]["warehouses"] = {"7001": "central"}
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(data, source="m.yaml")
    assert "gid://shopify/Location/<id>" in str(caught.value)


def test_the_sku_search_quotes_the_sku_and_levels_read_by_location() -> None:
    assert sku_query('A "1"') == 'sku:"A \\"1\\""'
    item = {"inventoryLevels": {"nodes": [
        {"location": {"id": CENTRAL}, "quantities": [{"name": "available", "quantity": 4}]}]}}
    assert available_by_location(item) == {CENTRAL: 4}
