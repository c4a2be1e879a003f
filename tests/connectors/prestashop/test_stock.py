"""Canonical stock -> PrestaShop quantity for sale: pure, no I/O."""
from __future__ import annotations

import pytest

from app.mapping import Unmappable
from connectors.prestashop.stock import MAX_QUANTITY, ShopStock, own_stock_record, shop_stock
from tests.connectors.prestashop.support import stock_mapping
from tests.support.products import product_payload

CENTRAL = stock_mapping("central", taller=True)


def test_the_shop_sells_the_level_of_its_stock_warehouse_only() -> None:
    product = product_payload("A", ("central", "7.0000"), ("taller", "30"))
    assert shop_stock(product, mapping=CENTRAL) == ShopStock("central", 7, ("taller",))
    assert shop_stock(product, mapping=stock_mapping("taller", taller=True)) == \
        ShopStock("taller", 30, ("central",))


def test_a_product_without_levels_writes_nothing_not_zero() -> None:
    assert shop_stock(product_payload("A"), mapping=CENTRAL) is None
    assert shop_stock(product_payload("A"), mapping=stock_mapping(None)) is None


def test_which_warehouse_the_shop_sells_from_is_not_guessed() -> None:
    with pytest.raises(Unmappable, match="no systems.prestashop.stock_warehouse") as caught:
        shop_stock(product_payload("A", ("central", "3")), mapping=stock_mapping(None))
    assert caught.value.mapping_version == stock_mapping(None).version
    with pytest.raises(Unmappable, match="no level in 'central'.*only in 'taller'"):
        shop_stock(product_payload("A", ("taller", "3")), mapping=CENTRAL)


@pytest.mark.parametrize("quantity, reason", [
    ("1.5", "not a whole number"),
    ("-2", "negative"),
    (str(MAX_QUANTITY + 1), "exceed PrestaShop's maximum"),
])
def test_a_level_the_shop_cannot_show_is_refused_with_its_reason(quantity: str, reason: str) -> None:
    found = shop_stock(product_payload("A", ("central", quantity)), mapping=CENTRAL)
    assert found is not None and len(found.refused) == 1 and reason in found.refused[0]
    assert "stock[central]" in found.refused[0]


def test_a_bad_level_in_a_warehouse_the_shop_does_not_sell_from_is_no_reason() -> None:
    product = product_payload("A", ("central", "4"), ("taller", "0.5"))
    assert shop_stock(product, mapping=CENTRAL) == ShopStock("central", 4, ("taller",))


def record(rid: int, product: int, attribute: int = 0, **over: str) -> dict[str, str | int]:
    return {"id": rid, "id_product": str(product), "id_product_attribute": str(attribute),
            "id_shop": "1", "id_shop_group": "0", "quantity": "5", "depends_on_stock": "0",
            "out_of_stock": "2", **over}


def test_the_products_own_record_is_the_one_set() -> None:
    own = record(10, 1)
    assert own_stock_record(1, [record(9, 2), own]) == own


@pytest.mark.parametrize("records, reason", [
    ([record(10, 1), record(11, 1, 4)], "combination stock record"),
    ([], "no stock_availables record"),
    ([record(10, 1), record(11, 1, id_shop="2")], "which shop's quantity"),
    ([record(10, 1, depends_on_stock="1")], "depends_on_stock=1"),
])
def test_a_record_that_cannot_be_set_says_why(records: list, reason: str) -> None:
    found = own_stock_record(1, records)
    assert isinstance(found, str) and reason in found
