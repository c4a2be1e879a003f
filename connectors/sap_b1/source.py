"""SAP B1 source: polling the Service Layer (SAP B1 has no usable webhooks; see docs/sap_b1.md).

BusinessPartners, Items, Invoices and CreditNotes are polled by ``UpdateDate`` + ``UpdateTime``
through :mod:`connectors.base.polling`: each run takes a signpost (``now``) and asks for the
records updated at or after ``watermark - overlap``, converted to the company server's local
date and time (SAP stores no zone; ``zone`` says which one it is). The filter is
``UpdateDate gt 'D' or (UpdateDate eq 'D' and UpdateTime ge 'T')``; records are sorted here by
the polling key and fed to the pure run, whose signpost leaves later ones for the next run.

Entity keys: ``contact/sap_b1/<CardCode>``, ``product/sap_b1/<ItemCode>``,
``invoice/sap_b1/<DocEntry>`` for Invoices, ``invoice/sap_b1/CN-<DocEntry>`` for CreditNotes
(SAP numbers the two DocEntry sequences separately, so a bare number would collide) and
``payment/sap_b1/<DocEntry>`` (but a payment our sink wrote, whose ``reference_field`` holds
the entity key of a payment born elsewhere, keeps that key: reading it back is our echo).
An incoming payment of a customer applied to no invoice is a payment on account
(``invoice_key`` None); one of a supplier or a G/L account is no event.

IncomingPayments have no update time: they are read by a ``DocEntry`` high-water mark
(``DocEntry gt <mark>``), with the highest DocEntry at the run's start as the signpost. Their
``source_ts`` is the payment's ``DocDate`` at local midnight (stable, so ``event_id`` is too).
A payment cancelled later is not seen again (limitation, see docs).

Stock (connectors/sap_b1/stock.py): while the mapping maps SAP warehouses, Items are read with
their ``ItemWarehouseInfoCollection`` and each product carries its levels. A stock movement may
leave the item's update time alone (UNVERIFIED), so every ``stock_interval`` a sweep reads
every inventory item once and reports those whose levels differ from what was last reported
(by the Items stream or the sweep), with the item's own update time as ``source_ts``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from app.core.hashing import content_hash
from app.core.keys import EntityKey
from app.mapping import Mapping as MappingDoc
from app.mapping import Unmappable
from connectors.base import polling
from connectors.base.limiter import Lane
from connectors.sap_b1 import mapping as sapmap
from connectors.sap_b1 import odata
from connectors.sap_b1 import stock
from connectors.sap_b1.client import SapB1Client

__all__ = ["STREAMS", "Parked", "SapB1Source", "Stream", "change_event"]

logger = logging.getLogger(__name__)

SYSTEM = sapmap.SYSTEM
Record = dict[str, Any]
# None: a record that is not an event (a receipt of a supplier or of a G/L account)
Mapper = Callable[[Record, MappingDoc, sapmap.Lookups, int], Record | None]


@dataclass(frozen=True, slots=True)
class Stream:
    entity_set: str
    entity: str
    key: str
    mapper: Mapper
    by: polling.By = "modified"
    prefix: str = ""  # Invoices and CreditNotes number DocEntry separately: keep keys apart
    select: tuple[str, ...] = ()  # $select; empty: every property

    def source_id(self, record: Record) -> str:
        return f"{self.prefix}{record[self.key]}"


STREAMS: Mapping[str, Stream] = {s.entity_set: s for s in (
    Stream("BusinessPartners", "contact", "CardCode",
           lambda r, m, lk, pl: sapmap.partner_to_contact(r, mapping=m, lookups=lk)),
    Stream("Items", "product", "ItemCode",
           lambda r, m, lk, pl: sapmap.item_to_product(r, mapping=m, price_list=pl),
           select=stock.ITEM_FIELDS),
    Stream("Invoices", "invoice", "DocEntry",
           lambda r, m, lk, pl: sapmap.document_to_invoice(r, mapping=m,
                                                           direct_rate=lk.direct_rate)),
    Stream("CreditNotes", "invoice", "DocEntry",
           lambda r, m, lk, pl: sapmap.document_to_invoice(r, mapping=m, credit_note=True,
                                                           direct_rate=lk.direct_rate),
           prefix=sapmap.CREDIT_NOTE_PREFIX),
    Stream("IncomingPayments", "payment", "DocEntry",
           lambda r, m, lk, pl: sapmap.payment_to_canonical(r, mapping=m), by="id"),
)}


@dataclass(frozen=True, slots=True)
class Parked:
    """An SAP record that could not be mapped; retried when it or the mapping changes."""

    entity_key: str
    reasons: tuple[str, ...]


def change_event(entity: str, record_id: str, source_ts: dt.datetime, payload: Record | None,
                 *, lane: Lane = "realtime", key: str | None = None) -> Record:
    """A ChangeEvent dict. ``event_id`` hashes (system, key, source time, content): the same
    version polled twice gives the same id, and A -> B -> A differ by time. ``key``: the
    entity key of a record born elsewhere (default ``<entity>/sap_b1/<record_id>``)."""
    key = key or sapmap.entity_key(entity, record_id)
    digest = content_hash(payload)
    stamp = source_ts.astimezone(dt.UTC).isoformat()
    event_id = hashlib.sha256(f"{SYSTEM}|{key}|{stamp}|{digest}".encode()).hexdigest()
    return {"event_id": event_id, "entity_key": key, "entity": entity, "source_system": SYSTEM,
            "source_id": record_id, "source_ts": source_ts,
            "op": "upsert" if payload is not None else "delete", "payload": payload,
            "content_hash": digest, "lane": lane}


class SapB1Source:
    """Polls the configured streams of one SAP B1 company."""

    system = SYSTEM

    def __init__(self, client: SapB1Client, *, mapping: MappingDoc | Callable[[], MappingDoc],
                 streams: Sequence[str] = tuple(STREAMS), zone: str | dt.tzinfo = "Europe/Madrid",
                 batch: int = 100, overlap: dt.timedelta = polling.DEFAULT_OVERLAP,
                 price_list: int = 1, lane: Lane = "realtime",
                 reference_field: str = "Remarks", direct_rate: bool = True,
                 stock_interval: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        unknown = set(streams) - set(STREAMS)
        if unknown:
            raise ValueError(f"unknown streams {sorted(unknown)}; one of {list(STREAMS)}")
        self.client = client
        self._mapping = mapping if callable(mapping) else (lambda: mapping)
        self.streams = tuple(streams)
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        self.batch, self.overlap, self.price_list, self.lane = batch, overlap, price_list, lane
        self.reference_field = reference_field  # the SapB1Sink's: where it writes the entity key
        self.direct_rate = direct_rate  # the company's exchange rate quotation (OADM.DirectRate)
        self.stock_interval = stock_interval  # how often every inventory item's stock is read
        self.parked: list[Parked] = []

    async def lookups(self) -> sapmap.Lookups:
        terms = [t async for t in self.client.list("PaymentTermsTypes", lane=self.lane)]
        return sapmap.Lookups.build(terms, direct_rate=self.direct_rate)

    async def poll(self, state: Mapping[str, polling.PollState] | None, now: dt.datetime
                   ) -> tuple[dict[str, polling.PollState], list[Record]]:
        """One run over every stream: (new state per entity set, change events)."""
        state = dict(state or {})
        mapping, lookups = self._mapping(), await self.lookups()
        warehouses = stock.mapped_warehouses(mapping)
        new_state, events = dict(state), []
        for name in self.streams:
            stream = STREAMS[name]
            base = state.get(name) or polling.PollState(
                overlap_seconds=self.overlap.total_seconds())
            if stream.by == "id":
                run = polling.begin(base, started=now, by="id",
                                    id_signpost=await self.client.highest(name))
            else:
                run = polling.begin(base, started=now)
            select = stream.select + ((stock.COLLECTION,) if stream.select and warehouses
                                      and stream.entity == "product" else ())
            parked = len(self.parked)
            observed = sorted([self._observe(stream, record, mapping, lookups)
                               async for record in self._window(stream, run.window(), select)],
                              key=lambda o: polling.key_of(o, stream.by))
            for start in range(0, len(observed) + 1, self.batch):
                if run.finished:
                    break
                run, fresh = polling.advance(run, observed[start:start + self.batch],
                                             limit=self.batch)
                fresh_events = [o.record for o in fresh if o.record is not None]
                events.extend(fresh_events)
                if stream.entity == "product" and warehouses:
                    new_state[stock.SWEEP] = stock.noted(
                        new_state.get(stock.SWEEP), stock.levels_of(fresh_events))
            if stream.entity == "product" and warehouses:  # what it parked is known too
                new_state[stock.SWEEP] = stock.noted(new_state.get(stock.SWEEP), {
                    p.entity_key.rsplit("/", 1)[1]: stock.digest({"unmappable": list(p.reasons)})
                    for p in self.parked[parked:]})
            new_state[name] = polling.commit(run)
        if "Items" in self.streams and warehouses and stock.sweep_due(
                new_state.get(stock.SWEEP), now, self.stock_interval):
            new_state[stock.SWEEP], swept = await self._sweep(
                new_state.get(stock.SWEEP), now, mapping, lookups)
            events.extend(swept)
        return new_state, events

    async def _sweep(self, state: polling.PollState | None, now: dt.datetime,
                     mapping: MappingDoc, lookups: sapmap.Lookups
                     ) -> tuple[polling.PollState, list[Record]]:
        """Every inventory item's levels, read once: (the sweep's new state, the product
        events of the items whose levels differ from what was last reported). An item that
        cannot be mapped is parked once per distinct set of reasons, not at every sweep."""
        items, seen = STREAMS["Items"], stock.remembered(state)
        reported, events = {}, []
        async for item in self.client.list(
                "Items", filter=stock.SWEEP_FILTER, select=(*items.select, stock.COLLECTION),
                orderby=items.key, lane=self.lane):
            code = str(item[items.key])
            try:
                payload = items.mapper(item, mapping, lookups, self.price_list)
            except Unmappable as exc:
                reported[code] = stock.digest({"unmappable": list(exc.reasons)})
                if seen.get(code) != reported[code]:
                    key = sapmap.entity_key(items.entity, code)
                    logger.warning("parked %s: %s", key, exc)
                    self.parked.append(Parked(key, tuple(exc.reasons)))
                continue
            assert payload is not None  # an item always maps to a product
            reported[code] = stock.digest(payload["stock"])
            if seen.get(code) != reported[code]:
                events.append(change_event(items.entity, code, self._source_ts(items, item),
                                           payload, lane=self.lane))
        return stock.after_sweep(now, reported), events

    def _window(self, stream: Stream, window: polling.Window, select: Sequence[str] = ()
                ) -> AsyncIterator[Record]:
        if stream.by == "id":
            flt = None if window.after_id is None else f"DocEntry gt {int(window.after_id)}"
            return self.client.list(stream.entity_set, filter=flt, orderby="DocEntry",
                                    lane=self.lane)
        flt = None
        if window.since is not None:
            day, time = odata.split_local(window.since, self.zone)
            flt = (f"UpdateDate gt {odata.string(day)} or (UpdateDate eq {odata.string(day)} "
                   f"and UpdateTime ge {odata.string(time)})")
        return self.client.list(stream.entity_set, filter=flt, select=select,
                                orderby=f"UpdateDate,UpdateTime,{stream.key}", lane=self.lane)

    def _source_ts(self, stream: Stream, record: Record) -> dt.datetime:
        if stream.by == "id":
            return odata.local_datetime(record.get("DocDate"), None, self.zone) or dt.datetime(
                1970, 1, 1, tzinfo=dt.UTC)
        moment = (odata.local_datetime(record.get("UpdateDate"), record.get("UpdateTime"),
                                       self.zone)
                  or odata.local_datetime(record.get("CreateDate"), record.get("CreateTime"),
                                          self.zone))
        if moment is None:
            raise ValueError(f"{stream.entity_set} record without UpdateDate or CreateDate")
        return moment

    def _observe(self, stream: Stream, record: Record, mapping: MappingDoc,
                 lookups: sapmap.Lookups) -> polling.Observed:
        # the raw key (an int DocEntry) keeps the id high-water mark numeric
        record_id = stream.source_id(record) if stream.prefix else record[stream.key]
        source_ts = self._source_ts(stream, record)
        event = self._event(stream, record, mapping, lookups, source_ts)
        digest = event["content_hash"] if event else content_hash(
            {k: v for k, v in record.items() if k != "odata.etag"})
        modified = None if stream.by == "id" else source_ts
        return polling.Observed(record_id, modified, digest, event)

    def _event(self, stream: Stream, record: Record, mapping: MappingDoc,
               lookups: sapmap.Lookups, source_ts: dt.datetime) -> Record | None:
        record_id = stream.source_id(record)
        key = self._born_elsewhere(stream, record)
        if stream.entity == "payment" and record.get("Cancelled") == "tYES":
            return change_event(stream.entity, record_id, source_ts, None, lane=self.lane,
                                key=key)
        try:
            payload = stream.mapper(record, mapping, lookups, self.price_list)
        except Unmappable as exc:
            key = key or sapmap.entity_key(stream.entity, record_id)
            logger.warning("parked %s: %s", key, exc)
            self.parked.append(Parked(key, tuple(exc.reasons)))
            return None
        if payload is None:
            logger.debug("%s %s is not synced (not a customer's)", stream.entity_set, record_id)
            return None
        return change_event(stream.entity, record_id, source_ts, payload, lane=self.lane, key=key)

    def _born_elsewhere(self, stream: Stream, record: Record) -> str | None:
        """The entity key our sink wrote into a payment's ``reference_field`` (a payment from
        Holded, say): that payment keeps its key, so reading it back is the echo of our write
        and not a new SAP payment (which would be paid again in Holded)."""
        ref = record.get(self.reference_field) if stream.entity == "payment" else None
        if not isinstance(ref, str):
            return None
        try:
            key = EntityKey.parse(ref.strip())
        except ValueError:
            return None
        return str(key) if key.entity == "payment" and key.origin != SYSTEM else None
