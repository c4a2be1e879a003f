"""Shopify sink: what may flow back from Holded to the shop, exactly once.

Shopify is where orders and customers are born; little flows back:

- ``contact`` commands for customers born in Shopify (or linked to one): the fields Shopify
  holds (``HELD_FIELDS["contact"]``: name, email, phone, tax id in the ``holded_sync.tax_id``
  metafield) are written with ``customerUpdate``. For a B2B customer the company's name and
  tax registration are managed in Shopify B2B and only email and phone are written.
- ``invoice`` commands for orders born in Shopify: the Holded invoice number is added to the
  order as the tag ``holded:<number>`` (``tagsAdd``), so the shop staff can find it.
- ``product`` commands, only with ``write_stock=True`` (SHOPIFY_WRITE_STOCK): the product's
  stock becomes its variant's available quantity at the mapped locations (sink_stock.py);
  nothing else of the product is written.
- anything else is ``parked`` with a reason (creating customers, products or orders in the
  shop from Holded is not supported).

Idempotency (design.md section 4): the ledger (command done?) -> the links / entity key
(which Shopify record?) -> read the record (does it already hold the desired state?) ->
write -> record in the ledger. Mutations are not repeated blindly after an unknown outcome:
the error propagates, the agent redelivers, and the read finds the write if it landed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.core.keys import EntityKey
from app.mapping import Mapping as MappingDoc
from connectors.base.contracts import Ledger, SinkOutcome, execute_once, result
from connectors.base.errors import SkipRecord
from connectors.shopify import mapping as shmap
from connectors.shopify.client import ShopifyClient, gid, numeric_id
from connectors.shopify.errors import NotFound
from connectors.shopify.sink_stock import write_stock

__all__ = ["ShopifySink"]

logger = logging.getLogger(__name__)

SYSTEM = shmap.SYSTEM
Record = dict[str, Any]


class ShopifySink:
    system = SYSTEM

    def __init__(self, client: ShopifyClient, *, mapping: MappingDoc | Callable[[], MappingDoc],
                 ledger: Ledger, write_stock: bool = False,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.client = client
        self._mapping = mapping if callable(mapping) else (lambda: mapping)
        self.ledger, self._now_ms = ledger, now_ms
        self._handlers = {"contact": self._contact, "invoice": self._invoice_number,
                          **({"product": self._stock} if write_stock else {})}

    async def execute(self, command: Mapping[str, Any]) -> SinkOutcome:
        """Write the command's canonical state to Shopify, exactly once."""
        return await execute_once(dict(command), ledger=self.ledger, mapping=self._mapping,
                                  handlers=self._handlers,
                                  now_ms=self._now_ms,
                                  unsupported="the Shopify sink does not write {entity} "
                                              "records: they are managed in the shop")

    def _result(self, command: Record, status: str, **kwargs: Any) -> Record:
        return result(command, status, self._now_ms(), **kwargs)

    def _parked(self, command: Record, mapping: MappingDoc, reason: str) -> SinkOutcome:
        return SinkOutcome(self._result(command, "parked", reason=reason,
                                        mapping_version=mapping.version))

    def _target(self, command: Record) -> str | None:
        """The numeric Shopify id of the record the command is about, if any."""
        linked = command.get("target_id") or (command.get("links") or {}).get(SYSTEM)
        if linked:
            return numeric_id(linked)
        key = EntityKey.parse(command["entity_key"])
        return numeric_id(key.origin_id) if key.origin == SYSTEM else None

    async def _read(self, kind: str, record_id: str) -> Record:
        found = await self.client.nodes([gid(kind, record_id)])
        if not found:
            raise NotFound(f"{kind} {record_id} does not exist in Shopify")
        return found[0]

    # -- customers ------------------------------------------------------------------------
    async def _contact(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        customer_id = self._target(command)
        if customer_id is None:
            return self._parked(command, mapping, "creating Shopify customers from Holded is not "
                                "supported: customers are born in the shop")
        current = await self._read("Customer", customer_id)
        desired = shmap.contact_to_customer_input(command["payload"], gid("Customer", customer_id))
        fields = set(shmap.HELD_FIELDS["contact"])
        if current.get("companyContactProfiles"):
            # B2B: name and tax registration belong to the company, edited in Shopify B2B.
            fields -= {"name", "tax_id"}
            desired = {k: v for k, v in desired.items() if k in ("id", "email", "phone")}
        have = shmap.customer_to_contact(current, mapping=mapping)
        want = command["payload"]
        if all((have.get(f) or None) == (want.get(f) or None) for f in fields):
            return SinkOutcome(self._result(command, "succeeded", target_id=customer_id,
                                            reason="Shopify already holds it",
                                            mapping_version=mapping.version))
        if "tax_id" in fields and have.get("tax_id") and not want.get("tax_id"):
            # Cleared: a metafield cannot be set blank, it is deleted. Before the update, whose
            # new updatedAt makes the source read the customer again: it finds it cleared.
            namespace, key = shmap.TAX_ID_METAFIELD
            await self.client.mutate("MetafieldsDelete", {"metafields": [{
                "ownerId": gid("Customer", customer_id), "namespace": namespace, "key": key}]},
                field="metafieldsDelete")
        await self.client.mutate("CustomerUpdate", {"input": desired}, field="customerUpdate")
        return SinkOutcome(self._result(command, "succeeded", target_id=customer_id,
                                        mapping_version=mapping.version))

    # -- stock ----------------------------------------------------------------------------
    async def _stock(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        if command.get("op") == "delete" or not command.get("payload"):
            return self._parked(command, mapping, "a deleted product's stock is not written; "
                                "Shopify variants are managed in the shop")
        done = await write_stock(self.client, command["payload"], mapping,
                                 lane=command.get("lane") or "realtime")
        return SinkOutcome(self._result(command, done.status, target_id=done.target_id,
                                        reason=done.reason, mapping_version=mapping.version),
                           redrive=done.redrive)

    # -- orders ---------------------------------------------------------------------------
    async def _invoice_number(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        order_id = self._target(command)
        if order_id is None or (command["payload"] or {}).get("doc_type") == "credit_note":
            return self._parked(command, mapping, "Shopify orders are not created from Holded "
                                "documents; only the invoice number of an order born in the "
                                "shop is written back (as a tag)")
        number = (command["payload"] or {}).get("number")
        if not number:
            return self._parked(command, mapping, "the invoice has no number yet")
        try:
            tag = shmap.invoice_tag(str(number))
        except ValueError as exc:
            raise SkipRecord(str(exc)) from None
        order = await self._read("Order", order_id)
        if tag in (order.get("tags") or []):
            return SinkOutcome(self._result(command, "succeeded", target_id=order_id,
                                            reason="the order already carries the tag",
                                            mapping_version=mapping.version))
        await self.client.mutate("TagsAdd", {"id": gid("Order", order_id), "tags": [tag]},
                                 field="tagsAdd")
        return SinkOutcome(self._result(command, "succeeded", target_id=order_id,
                                        mapping_version=mapping.version))
