"""Canonical stock -> PrestaShop quantity for sale: pure, no I/O."""
from __future__ import annotations

import pytest

from app.mapping import Unmappable
from connectors.prestashop.stock import (
    MAX_QUANTITY, NotSet, ShopStock, StockTarget, shop_stock, stock_record, stock_target,
)
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
    assert stock_record(StockTarget(1), [record(9, 2), own]) == own


def test_a_combinations_record_is_the_one_of_its_id_not_its_products() -> None:
    mine = record(12, 1, 5)
    records = [record(10, 1), record(11, 1, 4), mine, record(13, 2, 5)]
    assert stock_record(StockTarget(1, 5), records) == mine


@pytest.mark.parametrize("target, records, reason, redrive", [
    (StockTarget(1), [record(10, 1), record(11, 1, 4)], "sum of its combinations'", False),
    (StockTarget(1), [], "no stock_availables record", True),
    (StockTarget(1), [record(10, 1), record(11, 1, id_shop="2")], "which shop's quantity", True),
    (StockTarget(1), [record(10, 1, depends_on_stock="1")], "depends_on_stock=1", True),
    (StockTarget(1, 4), [record(10, 1), record(11, 1, 5)], "combination 4 of PrestaShop product "
     "1 has no stock_availables record", True),
    (StockTarget(1, 4), [record(11, 1, 4), record(12, 1, 4, id_shop="2")], "2 stock records",
     True),
    (StockTarget(1, 4), [record(10, 1), record(11, 1, 4, depends_on_stock="1")],
     "depends_on_stock=1", True),
])
def test_a_record_that_cannot_be_set_says_why(target: StockTarget, records: list, reason: str,
                                             redrive: bool) -> None:
    found = stock_record(target, records)
    assert isinstance(found, NotSet) and reason in found.reason, found
    assert found.redrive is redrive


def product(pid: int, reference: str) -> dict[str, str | int]:
    return {"id": pid, "reference": reference}


def combination(cid: int, pid: int, reference: str) -> dict[str, str | int]:
    return {"id": cid, "id_product": str(pid), "reference": reference}


def test_a_sku_is_a_products_or_a_combinations_reference() -> None:
    assert stock_target("TAL-001", [product(1, "TAL-001")], []) == StockTarget(1)
    assert stock_target("CAM-002", [], [combination(2, 3, "CAM-002")]) == StockTarget(3, 2)
    assert StockTarget(3, 2).target_id == "3-2" and StockTarget(1).target_id == "1"
    # The filter compares without case: only the exact reference counts.
    assert stock_target("cam-002", [product(4, "CAM-002")], [combination(2, 3, "CAM-002")]) \
        == NotSet(stock_target("cam-002", [], []).reason, redrive=False)


def test_a_sku_nobody_sells_is_routine() -> None:
    found = stock_target("GIR-500", [], [])
    assert isinstance(found, NotSet) and found.redrive is False
    assert "the shop does not sell it" in found.reason


@pytest.mark.parametrize("products, combinations, named", [
    ([product(1, "X"), product(2, "X")], [], "product 1, product 2"),
    ([], [combination(1, 3, "X"), combination(7, 4, "X")],
     "combination 1 of product 3, combination 7 of product 4"),
    ([product(1, "X")], [combination(2, 3, "X")], "product 1, combination 2 of product 3"),
])
def test_a_reference_several_records_share_waits_for_review(products: list, combinations: list,
                                                           named: str) -> None:
    found = stock_target("X", products, combinations)
    assert isinstance(found, NotSet) and found.redrive is True
    assert f"several PrestaShop records have reference 'X' ({named})" in found.reason
