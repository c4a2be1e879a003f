"""PrestaShop sink: customer tax data (``vat_number`` / ``dni`` on the address) and, as an
option, stock by SKU. Everything else is parked with a reason.

The shop is the source of orders, invoices and their payments: a Holded payment is not
written back (it is ``parked``: "PrestaShop orders are the source..."). Products belong to the
shop's catalogue; with ``write_stock=True`` (PRESTASHOP_WRITE_STOCK) a product command sets
only the quantity of its SKU (``sink_stock.py``), and a product with no levels writes nothing.

Idempotency, in this order, for every command:

1. the ledger: the command id is done -> ``already_done`` with the recorded target id;
2. the links: the contact's PrestaShop customer id (``target_id`` / ``links["prestashop"]`` /
   a key born here, ``contact/prestashop/7``);
3. PrestaShop itself: without a link, the customer is searched by e-mail (exactly one match);
   the address is read and compared: holding the value already is success, not a write;
4. only then PUT the full address (PrestaShop replaces every field) and record the result.

A PUT is a full replacement, so repeating one whose response was lost is harmless; this sink
never POSTs. Before overwriting, the address's ``date_upd`` (shop-local, ``shop_timezone``) is
compared with the newest time the engine knows (connectors.base.unseen_change: our last write,
kept in the ledger, or the newest shop change the engine has read, the command's ``base_ts``):
if the shop changed the address since, the command is parked instead of overwriting a change the
engine has not seen yet; the merge decides once the source reports it. The webservice has no
conditional PUT, so a change between the sink's read and its PUT (the same instant) is not
caught.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from app.core.keys import EntityKey, KeyError_
from app.mapping import Mapping, Unmappable
from connectors.base.contracts import DONE, Ledger, SinkOutcome, result
from connectors.base.errors import SkipRecord
from connectors.base.unseen_change import (
    parked_for_good, remember, unseen_reason, unseen_since,
)
from connectors.prestashop.client import PrestaShopClient, any_of
from connectors.prestashop.mapping import SYSTEM, address_tax_fields, parse_ps_datetime, tax_address
from connectors.prestashop.sink_stock import write_stock

__all__ = ["PrestaShopSink"]

logger = logging.getLogger(__name__)

Record = dict[str, Any]
ONLY_TAX_DATA = ("only the tax id is written: the shop keeps its own name, e-mail, phones and "
                 "postal address")
ON_ACCOUNT = ("a payment on account (no invoice) is not supported by PrestaShop: a shop has no "
              "customer balance to book money received outside an order on")
NOT_WRITTEN = {
    "payment": "PrestaShop orders are the source of payments: Holded payments are not written "
               "back to PrestaShop",
    "invoice": "PrestaShop invoices are made by the shop from its orders: invoices are not "
               "written to PrestaShop",
}


def _on_account(payment: Record | None) -> bool:
    return payment is not None and "invoice_key" in payment and payment["invoice_key"] is None


class PrestaShopSink:
    system = SYSTEM

    def __init__(self, client: PrestaShopClient, mapping: Mapping | Callable[[], Mapping],
                 ledger: Ledger, *, write_stock: bool = False,
                 shop_timezone: str | ZoneInfo = "Europe/Madrid",
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.client, self.ledger = client, ledger
        self._mapping = mapping if callable(mapping) else (lambda: mapping)
        self.write_stock = write_stock
        self.tz = ZoneInfo(shop_timezone) if isinstance(shop_timezone, str) else shop_timezone
        self._now_ms = now_ms

    async def execute(self, command: Record) -> SinkOutcome:
        """Write the command's canonical state to PrestaShop, exactly once."""
        done = self.ledger.get(command["command_id"])
        if done is not None and done.get("status") in DONE:  # a re-driven parked one runs
            return SinkOutcome(self._result(command, "already_done", done.get("target_id")))
        mapping = self._mapping()
        entity = command["entity"]
        try:
            if entity == "contact":
                outcome = await self._contact(command, mapping)
            elif entity == "product" and self.write_stock:
                outcome = await self._stock(command, mapping)
            elif entity == "payment" and _on_account(command.get("payload")):
                outcome = SinkOutcome(self._result(command, "parked", None, reason=ON_ACCOUNT))
            else:
                reason = NOT_WRITTEN.get(entity, "the PrestaShop sink writes customer tax data "
                                         "and (with write_stock) stock only, not "
                                         f"{entity} records")
                outcome = SinkOutcome(self._result(command, "parked", None, reason=reason))
        except Unmappable as error:
            outcome = SinkOutcome(self._result(command, "parked", None, reason=str(error),
                                               mapping_version=error.mapping_version),
                                  parked_kind="mapping")
        except SkipRecord as error:
            outcome = SinkOutcome(self._result(command, "failed", None, reason=str(error),
                                               mapping_version=mapping.version))
        if outcome.result["status"] in DONE:
            self.ledger.put(command["command_id"], outcome.result)
        return outcome

    # ---- customers: tax data on the address -----------------------------------------------
    async def _contact(self, command: Record, mapping: Mapping) -> SinkOutcome:
        payload = command["payload"] or {}
        customer_id = self._linked(command) or await self._by_email(payload.get("email"))
        if customer_id is None:
            return SinkOutcome(self._result(
                command, "parked", None, mapping_version=mapping.version,
                reason="no PrestaShop customer is linked or has this e-mail; creating "
                       "customers in PrestaShop is not supported (customers sign up in the shop)"))
        addresses = [a async for a in self.client.list(
            "addresses", filters={"id_customer": any_of([customer_id])}, sort="[id_ASC]")]
        address = tax_address(addresses)
        if address is None:
            return SinkOutcome(self._result(
                command, "parked", str(customer_id), mapping_version=mapping.version,
                reason=f"PrestaShop customer {customer_id} has no address to hold tax data"))
        changes = address_tax_fields(payload, address, mapping)
        target = str(customer_id)
        address_id = str(address["id"])
        if not changes:
            remember(self.ledger, address_id, parse_ps_datetime(address.get("date_upd"), self.tz))
            return SinkOutcome(self._result(command, "succeeded", target,
                                            reason="PrestaShop already holds the tax id; "
                                                   + ONLY_TAX_DATA,
                                            mapping_version=mapping.version))
        base = unseen_since(self.ledger, address_id, command,
                            parse_ps_datetime(address.get("date_upd"), self.tz))
        if base is not None:
            return parked_for_good(self._result(
                command, "parked", target, mapping_version=mapping.version,
                reason=unseen_reason(f"PrestaShop address {address_id}",
                                     f"{address.get('date_upd')} (shop time)", base)))
        written = await self.client.update("addresses", address["id"], {**address, **changes})
        remember(self.ledger, address_id, parse_ps_datetime(written.get("date_upd"), self.tz))
        return SinkOutcome(self._result(command, "succeeded", target,
                                        reason=f"wrote {', '.join(sorted(changes))} of address "
                                               f"{address['id']}; " + ONLY_TAX_DATA,
                                        mapping_version=mapping.version))

    def _linked(self, command: Record) -> int | None:
        linked = command.get("target_id") or (command.get("links") or {}).get(SYSTEM)
        if linked and str(linked).isdigit():
            return int(linked)
        try:
            key = EntityKey.parse(command["entity_key"])
        except KeyError_:
            return None
        return int(key.origin_id) if key.origin == SYSTEM and key.origin_id.isdigit() else None

    async def _by_email(self, email: str | None) -> int | None:
        if not email or any(c in email for c in "[]|"):
            return None
        found = [c async for c in self.client.list(
            "customers", filters={"email": f"[{email}]"}, display="[id,email,deleted]")]
        live = [int(c["id"]) for c in found if str(c.get("deleted", "0")) != "1"]
        return live[0] if len(live) == 1 else None

    # ---- stock by SKU (optional) ---------------------------------------------------------
    async def _stock(self, command: Record, mapping: Mapping) -> SinkOutcome:
        if command.get("op") == "delete" or not command.get("payload"):
            return SinkOutcome(self._result(command, "parked", None,
                                            mapping_version=mapping.version,
                                            reason="a deleted product's stock is not written; "
                                                   "PrestaShop products are managed in the shop"))
        done = await write_stock(self.client, command["payload"], mapping,
                                 lane=command.get("lane") or "realtime")
        return SinkOutcome(self._result(command, done.status, done.target_id, reason=done.reason,
                                        mapping_version=mapping.version), redrive=done.redrive)

    def _result(self, command: Record, status: str, target_id: str | None, *,
                reason: str | None = None, mapping_version: int | None = None) -> Record:
        return result(command, status, self._now_ms(), target_id=target_id, reason=reason,
                      mapping_version=mapping_version)
