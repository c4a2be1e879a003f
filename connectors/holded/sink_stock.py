"""An item's stock levels in Holded: read every level, adjust by the difference, read back.

The item is a product of kind ``simple``, or a variant of a product of kind ``variants``
(:class:`StockItem`): Holded keeps a level per item and warehouse, and adjusts a variant's
under its product's path, keyed by the variant's id (docs/holded.md section 9).

Holded's ``PUT /products/{id}/stock`` adds units to a level (an adjustment), as far as the
evidence goes (docs/holded.md section 9: integrators' code, UNVERIFIED against Holded's
reference). An adjustment is not idempotent, so the writer never sends one blind:

- every round first reads the product's level in every warehouse and sends, for each level
  that differs from the command's, only the difference; a level already right costs no write;
- a write whose outcome is unknown (timeout, dropped connection, 5xx) is never repeated as
  such: after the settle wait the next round reads again, and an adjustment that committed
  shows as a level already right;
- the levels are read back after the writes: a level Holded does not hold as sent (the
  endpoint setting rather than adding, or a concurrent sale) fails the command with the
  difference, and nothing more is sent for it.

A level is read only when the per-warehouse lists add up to the item's own ``stock`` total
(a product's, or its variant's entry in the product read): a truncated list, or a read shape
misunderstood, would otherwise make a level look 0 and the difference be added on top of it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from app.mapping import Mapping
from app.mapping.resolve import Resolver
from connectors.base.errors import ConnectorError, Fault, RateLimited, RetryableError
from connectors.base.limiter import Lane
from connectors.holded.client import HoldedClient, stock_units
from connectors.holded.sink_verify import Mismatch

if TYPE_CHECKING:
    from collections.abc import Callable

    from connectors.holded.sink_writers import SinkClock, SinkPolicy

__all__ = ["StockItem", "StockLevel", "StockUnreadable", "StockWriter", "stock_levels", "write_stock"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StockLevel:
    """The units a Holded warehouse must hold of a product (canonical codes summed)."""

    warehouse_id: str
    canonical: tuple[str, ...]
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class StockItem:
    """What holds the units: ``item_id`` under ``product_id``'s stock path. A simple product
    is its own item; a variant is an item of its product, which holds no units of its own."""

    product_id: str
    item_id: str

    @classmethod
    def product(cls, product_id: str) -> StockItem:
        return cls(product_id, product_id)

    def __str__(self) -> str:
        if self.item_id == self.product_id:
            return f"product {self.product_id}"
        return f"variant {self.item_id} of product {self.product_id}"


class StockUnreadable(ConnectorError):
    """Holded's levels cannot be read with certainty: nothing is adjusted."""

    default_fault = Fault.REMOTE


def stock_levels(product: MappingABC[str, Any], *, mapping: Mapping) -> list[StockLevel]:
    """The Holded levels a canonical product's ``stock`` asks for, before any API call.

    ``Unmappable`` names every level whose warehouse has no Holded warehouse in the mapping,
    and every quantity that is not a whole number: whether Holded keeps fractional units is
    undocumented, and a fraction it rounded away would be re-sent on every retry.
    """
    levels = list(product.get("stock") or [])
    if not levels:
        return []
    r = Resolver(mapping, "holded")
    by_warehouse: dict[str, tuple[tuple[str, ...], Decimal]] = {}
    for index, level in enumerate(levels):
        where, canonical = f"stock[{index}]", str(level["warehouse"])
        quantity = Decimal(str(level["quantity"]))
        warehouse_id = r.code("warehouses", canonical, where)
        if quantity != quantity.to_integral_value():
            r.fail(where, f"quantity {quantity} in {canonical!r} is not a whole number of units "
                   "(Holded's stock write is only known to take whole units)")
        if warehouse_id is not None:
            codes, total = by_warehouse.get(str(warehouse_id), ((), Decimal(0)))
            by_warehouse[str(warehouse_id)] = ((*codes, canonical), total + quantity)
    r.raise_if_any()
    return [StockLevel(wid, codes, qty) for wid, (codes, qty) in by_warehouse.items()]


@dataclass(frozen=True, slots=True)
class StockWriter:
    """What a stock write needs of the sink: its client, clock, write policy and jitter."""

    client: HoldedClient
    clock: SinkClock
    policy: SinkPolicy
    rand: Callable[[], float]


async def write_stock(writer: StockWriter, item: StockItem, levels: list[StockLevel],
                      lane: Lane) -> tuple[list[Mismatch], dict[str, Any] | None]:
    """Bring each level of ``item`` to the command's quantity. Returns the mismatches read
    back (none: done) and the product as read last, after every write (None when there is
    no level to write, so nothing was read): the caller's read-back of the product need not
    read it again."""
    if not levels:
        return [], None
    policy = writer.policy
    # Listed once per command: a warehouse created while it runs is not one its levels name.
    warehouses = [str(w["id"]) async for w in writer.client.warehouses.list(lane=lane)]
    for attempt in range(1, policy.write_rounds + 1):
        held, product = await _held_levels(writer.client, item, warehouses, lane)
        missing = sorted({level.warehouse_id for level in levels} - held.keys())
        if missing:
            raise StockUnreadable(
                f"Holded has no warehouse {', '.join(missing)} (GET /warehouses), which the "
                "mapping's systems.holded.warehouses names; no level adjusted")
        pending = [level for level in levels if held[level.warehouse_id] != level.quantity]
        if not pending:
            return [], product
        try:
            for level in pending:
                await _adjust(writer.client, item, level, held, lane)
        except RetryableError as error:
            if attempt >= policy.write_rounds:
                raise  # failed, not done: a redelivery reads the levels again first
            delay = policy.backoff.delay_for(error, attempt, writer.rand)
            if not isinstance(error, RateLimited):  # a 429 was refused unprocessed
                delay = max(delay, policy.settle_seconds)
            logger.warning("stock of Holded %s, round %d: outcome unknown (%s); "
                           "reading the levels again in %.2fs", item, attempt,
                           error.message, delay)
            await writer.clock.sleep(delay)
            continue
        after, product = await _held_levels(writer.client, item, warehouses, lane)
        return [Mismatch(f"stock[{'+'.join(level.canonical)}]", level.quantity,
                         after.get(level.warehouse_id)) for level in levels
                if after.get(level.warehouse_id) != level.quantity], product
    raise AssertionError("unreachable: write_rounds >= 1")


async def _adjust(client: HoldedClient, item: StockItem, level: StockLevel,
                  held: dict[str, Decimal], lane: Lane) -> None:
    delta = level.quantity - held[level.warehouse_id]  # write_stock checked it is listed
    if delta != delta.to_integral_value():
        raise StockUnreadable(
            f"Holded {item} holds {held[level.warehouse_id]} units in "
            f"warehouse {level.warehouse_id}, not a whole number: a whole-unit adjustment "
            f"cannot reach {level.quantity}; not adjusted")
    await client.products.adjust_stock(item.product_id, level.warehouse_id, item.item_id,
                                       int(delta), lane=lane)


async def _held_levels(client: HoldedClient, item: StockItem, warehouses: list[str],
                       lane: Lane) -> tuple[dict[str, Decimal], dict[str, Any]]:
    """Warehouse id -> the item's units there (0 where it has none), checked against the
    item's own ``stock`` total; and the product as read for that total."""
    levels: dict[str, Decimal] = {}
    for warehouse_id in warehouses:
        levels[warehouse_id] = (await client.warehouses.levels(warehouse_id, lane=lane)).get(
            item.item_id, Decimal(0))
    product = await client.products.get(item.product_id, lane=lane)
    own = product if item.item_id == item.product_id else _variant(product, item)
    total = stock_units(own.get("stock"))
    if total is None:
        raise StockUnreadable(f"Holded {item} reads without a stock total: "
                              f"{own.get('stock')!r:.50}; its levels cannot be checked, "
                              "not adjusted")
    if total != sum(levels.values()):
        raise StockUnreadable(
            f"Holded {item}: its warehouses' levels add up to "
            f"{sum(levels.values())}, its own stock total is {total}; a level may be missing "
            "from a list, so none is adjusted")
    return levels, product


def _variant(product: MappingABC[str, Any], item: StockItem) -> MappingABC[str, Any]:
    for variant in product.get("variants") or []:
        if isinstance(variant, MappingABC) and str(variant.get("id")) == item.item_id:
            return variant
    raise StockUnreadable(f"Holded product {item.product_id} no longer lists variant "
                          f"{item.item_id}; its levels cannot be checked, not adjusted")
