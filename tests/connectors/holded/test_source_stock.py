"""The Holded poller with read_stock: products (and each variant of a product with variants)
with their stock per warehouse, pure mapping first, then poll_once against the sandbox,
written to by the Holded sink as an ERP would."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from app.core.decide import apply_change, apply_result
from app.core.hashing import content_hash
from app.core.keys import EntityKey
from app.core.policy import default_policy
from app.mapping import Unmappable, parse_mapping
from connectors.holded.inbound_products import product_from_holded, product_key, stock_of, variants_of
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


SHIRT, SHIRT_M, SHIRT_L = "5f1a0000000000000000aa01", "5f1a0000000000000000aa02", "5f1a0000000000000000aa03"


def holded_shirt(**changes: Any) -> dict[str, Any]:
    """A product of kind variants in the v1 read shape: the variants carry no name."""
    record = {"id": SHIRT, "kind": "variants", "name": "Camiseta", "desc": "Algodón", "sku": "",
              "price": 16.528926, "taxes": ["s_iva_21"], "cost": 0, "barcode": "", "stock": 7,
              "variants": [
                  {"id": SHIRT_M, "sku": "CAM-M", "barcode": "8410000000021", "price": 16.528926,
                   "cost": 6.5, "purchasePrice": 6.5, "stock": 4},
                  {"id": SHIRT_L, "sku": "CAM-L", "barcode": "", "price": 17.355372, "cost": 0,
                   "purchasePrice": 0, "stock": 3}]}
    record.update(changes)
    return record


def test_a_variant_is_a_product_of_its_own_keyed_under_its_product() -> None:
    shirt = holded_shirt()
    medium, large = variants_of(shirt)
    key = product_key(shirt, medium)
    assert key == f"product/holded/{SHIRT}.{SHIRT_M}" and key != product_key(shirt)
    assert EntityKey.parse(key).origin_id == f"{SHIRT}.{SHIRT_M}"
    out = product_from_holded(shirt, stock=[], mapping=MAPPING, variant=medium)
    assert (out["sku"], out["name"], out["description"], out["price"], out["cost"],
            out["barcode"], out["sales_taxes"]) == (
        "CAM-M", "Camiseta", "Algodón", D("16.528926"), D("6.5"), "8410000000021", ["iva_21"])
    out = product_from_holded(shirt, stock=[], mapping=MAPPING, variant=large)
    assert (out["sku"], out["price"], out["cost"], out["barcode"]) == (
        "CAM-L", D("17.355372"), None, None)


def test_a_variants_levels_are_its_own_and_must_add_up_to_its_own_total() -> None:
    shirt = holded_shirt()
    medium, large = variants_of(shirt)
    # the product's own row (the sum) is not a variant's level
    table = {CENTRAL: {SHIRT: D(7), SHIRT_M: D(3), SHIRT_L: D(3)}, TALLER: {SHIRT_M: D(1)}}
    assert stock_of(shirt, table, mapping=mapping_with_taller(), variant=medium) == [
        {"warehouse": "central", "quantity": D("3.0000")},
        {"warehouse": "taller", "quantity": D("1.0000")}]
    assert stock_of(shirt, table, mapping=MAPPING, variant=large) == [
        {"warehouse": "central", "quantity": D("3.0000")}]
    with pytest.raises(Unmappable, match=f"variant {SHIRT_M}: .*add up to 3, its own stock total is 4"):
        stock_of(shirt, {CENTRAL: {SHIRT: D(7), SHIRT_M: D(3)}}, mapping=MAPPING, variant=medium)


def test_a_variant_without_sku_or_id_is_not_mapped() -> None:
    shirt = holded_shirt()
    nameless = {**shirt["variants"][1], "sku": " "}
    with pytest.raises(Unmappable, match=f"product {SHIRT} variant {SHIRT_L} has no sku"):
        product_from_holded(shirt, stock=[], mapping=MAPPING, variant=nameless)
    with pytest.raises(Unmappable, match="without an id for each variant"):
        variants_of(holded_shirt(variants=[{"sku": "CAM-M", "stock": 4}]))
    assert variants_of(holded_shirt(variants=None)) == []


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


# -- products with variants, against the sandbox ----------------------------------------------

async def insert_shirt(sandbox: SandboxServer, **levels: dict[str, int]) -> None:
    """The shirt of ``holded_shirt`` in the sandbox's store shape, each variant (``m``, ``l``,
    ``xl``) holding ``levels[name]`` {warehouse: units}. Holded's API creates no variants."""
    ids = {"m": SHIRT_M, "l": SHIRT_L, "xl": "5f1a0000000000000000aa04"}
    await sandbox.insert("products", [{
        "id": SHIRT, "kind": "variants", "name": "Camiseta", "desc": "Algodón", "sku": "",
        "price": 16.528926, "taxes": ["s_iva_21"], "variants": [
            {"id": ids[name], "sku": f"CAM-{name.upper()}", "barcode": "", "price": 16.528926,
             "cost": 6.5, "stockByWarehouse": by_warehouse} for name, by_warehouse in levels.items()]}])


def by_key(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["entity_key"]: e for e in products_of(events)}


async def test_each_variant_is_reported_with_its_own_levels_and_changes_alone(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await insert_shirt(sandbox, m={CENTRAL: 4}, l={CENTRAL: 3})
    client = make_client(sandbox, http)
    state, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK)
    medium, large = f"product/holded/{SHIRT}.{SHIRT_M}", f"product/holded/{SHIRT}.{SHIRT_L}"
    assert set(by_key(events)) == {medium, large}  # the product itself is no product
    assert by_key(events)[medium]["source_id"] == f"{SHIRT}.{SHIRT_M}"
    assert [(e["payload"]["sku"], e["payload"]["name"], e["payload"]["stock"])
            for e in sorted(by_key(events).values(), key=lambda e: e["payload"]["sku"])] == [
        ("CAM-L", "Camiseta", [{"warehouse": "central", "quantity": D("3.0000")}]),
        ("CAM-M", "Camiseta", [{"warehouse": "central", "quantity": D("4.0000")}])]

    await client.products.adjust_stock(SHIRT, CENTRAL, SHIRT_L, -1)  # a sale booked in Holded
    state, events = await poll_once(client, state, MAPPING, T0 + MINUTE, config=STOCK)
    assert list(by_key(events)) == [large]
    assert by_key(events)[large]["payload"]["stock"] == [{"warehouse": "central", "quantity": D("2.0000")}]
    # a full re-scan keeps the variants' hashes: nothing is reported again after it
    state, events = await poll_once(client, state, MAPPING, T0 + dt.timedelta(days=2), config=STOCK)
    assert products_of(events) == []
    assert set(state.hashes[PRODUCTS]) == {f"{SHIRT}.{SHIRT_M}", f"{SHIRT}.{SHIRT_L}"}
    _, events = await poll_once(client, state, MAPPING, T0 + dt.timedelta(days=2) + MINUTE, config=STOCK)
    assert products_of(events) == []


async def test_a_variant_whose_levels_do_not_add_up_or_without_sku_is_parked_alone(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    unlisted = "5f0000000000000000000999"  # a warehouse no list shows
    await insert_shirt(sandbox, m={CENTRAL: 4, unlisted: 2}, l={CENTRAL: 3}, xl={CENTRAL: 1})
    [stored] = await sandbox.all("products", id=SHIRT)
    stored["variants"][1]["sku"] = ""
    await sandbox.state.store.put("products", stored)
    client = make_client(sandbox, http)
    parked: list[tuple[str, str, list[str]]] = []
    state, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK,
                                    on_parked=lambda *p: parked.append(p))
    assert [e["payload"]["sku"] for e in products_of(events)] == ["CAM-XL"]
    assert [(resource, source) for resource, source, _ in parked] == [
        (PRODUCTS, f"{SHIRT}.{SHIRT_M}"), (PRODUCTS, f"{SHIRT}.{SHIRT_L}")]
    assert "add up to 4, its own stock total is 6" in parked[0][2][0]
    assert "has no sku" in parked[1][2][0]

    del stored["variants"][0]["stockByWarehouse"][unlisted]  # the list shows every level again
    await sandbox.state.store.put("products", stored)
    _, events = await poll_once(client, state, MAPPING, T0 + MINUTE, config=STOCK)
    assert [(e["payload"]["sku"], e["payload"]["stock"]) for e in products_of(events)] == [
        ("CAM-M", [{"warehouse": "central", "quantity": D("4.0000")}])]


async def test_a_variants_level_in_an_unmapped_warehouse_counts_but_is_not_reported(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await sandbox.insert("warehouses", [{"id": TALLER, "name": "Taller", "default": False}])
    await insert_shirt(sandbox, m={CENTRAL: 4, TALLER: 2})
    client = make_client(sandbox, http)
    _, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK)
    [event] = products_of(events)
    assert event["payload"]["stock"] == [{"warehouse": "central", "quantity": D("4.0000")}]
    _, events = await poll_once(client, PollState(), mapping_with_taller(), T0, config=STOCK)
    assert products_of(events)[0]["payload"]["stock"] == [
        {"warehouse": "central", "quantity": D("4.0000")},
        {"warehouse": "taller", "quantity": D("2.0000")}]


async def test_a_pack_is_not_read_and_is_counted_in_the_log(
        sandbox: SandboxServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    await sandbox.insert("products", [{"kind": "pack", "name": "Lote", "sku": "LOTE-1",
                                       "price": 30.0, "stockByWarehouse": {CENTRAL: 2}}])
    with caplog.at_level(logging.INFO, logger="connectors.holded.source"):
        _, events = await poll_once(make_client(sandbox, http), PollState(), MAPPING, T0,
                                    config=STOCK)
    assert products_of(events) == []
    assert "1 of kind pack" in caplog.text and "derived from its components" in caplog.text


async def test_a_variant_read_from_holded_goes_to_the_shops_never_back_to_holded(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await insert_shirt(sandbox, m={CENTRAL: 4})
    _, events = await poll_once(make_client(sandbox, http), PollState(), MAPPING, T0, config=STOCK)
    [variant] = products_of(events)
    policy = default_policy(("odoo", "shopify", "prestashop"),
                            stock_targets=("shopify", "prestashop"))
    decided = apply_change(variant, None, None, None, policy)
    assert sorted(c["target_system"] for c in decided.commands) == ["prestashop", "shopify"]
    assert all(c["payload"]["sku"] == "CAM-M" for c in decided.commands)


async def test_erp_stock_written_to_a_variant_and_read_back_goes_to_the_shops_only(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    """Odoo's CAM-M, which Holded keeps as the shirt's variant M: the sink writes its level
    to the variant, the poller reads the variant back as a product born in Holded, and that
    goes on to the shop that writes stock, never back to Holded or to Odoo; the next poll
    reports nothing and the one adjustment is all that was written."""
    await insert_shirt(sandbox, m={CENTRAL: 4}, l={CENTRAL: 3})
    policy = default_policy(("odoo", "shopify"), stock_targets=("shopify",))
    cmd = product_command(4)
    cmd["payload"] |= {"sku": "CAM-M", "stock": [{"warehouse": "central", "quantity": D("6")}]}
    erp = apply_change({"event_id": "e-odoo", "entity_key": cmd["entity_key"],
                        "entity": "product", "source_system": "odoo", "source_id": "4",
                        "source_ts": 1, "op": "upsert", "payload": cmd["payload"],
                        "content_hash": content_hash(cmd["payload"]), "lane": "realtime"},
                       None, None, None, policy)
    [to_holded] = [c for c in erp.commands if c["target_system"] == "holded"]
    outcome = await make_sink(make_client(sandbox, http), MAPPING).execute(to_holded)
    assert (outcome.result["status"], outcome.result["target_id"]) == ("succeeded", f"{SHIRT}.{SHIRT_M}")
    apply_result(outcome.result, erp.replicas, erp.links)

    client = make_client(sandbox, http)
    state, events = await poll_once(client, PollState(), MAPPING, T0, config=STOCK)
    medium = by_key(events)[f"product/holded/{SHIRT}.{SHIRT_M}"]
    assert medium["payload"]["stock"] == [{"warehouse": "central", "quantity": D("6.0000")}]
    twin = apply_change(medium, None, None, None, policy)
    assert [c["target_system"] for c in twin.commands] == ["shopify"]  # never Holded, never Odoo
    _, events = await poll_once(client, state, MAPPING, T0 + MINUTE, config=STOCK)
    assert products_of(events) == []
    puts = [r for r in sandbox.requests if r.method == "PUT" and r.path.endswith("/stock")]
    assert [r.path for r in puts] == [f"/api/invoicing/v1/products/{SHIRT}/stock"]
