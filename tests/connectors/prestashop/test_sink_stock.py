"""PrestaShopSink with write_stock against the sandbox: a product's level in the stock
warehouse becomes the quantity for sale of the product with its SKU, exactly, whatever is lost
or retried; what cannot be written is parked with its reason."""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.mapping import Mapping
from connectors.base.contracts import MemoryLedger, SinkOutcome
from connectors.base.errors import RetryableError
from connectors.prestashop.sandbox import PrestaShopSandbox, start_prestashop_sandbox
from connectors.prestashop.sink import PrestaShopSink
from connectors.prestashop.source import PrestaShopSource
from tests.connectors.prestashop.support import command, make_client, stock_mapping
from tests.support.products import product_payload

CENTRAL = stock_mapping("central", taller=True)


@pytest.fixture
async def sb() -> AsyncIterator[PrestaShopSandbox]:
    server = await start_prestashop_sandbox(port=0)
    yield server
    await server.stop()


def sink(sb: PrestaShopSandbox, http: httpx.AsyncClient, ledger: MemoryLedger | None = None,
         mapping: Mapping = CENTRAL, write_stock: bool = True) -> PrestaShopSink:
    return PrestaShopSink(make_client(sb, http), mapping, ledger or MemoryLedger(),
                          write_stock=write_stock)


def stock_command(sku: str | None, *levels: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return command("product", "product/holded/64a1f0c2e4b0a10000000f01",
                   product_payload(sku, *levels), **extra)


async def quantity(sb: PrestaShopSandbox, record_id: int) -> str:
    return (await sb.store.get("stock_availables", record_id))["quantity"]  # type: ignore[index]


def puts(sb: PrestaShopSandbox) -> list[str | None]:
    return [r.outcome for r in sb.requests if r.method == "PUT"]


async def test_the_level_becomes_the_skus_quantity_for_sale(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sb, http).execute(
        stock_command("ACE-002", ("central", "95.0000"), ("taller", "40")))).result
    assert outcome["status"] == "succeeded" and outcome["target_id"] == "2", outcome
    assert "'taller' not counted" in outcome["reason"]
    assert await quantity(sb, 2) == "95"
    assert await quantity(sb, 1) == "14"  # other products untouched
    record = await sb.store.get("stock_availables", 2)
    assert record is not None and (record["id_shop"], record["out_of_stock"]) == ("1", "2")


async def test_without_write_stock_products_are_parked_untouched(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sb, http, write_stock=False).execute(
        stock_command("ACE-002", ("central", "95")))).result
    assert outcome["status"] == "parked" and "with write_stock" in outcome["reason"]
    assert sb.requests == []


async def test_a_product_without_levels_writes_nothing(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    for mapping in (CENTRAL, stock_mapping(None)):
        outcome = (await sink(sb, http, mapping=mapping).execute(stock_command("ACE-002"))).result
        assert outcome["status"] == "succeeded" and "no stock levels" in outcome["reason"]
    assert sb.requests == [] and await quantity(sb, 2) == "120"


async def test_a_quantity_the_shop_already_holds_costs_no_write(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sb, http).execute(stock_command("TAL-001", ("central", "14")))).result
    assert outcome["status"] == "succeeded" and "already holds 14" in outcome["reason"]
    assert puts(sb) == []


async def test_a_put_whose_answer_was_lost_is_repeated_to_the_same_number(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    sb.faults.lose_next_writes = 1  # the PUT commits, its answer never arrives
    outcome = (await sink(sb, http).execute(stock_command("ACE-002", ("central", "9")))).result
    assert outcome["status"] == "succeeded"
    assert puts(sb) == ["dropped", "response"] and await quantity(sb, 2) == "9"


async def test_a_redelivery_after_every_answer_was_lost_finds_it_written(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    ledger = MemoryLedger()
    writer = sink(sb, http, ledger)
    cmd = stock_command("ACE-002", ("central", "9"))
    sb.faults.lose_next_writes = 3  # every attempt of the client (support: 3)
    with pytest.raises(RetryableError):
        await writer.execute(cmd)
    assert await quantity(sb, 2) == "9"
    again = (await writer.execute(cmd)).result  # the agent's redelivery
    assert again["status"] == "succeeded" and "already holds 9" in again["reason"]
    assert puts(sb) == ["dropped"] * 3 and ledger.get(cmd["command_id"]) == again
    assert (await writer.execute(cmd)).result["status"] == "already_done"


async def park(sb: PrestaShopSandbox, http: httpx.AsyncClient, cmd: dict[str, Any],
               mapping: Mapping = CENTRAL) -> SinkOutcome:
    outcome = await sink(sb, http, mapping=mapping).execute(cmd)
    assert outcome.result["status"] == "parked", outcome.result
    assert puts(sb) == [] and await quantity(sb, 1) == "14" and await quantity(sb, 2) == "120"
    return outcome


async def test_a_sku_the_shop_does_not_sell_is_parked_without_redrive(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = await park(sb, http, stock_command("GIR-500", ("central", "3")))
    assert "the shop does not sell it" in outcome.result["reason"]
    assert outcome.redrive is False  # routine: no parked-for-review alert


async def test_a_duplicated_sku_waits_for_review(sb: PrestaShopSandbox,
                                                 http: httpx.AsyncClient) -> None:
    await sb.store.insert("products", {"reference": "ACE-002", "active": "1", "is_virtual": "0"})
    outcome = await park(sb, http, stock_command("ACE-002", ("central", "3")))
    assert ("several PrestaShop records have reference 'ACE-002' (product 2, product 4)"
            in outcome.result["reason"])
    assert outcome.redrive is True and outcome.parked_kind == "review"


@pytest.mark.parametrize("level, reason", [("2.5", "not a whole number"), ("-4", "negative")])
async def test_a_fractional_or_negative_quantity_waits_for_review(
        sb: PrestaShopSandbox, http: httpx.AsyncClient, level: str, reason: str) -> None:
    outcome = await park(sb, http, stock_command("ACE-002", ("central", level)))
    assert reason in outcome.result["reason"] and "stock[central]" in outcome.result["reason"]
    assert outcome.redrive is True and outcome.parked_kind == "review"
    assert sb.requests == []  # decided before any call


async def test_a_mapping_without_the_stock_warehouse_parks_for_the_mapping(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = await park(sb, http, stock_command("ACE-002", ("central", "3")),
                         mapping=stock_mapping(None))
    assert "no systems.prestashop.stock_warehouse" in outcome.result["reason"]
    assert outcome.parked_kind == "mapping" and outcome.redrive is True


async def test_a_product_with_combinations_or_tied_to_physical_stock_is_not_set(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    await sb.store.patch("stock_availables", 1, {"depends_on_stock": "1"})
    tied = await park(sb, http, stock_command("TAL-001", ("central", "3")))
    assert "depends_on_stock=1" in tied.result["reason"] and tied.result["target_id"] == "1"
    await sb.store.insert("stock_availables", {"id_product": "2", "id_product_attribute": "7",
                                               "id_shop": "1", "id_shop_group": "0",
                                               "quantity": "120", "depends_on_stock": "0",
                                               "out_of_stock": "2"})
    combined = await park(sb, http, stock_command("ACE-002", ("central", "3")))
    assert "combination" in combined.result["reason"]


async def test_a_deleted_product_is_parked(sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = await park(sb, http, stock_command("ACE-002", ("central", "3"), op="delete"))
    assert "deleted product" in outcome.result["reason"]


# ---- combinations: the seeded shirt, product 3 (own record 3: 12 units) in sizes CAM-001,
# CAM-002 and CAM-003 (combinations 1-3, records 4-6: 4, 6 and 2 units) ------------------------
async def quantities(sb: PrestaShopSandbox) -> list[str]:
    return [r["quantity"] for r in await sb.store.all("stock_availables")]


SEEDED = ["14", "120", "12", "4", "6", "2"]


async def test_a_combinations_reference_gets_the_level_and_its_product_the_sum(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sb, http).execute(stock_command("CAM-002", ("central", "9")))).result
    assert outcome["status"] == "succeeded" and outcome["target_id"] == "3-2", outcome
    assert await quantities(sb) == ["14", "120", "15", "4", "9", "2"]  # PrestaShop's sum
    # Its own record, PUT whole (shop as read) and read back.
    written = [(r.method, r.path) for r in sb.requests if r.path.startswith("/api/stock_av")]
    assert written[-2:] == [("PUT", "/api/stock_availables/5"), ("GET", "/api/stock_availables/5")]
    record = await sb.store.get("stock_availables", 5)
    assert record is not None and (record["id_product"], record["id_product_attribute"],
                                   record["id_shop"]) == ("3", "2", "1")


async def test_a_combinations_level_already_held_costs_no_write(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = (await sink(sb, http).execute(stock_command("CAM-001", ("central", "4")))).result
    assert outcome["status"] == "succeeded" and "already holds 4" in outcome["reason"]
    assert outcome["target_id"] == "3-1" and puts(sb) == [] and await quantities(sb) == SEEDED


async def test_a_combination_tied_to_physical_stock_is_not_set(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    await sb.store.patch("stock_availables", 6, {"depends_on_stock": "1"})
    outcome = (await sink(sb, http).execute(stock_command("CAM-003", ("central", "7")))).result
    assert outcome["status"] == "parked" and "depends_on_stock=1" in outcome["reason"]
    assert "combination 3 of PrestaShop product 3" in outcome["reason"]
    assert puts(sb) == [] and await quantities(sb) == SEEDED


async def test_a_product_with_combinations_is_not_set_and_raises_no_alert(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    outcome = await sink(sb, http).execute(stock_command("CAM", ("central", "30")))
    assert outcome.result["status"] == "parked" and outcome.result["target_id"] == "3"
    assert "sum of its combinations'" in outcome.result["reason"]
    assert outcome.redrive is False  # its combinations' references are what the shop sells
    assert puts(sb) == [] and await quantities(sb) == SEEDED


async def test_a_reference_of_a_product_and_a_combination_waits_for_review(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    await sb.store.patch("combinations", 1, {"reference": "ACE-002"})
    outcome = await sink(sb, http).execute(stock_command("ACE-002", ("central", "3")))
    assert outcome.result["status"] == "parked" and outcome.redrive is True
    assert ("several PrestaShop records have reference 'ACE-002' (product 2, combination 1 of "
            "product 3)") in outcome.result["reason"]
    assert puts(sb) == [] and await quantities(sb) == SEEDED


async def test_a_combination_lost_answer_and_redelivery_leave_one_number(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    ledger = MemoryLedger()
    cmd = stock_command("CAM-001", ("central", "11"))
    sb.faults.lose_next_writes = 3
    with pytest.raises(RetryableError):
        await sink(sb, http, ledger).execute(cmd)
    again = (await sink(sb, http, ledger).execute(cmd)).result
    assert again["status"] == "succeeded" and "already holds 11" in again["reason"]
    assert puts(sb) == ["dropped"] * 3 and await quantities(sb) == [
        "14", "120", "19", "11", "6", "2"]


async def test_a_quantity_that_does_not_read_back_is_not_reported_written(
        sb: PrestaShopSandbox) -> None:
    async def sale(response: httpx.Response) -> None:  # one unit sold right after our PUT
        if response.request.method == "PUT":
            await sb.store.patch("stock_availables", 4, {"quantity": "6"})

    async with httpx.AsyncClient(timeout=10, event_hooks={"response": [sale]}) as http:
        outcome = await sink(sb, http).execute(stock_command("CAM-001", ("central", "7")))
    assert outcome.result["status"] == "parked" and outcome.redrive is True
    assert outcome.result["target_id"] == "3-1"
    assert "sent quantity 7" in outcome.result["reason"]
    assert "PrestaShop holds 6 when read back" in outcome.result["reason"]


async def test_a_written_combination_does_not_come_back_from_the_shop(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    """No ping-pong: the source reports products, not combinations, and no stock; the
    product whose combination changed comes back unchanged if at all (same event)."""
    source = PrestaShopSource(make_client(sb, http), CENTRAL)
    state, before = await source.poll(None, dt.datetime.now(dt.UTC))
    done = (await sink(sb, http).execute(stock_command("CAM-002", ("central", "1")))).result
    assert done["status"] == "succeeded"
    # Whether PrestaShop touches the product's date_upd on a stock change is UNVERIFIED: say
    # it does. The product is read again, unchanged: no event.
    await sb.store.patch("products", 3, {})
    _, after = await source.poll(state, dt.datetime.now(dt.UTC))
    assert after == [] and not any(e["payload"].get("sku", "").startswith("CAM-")
                                   for e in before if e["entity"] == "product")
