"""A product command's stock, written to PrestaShop as the absolute quantity of its SKU.

Per command: the quantity the shop must show (``stock.shop_stock``: the level of the mapping's
``stock_warehouse``; a product with no levels writes nothing) -> the product or the
combination whose ``reference`` is the SKU (exactly one of either, ``stock.stock_target``) ->
its ``stock_availables`` record (exactly one, not tied to physical stock; a product with
combinations is not set, ``stock.stock_record``) -> PUT it with the new ``quantity`` only if
it differs -> read it back.

The PUT sets a number, it does not add one: repeated after a lost response (the client
retries PUT, a full replacement) or by the redelivered command, it leaves the same quantity,
and the redelivery reads it first and writes nothing. The webservice has no conditional PUT,
so a sale between our read and our PUT is overwritten by Holded's number, as it would be by
the next one anyway (Holded is the master of the level). The read-back is a GET of the
record: a quantity other than the one sent (a module rewriting it, a sale in that instant)
parks the command for review with both numbers rather than reporting a level the shop does
not show.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.mapping import Mapping as MappingDoc
from connectors.base.limiter import Lane
from connectors.base.stock_outcome import StockOutcome, join_notes
from connectors.prestashop.client import PrestaShopClient, any_of
from connectors.prestashop.stock import (
    FILTER_SYNTAX, NotSet, shop_stock, stock_record, stock_target,
)

__all__ = ["write_stock"]

logger = logging.getLogger(__name__)


async def write_stock(client: PrestaShopClient, payload: Mapping[str, Any], mapping: MappingDoc,
                      lane: Lane = "realtime") -> StockOutcome:
    """Set the product or combination of ``payload['sku']`` to the product's level in the
    stock warehouse; raises Unmappable when the mapping does not say which warehouse the shop
    sells from."""
    wanted = shop_stock(payload, mapping=mapping)
    if wanted is None:
        return StockOutcome("succeeded", reason="the product reports no stock levels; nothing "
                            "written to PrestaShop")
    if wanted.refused:
        return StockOutcome("parked", reason="; ".join(wanted.refused))
    sku = str(payload.get("sku") or "")
    if not sku:
        return StockOutcome("parked", reason="the product has no SKU: no PrestaShop product "
                            "or combination can be found for its stock")
    if FILTER_SYNTAX & set(sku):
        return StockOutcome("parked", reason=f"SKU {sku!r} holds a character of the "
                            "webservice's filter syntax ([ ] | , %): it cannot be searched")
    products = [p async for p in client.list("products", filters={"reference": f"[{sku}]"},
                                             display="[id,reference]", lane=lane)]
    combinations = [c async for c in client.list("combinations",
                                                 filters={"reference": f"[{sku}]"},
                                                 display="[id,id_product,reference]", lane=lane)]
    target = stock_target(sku, products, combinations)
    if isinstance(target, NotSet):
        return StockOutcome("parked", reason=target.reason, redrive=target.redrive)
    stocks = [s async for s in client.list("stock_availables",
                                           filters={"id_product": any_of([target.product])},
                                           lane=lane)]
    record = stock_record(target, stocks)
    if isinstance(record, NotSet):
        return StockOutcome("parked", target.target_id, record.reason, redrive=record.redrive)
    note = (f"stock of {', '.join(repr(c) for c in wanted.left_out)} not counted: the shop "
            f"sells from {wanted.warehouse!r} (systems.prestashop.stock_warehouse)"
            if wanted.left_out else None)
    if str(record.get("quantity")) == str(wanted.quantity):
        return StockOutcome("succeeded", target.target_id, join_notes(
            f"PrestaShop already holds {wanted.quantity}", note))
    logger.info("prestashop stock of %s (%s): %s -> %d", sku, target, record.get("quantity"),
                wanted.quantity)
    await client.update("stock_availables", record["id"],
                        {**record, "quantity": str(wanted.quantity)}, lane=lane)
    held = (await client.get("stock_availables", record["id"], lane=lane)).get("quantity")
    if str(held) != str(wanted.quantity):
        return StockOutcome("parked", target.target_id, (
            f"sent quantity {wanted.quantity} for {target} (stock_availables {record['id']}), "
            f"PrestaShop holds {held} when read back: a module rewriting it, or a sale in that "
            "instant; not reported as written"))
    return StockOutcome("succeeded", target.target_id, note)
