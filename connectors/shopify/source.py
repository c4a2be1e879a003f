"""Shopify source: reconciliation polling by ``updated_at``, and webhook deliveries re-fetched.

Polling follows :mod:`connectors.base.polling`: each run takes a signpost (``now``) and asks
each listing for ``updated_at:>'<watermark - overlap>' AND updated_at:<='<now>'`` (every page,
``first``/``after``), sorts what came back by the polling key (updated time, numeric id) and
feeds it to the pure run; the state is committed only after every stream finished.

One Shopify record may give several change events: a customer is a contact; a product gives a
product per variant (matched by SKU; its price net of VAT when the shop's ``taxesIncluded``,
read once per run or webhook batch, says prices include it); a paid order gives an invoice (or a sales receipt,
``order_documents="sales_receipt"``), a credit note per refund and a payment per successful
sale or capture. Orders not yet paid give nothing (they are picked up when they are paid,
which changes ``updated_at``).

Webhook payloads are never trusted: :meth:`ShopifySource.events_for` takes the
:class:`webhooks.Delivery` ids and reads the records again through GraphQL before mapping.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from app.core.hashing import content_hash
from app.mapping import Mapping as MappingDoc
from app.mapping import Unmappable
from connectors.base import polling
from connectors.base.limiter import Lane
from connectors.shopify import mapping as shmap
from connectors.shopify.client import ShopifyClient, gid, numeric_id
from connectors.shopify.webhooks import Delivery

__all__ = ["STREAMS", "Parked", "ShopifySource", "change_event", "search_window"]

logger = logging.getLogger(__name__)

SYSTEM = shmap.SYSTEM
Record = dict[str, Any]
# stream -> (listing operation, connection field, GraphQL type)
STREAMS: Mapping[str, tuple[str, str, str]] = {
    "customers": ("Customers", "customers", "Customer"),
    "products": ("Products", "products", "Product"),
    "orders": ("Orders", "orders", "Order"),
}
_STREAM_OF_TYPE = {typename: name for name, (_, _, typename) in STREAMS.items()}


@dataclass(frozen=True, slots=True)
class Parked:
    """A Shopify record that could not be mapped; retried when it or the mapping changes."""

    entity_key: str
    reasons: tuple[str, ...]


def _iso(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def search_window(window: polling.Window) -> str:
    """The search-syntax filter of a polling window (UNVERIFIED quoting, see docs)."""
    # Shopify's search compares at second resolution: widen ``until`` to the next second
    # rather than lose a record updated in the signpost's own second (the polling run drops
    # what is past the signpost itself).
    until = window.until.replace(microsecond=0) + dt.timedelta(seconds=1)
    parts = [f"updated_at:<='{_iso(until)}'"]
    if window.since is not None:
        parts.insert(0, f"updated_at:>'{_iso(window.since.replace(microsecond=0))}'")
    return " AND ".join(parts)


def change_event(entity: str, record_gid: str, modified: dt.datetime, payload: Record | None,
                 *, lane: Lane = "realtime") -> Record:
    """A ChangeEvent dict; ``event_id`` hashes (system, key, time, content), so a webhook
    re-fetch and a poll of the same version agree, and A -> B -> A differ."""
    key = shmap.entity_key(entity, record_gid)
    digest = content_hash(payload)
    event_id = hashlib.sha256(
        f"{SYSTEM}|{key}|{modified.astimezone(dt.UTC).isoformat()}|{digest}".encode()).hexdigest()
    return {"event_id": event_id, "entity_key": key, "entity": entity, "source_system": SYSTEM,
            "source_id": numeric_id(record_gid), "source_ts": modified,
            "op": "upsert" if payload is not None else "delete", "payload": payload,
            "content_hash": digest, "lane": lane}


class ShopifySource:
    """Polls customers, products and orders of one shop; turns deliveries into events."""

    system = SYSTEM

    def __init__(self, client: ShopifyClient, *, mapping: MappingDoc | Callable[[], MappingDoc],
                 streams: Sequence[str] = tuple(STREAMS), order_documents: str = "invoice",
                 batch: int = 100, overlap: dt.timedelta = polling.DEFAULT_OVERLAP,
                 lane: Lane = "realtime", zone: str | dt.tzinfo = "Europe/Madrid") -> None:
        unknown = set(streams) - set(STREAMS)
        if unknown:
            raise ValueError(f"unknown streams {sorted(unknown)}; one of {list(STREAMS)}")
        if order_documents not in ("invoice", "sales_receipt"):
            raise ValueError("order_documents is invoice or sales_receipt")
        self.client = client
        self._mapping = mapping if callable(mapping) else (lambda: mapping)
        self.streams, self.order_documents = tuple(streams), order_documents
        self.batch, self.overlap, self.lane = batch, overlap, lane
        # the shop's time zone: a document's date is its calendar day there, not in UTC
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        self.parked: list[Parked] = []

    async def poll(self, state: Mapping[str, polling.PollState] | None, now: dt.datetime
                   ) -> tuple[dict[str, polling.PollState], list[Record]]:
        """One run over every stream: (new state per stream, change events)."""
        state = dict(state or {})
        mapping = self._mapping()
        # the shop's tax setting, read once per run: it decides what a variant's price means
        included = await self.taxes_included() if "products" in self.streams else False
        new_state, events = dict(state), []
        for name in self.streams:
            operation, field, _ = STREAMS[name]
            base = state.get(name) or polling.PollState(
                overlap_seconds=self.overlap.total_seconds())
            run = polling.begin(base, started=now)
            observed = sorted(
                [self._observe(name, node, mapping, included) async for node in self.client.iterate(
                    operation, (field,), query=search_window(run.window()), lane=self.lane)],
                key=polling.key_of)
            for start in range(0, len(observed) + 1, self.batch):
                if run.finished:
                    break
                run, fresh = polling.advance(run, observed[start:start + self.batch],
                                             limit=self.batch)
                for record in fresh:
                    events.extend(record.record or [])
            new_state[name] = polling.commit(run)
        return new_state, events

    async def taxes_included(self) -> bool:
        """The shop's ``taxesIncluded``: whether its prices include tax (Settings -> Taxes)."""
        shop = (await self.client.execute("Shop", lane=self.lane)).get("shop") or {}
        value = shop.get("taxesIncluded")
        if not isinstance(value, bool):
            raise ValueError(f"the Shop answer has no taxesIncluded (got {value!r}); product "
                             "prices cannot be read without it")
        return value

    def _observe(self, stream: str, node: Record, mapping: MappingDoc, taxes_included: bool
                 ) -> polling.Observed:
        modified = shmap.parse_ts(node["updatedAt"])
        found = self.events_of(stream, node, mapping, taxes_included=taxes_included)
        # Nothing to emit (unpaid order, parked record): the version itself is the content.
        digest = content_hash({"events": [e["content_hash"] for e in found]} if found else
                              {"id": node["id"], "updatedAt": node["updatedAt"]})
        return polling.Observed(int(numeric_id(node["id"])), modified, digest, found)

    def events_of(self, stream: str, node: Record, mapping: MappingDoc, *,
                  taxes_included: bool) -> list[Record]:
        """Every change event one Shopify record gives (parking what cannot be mapped);
        ``taxes_included`` is the shop's setting (:meth:`taxes_included`)."""
        modified = shmap.parse_ts(node["updatedAt"])
        if stream == "customers":
            return self._mapped("contact", node["id"], modified,
                                lambda: shmap.customer_to_contact(node, mapping=mapping))
        if stream == "products":
            return [e for variant in (node.get("variants") or {}).get("nodes") or []
                    for e in self._mapped("product", variant["id"], modified,
                                          lambda v=variant: shmap.variant_to_product(
                                              node, v, mapping=mapping,
                                              taxes_included=taxes_included))]
        return self._order_events(node, modified, mapping)

    def _order_events(self, order: Record, modified: dt.datetime, mapping: MappingDoc
                      ) -> list[Record]:
        if str(order.get("displayFinancialStatus")) not in shmap.PAID_STATUSES:
            return []
        events = self._mapped("invoice", order["id"], modified, lambda: shmap.order_to_invoice(
            order, mapping=mapping, doc_type=self.order_documents, zone=self.zone))
        for refund in order.get("refunds") or []:
            events += self._mapped("invoice", refund["id"], shmap.parse_ts(refund["createdAt"]),
                                   lambda r=refund: shmap.refund_to_credit_note(
                                       order, r, mapping=mapping, zone=self.zone))
        for tx in order.get("transactions") or []:
            if tx.get("status") == "SUCCESS" and tx.get("kind") in ("SALE", "CAPTURE"):
                stamp = shmap.parse_ts(tx.get("processedAt") or order["createdAt"])
                events += self._mapped("payment", tx["id"], stamp,
                                       lambda t=tx: shmap.transaction_to_payment(
                                           order, t, mapping=mapping, zone=self.zone))
        return events

    def _mapped(self, entity: str, record_gid: str, modified: dt.datetime,
                build: Callable[[], Record]) -> list[Record]:
        try:
            payload = build()
        except Unmappable as exc:
            key = shmap.entity_key(entity, record_gid)
            logger.warning("parked %s: %s", key, exc)
            self.parked.append(Parked(key, tuple(exc.reasons)))
            return []
        return [change_event(entity, record_gid, modified, payload, lane=self.lane)]

    async def events_for(self, deliveries: Sequence[Delivery]) -> list[Record]:
        """Change events for webhook deliveries: every record read again before mapping."""
        ids: list[str] = []
        for delivery in deliveries:
            target = gid(delivery.resource, delivery.record_id)
            if target not in ids:
                ids.append(target)
        if not ids:
            return []
        mapping, events = self._mapping(), []
        nodes = await self.client.nodes(ids, lane=self.lane)
        # the shop's tax setting, read once per batch and only when a product needs it
        included = await self.taxes_included() if any(
            node.get("__typename") == "Product" for node in nodes) else False
        for node in nodes:
            stream = _STREAM_OF_TYPE.get(str(node.get("__typename")))
            if stream is not None and node.get("updatedAt"):
                events.extend(self.events_of(stream, node, mapping, taxes_included=included))
        return events
