"""A product command's stock, written to PrestaShop as the absolute quantity of its SKU.

Per command: the quantity the shop must show (``stock.shop_stock``: the level of the mapping's
``stock_warehouse``; a product with no levels writes nothing) -> the product whose
``reference`` is the SKU (exactly one) -> its own ``stock_availables`` record (exactly one,
no combinations, not tied to physical stock) -> PUT it with the new ``quantity`` only if it
differs -> done.

The PUT sets a number, it does not add one: repeated after a lost response (the client
retries PUT, a full replacement) or by the redelivered command, it leaves the same quantity,
and the redelivery reads it first and writes nothing. The webservice has no conditional PUT,
so a sale between our read and our PUT is overwritten by Holded's number, as it would be by
the next one anyway (Holded is the master of the level).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.mapping import Mapping as MappingDoc
from connectors.base.limiter import Lane
from connectors.base.stock_outcome import StockOutcome, join_notes
from connectors.prestashop.client import PrestaShopClient, any_of
from connectors.prestashop.stock import FILTER_SYNTAX, own_stock_record, shop_stock

__all__ = ["write_stock"]

logger = logging.getLogger(__name__)


async def write_stock(client: PrestaShopClient, payload: Mapping[str, Any], mapping: MappingDoc,
                      lane: Lane = "realtime") -> StockOutcome:
    """Set the product of ``payload['sku']`` to the product's level in the stock warehouse;
    raises Unmappable when the mapping does not say which warehouse the shop sells from."""
    wanted = shop_stock(payload, mapping=mapping)
    if wanted is None:
        return StockOutcome("succeeded", reason="the product reports no stock levels; nothing "
                            "written to PrestaShop")
    if wanted.refused:
        return StockOutcome("parked", reason="; ".join(wanted.refused))
    sku = str(payload.get("sku") or "")
    if not sku:
        return StockOutcome("parked", reason="the product has no SKU: no PrestaShop product "
                            "can be found for its stock")
    if FILTER_SYNTAX & set(sku):
        return StockOutcome("parked", reason=f"SKU {sku!r} holds a character of the "
                            "webservice's filter syntax ([ ] | , %): it cannot be searched")
    products = [p async for p in client.list("products", filters={"reference": f"[{sku}]"},
                                             display="[id,reference]", lane=lane)
                if str(p.get("reference") or "") == sku]  # MySQL compares without case
    if not products:
        return StockOutcome("parked", redrive=False, reason=(
            f"no PrestaShop product has reference {sku!r}: the shop does not sell it, and its "
            "stock is not written (the next change of its stock is, once it does)"))
    if len(products) > 1:
        return StockOutcome("parked", reason=(
            f"several PrestaShop products have reference {sku!r} "
            f"({', '.join(str(p['id']) for p in products)}); which one holds the stock is not "
            "guessed"))
    product_id = int(products[0]["id"])
    stocks = [s async for s in client.list("stock_availables",
                                           filters={"id_product": any_of([product_id])},
                                           lane=lane)]
    record = own_stock_record(product_id, stocks)
    target = str(product_id)
    if isinstance(record, str):
        return StockOutcome("parked", target, record)
    note = (f"stock of {', '.join(repr(c) for c in wanted.left_out)} not counted: the shop "
            f"sells from {wanted.warehouse!r} (systems.prestashop.stock_warehouse)"
            if wanted.left_out else None)
    if str(record.get("quantity")) == str(wanted.quantity):
        return StockOutcome("succeeded", target, join_notes("PrestaShop already holds "
                                                       f"{wanted.quantity}", note))
    logger.info("prestashop stock of %s (product %s): %s -> %d", sku, product_id,
                record.get("quantity"), wanted.quantity)
    await client.update("stock_availables", record["id"],
                        {**record, "quantity": str(wanted.quantity)}, lane=lane)
    return StockOutcome("succeeded", target, note)
