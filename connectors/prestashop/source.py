"""PrestaShop source: incremental polling (``date_upd`` with ``date=1``, id high-water marks)
and a push-hook parser.

``PrestaShopSource.poll(state, now)`` walks six streams with :mod:`connectors.base.polling`:

================  ===========  ==================================================
stream            by           emits
================  ===========  ==================================================
customers         date_upd     contacts (tax data read from the customer's address)
addresses         date_upd     the contact of the address's customer
products          date_upd     products (SKU = ``reference``)
orders            date_upd     invoices of invoiced orders, and their payments
order_invoices    id           the invoice (no ``date_upd`` on order_invoices)
order_payments    id           payments on invoiced orders (no ``date_upd`` either)
================  ===========  ==================================================

Every window is read to its end, ``batch`` records at a time by id (``filter[id]=[last+1,MAX]``
with ``limit=0,<batch>``: a keyset, so a record changed mid-walk cannot shift the pages),
sorted by the polling key and fed to the pure run; the state is committed only when every stream finished. Dates are
shop-local: ``shop_timezone`` (default Europe/Madrid) turns them into aware datetimes.

An invoice is keyed ``invoice/prestashop/<id_order_invoice>``; an order without an invoice is
not an event. A payment of an order not yet invoiced is not lost when its id mark moves on:
the order's invoice event, when it comes, brings the order's payments along.

Push: PrestaShop core sends no webhooks. A module (or any webhook module) posting
``{"resource": "orders", "id": 7}`` (or ``{"object": "Order", "id": 7}``, or a list of such)
can notify us; :func:`parse_push` reads it and :meth:`PrestaShopSource.fetch` re-reads the
records (a push body is never trusted as data).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from app.core.hashing import content_hash
from app.mapping import Mapping, Unmappable
from connectors.base.errors import ErrorContext, PaginationLoop, SkipRecord
from connectors.base.limiter import Lane
from connectors.base.polling import Observed, PollState, Window, advance, begin, commit, key_of
from connectors.prestashop.client import PrestaShopClient, any_of, interval
from connectors.prestashop.mapping import (
    SYSTEM, Catalog, InvoiceParts, contact_from_ps, entity_key, invoice_from_ps,
    parse_ps_datetime, payment_from_ps, product_from_ps, ps_datetime,
)

__all__ = ["STREAMS", "PrestaShopPollState", "PrestaShopPoller", "PrestaShopSource", "PushRef",
           "parse_push"]

logger = logging.getLogger(__name__)

Record = dict[str, Any]
STREAMS: dict[str, Literal["modified", "id"]] = {
    "customers": "modified", "addresses": "modified", "products": "modified",
    "orders": "modified", "order_invoices": "id", "order_payments": "id"}
_CLASSES = {"Customer": "customers", "Address": "addresses", "Product": "products",
            "Order": "orders", "OrderInvoice": "order_invoices",
            "OrderPayment": "order_payments"}
MAX_ID = 2147483647
EPOCH = "1970-01-01 00:00:00"


@dataclass(frozen=True, slots=True)
class PrestaShopPollState:
    """One :class:`PollState` per stream; JSON-serialisable."""

    streams: MappingABC[str, PollState] = field(default_factory=dict)

    def get(self, stream: str) -> PollState | None:
        return self.streams.get(stream)

    def to_json(self) -> str:
        return json.dumps({k: v.to_json() for k, v in sorted(self.streams.items())})

    @classmethod
    def from_json(cls, text: str | None) -> PrestaShopPollState:
        data = json.loads(text) if text else {}
        return cls({k: PollState.from_json(v) for k, v in data.items()})


@dataclass(frozen=True, slots=True)
class PushRef:
    resource: str
    ids: tuple[int, ...]


def parse_push(body: bytes | str | MappingABC[str, Any] | list[Any]) -> list[PushRef]:
    """Records to re-read from a push body: ``{"resource"|"object", "id"}`` or a list."""
    data = json.loads(body) if isinstance(body, bytes | str) else body
    found: dict[str, list[int]] = {}
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, MappingABC):
            raise SkipRecord(f"push body is not an object: {item!r}")
        resource = item.get("resource") or _CLASSES.get(str(item.get("object")))
        rid = item.get("id")
        if isinstance(rid, str) and rid.isdigit():
            rid = int(rid)
        if resource not in STREAMS or isinstance(rid, bool) or not isinstance(rid, int):
            raise SkipRecord(f"push body names no known resource and id: {dict(item)!r}")
        if not 0 < rid < 1 << 32:  # PrestaShop's ids are unsigned 32-bit (INT(10) UNSIGNED)
            raise SkipRecord(f"push body names id {str(rid)[:40]}, which no PrestaShop record has")
        ids = found.setdefault(str(resource), [])
        if rid not in ids:
            ids.append(rid)
    return [PushRef(resource, tuple(ids)) for resource, ids in found.items()]


class PrestaShopSource:
    """Polls one shop. ``mapping`` is the current mapping document."""

    system = SYSTEM

    def __init__(self, client: PrestaShopClient, mapping: Mapping, *,
                 shop_timezone: str = "Europe/Madrid", invoice_prefix: str = "WEB",
                 batch: int = 100, overlap: dt.timedelta = dt.timedelta(seconds=5),
                 streams: Iterable[str] = tuple(STREAMS), language_id: int = 1) -> None:
        unknown = set(streams) - set(STREAMS)
        if unknown:
            raise ValueError(f"unknown streams {sorted(unknown)}; one of {list(STREAMS)}")
        self.client, self.mapping = client, mapping
        self.tz = ZoneInfo(shop_timezone)
        self.invoice_prefix, self.batch, self.overlap = invoice_prefix, batch, overlap
        self.streams = tuple(streams)
        self.language_id = language_id
        self.skipped: list[tuple[str, int, str]] = []  # (stream, id, reason) of the last run

    # ---- polling ---------------------------------------------------------------------------
    async def poll(self, state: PrestaShopPollState | None, now: dt.datetime
                   ) -> tuple[PrestaShopPollState, list[Record]]:
        state = state or PrestaShopPollState()
        catalog = await self.catalog()
        self.skipped = []
        new = dict(state.streams)
        events: dict[str, Record] = {}
        for stream in self.streams:
            by = STREAMS[stream]
            base = state.get(stream) or PollState(overlap_seconds=self.overlap.total_seconds())
            lane: Lane = "bulk" if base.watermark is None and base.id_mark is None else "realtime"
            run = begin(base, now, by=by)
            rows = await self._window(stream, run.window())
            observed = sorted(await self._observe(stream, rows, catalog, lane),
                              key=lambda o: key_of(o, by))
            start = 0
            while not run.finished:
                chunk = observed[start:start + self.batch]
                run, fresh = advance(run, chunk, limit=self.batch)
                start += self.batch
                for o in fresh:
                    for event in o.record or ():
                        events.setdefault(event["event_id"], event)
            new[stream] = commit(run)
        return PrestaShopPollState(new), list(events.values())

    async def fetch(self, refs: Iterable[PushRef]) -> list[Record]:
        """Change events for pushed records, re-read from PrestaShop."""
        catalog = await self.catalog()
        events: dict[str, Record] = {}
        for ref in refs:
            rows = await self._rows(ref.resource, {"id": any_of(ref.ids)})
            for o in await self._observe(ref.resource, rows, catalog, "realtime"):
                for event in o.record or ():
                    events.setdefault(event["event_id"], event)
        return list(events.values())

    async def catalog(self) -> Catalog:
        countries = await self._rows("countries", display="[id,iso_code]")
        currencies = await self._rows("currencies", display="[id,iso_code]")
        return Catalog({int(c["id"]): str(c["iso_code"]).upper() for c in countries},
                       {int(c["id"]): str(c["iso_code"]).upper() for c in currencies},
                       self.language_id)

    async def _rows(self, resource: str, filters: MappingABC[str, str] | None = None, *,
                    display: str = "full", date: bool = False, lane: Lane = "realtime"
                    ) -> list[Record]:
        return [r async for r in self.client.list(resource, filters=filters, display=display,
                                                  sort="[id_ASC]", date=date, lane=lane)]

    async def _window(self, stream: str, window: Window) -> list[Record]:
        """Every record of the window, walked by ``id`` (keyset: ``filter[id]=[last+1,MAX]``).

        Not by offset: a record changed during the walk leaves the window and would shift
        every later offset, silently skipping one record (its next run would start past it).
        """
        filters: dict[str, str] = {}
        dated = window.by == "modified"
        low = 1
        if not dated:
            low = (window.id_mark or 0) + 1 if isinstance(window.id_mark, int) else 1
        else:
            since = ps_datetime(window.since, self.tz) if window.since is not None else EPOCH
            filters["date_upd"] = interval(since, ps_datetime(window.until, self.tz))
        rows: list[Record] = []
        while True:
            page = await self.client.page(stream, limit=self.batch, sort="[id_ASC]", date=dated,
                                          filters={**filters, "id": interval(low, MAX_ID)},
                                          lane="bulk")
            if page and int(page[-1]["id"]) < low:
                raise PaginationLoop(f"{stream}: the id filter was ignored (page ends at "
                                     f"{page[-1]['id']}, asked from {low})",
                                     context=ErrorContext(SYSTEM))
            rows += page
            if len(page) < self.batch:
                return rows
            low = int(page[-1]["id"]) + 1

    # ---- records -> events -----------------------------------------------------------------
    async def _observe(self, stream: str, rows: list[Record], catalog: Catalog, lane: Lane
                       ) -> list[Observed]:
        if stream in ("customers", "addresses"):
            built = await self._contacts(stream, rows, catalog, lane)
        elif stream == "products":
            built = {int(r["id"]): self._one("product", r["id"], r, lambda r=r: product_from_ps(
                r, catalog, self.mapping), lane, stream) for r in rows}
        else:
            built = await self._invoices(stream, rows, catalog, lane)
        out = []
        for row in rows:
            modified = (parse_ps_datetime(row.get("date_upd"), self.tz)
                        if STREAMS[stream] == "modified" else None)
            events = built.get(int(row["id"]), [])
            digest = ("|".join(e["content_hash"] for e in events) if events
                      else "none")
            out.append(Observed(int(row["id"]), modified, digest, events))
        return out

    def _one(self, entity: str, rid: Any, row: Record, build: Any, lane: Lane, stream: str,
             ts: Any = None) -> list[Record]:
        try:
            payload = build()
        except (Unmappable, SkipRecord) as error:
            self.skipped.append((stream, int(row["id"]), str(error)))
            logger.warning("prestashop %s %s not mapped: %s", stream, row["id"], error)
            return []
        when = (parse_ps_datetime(ts or row.get("date_upd") or row.get("date_add"), self.tz)
                or dt.datetime.now(dt.UTC))
        return [self._event(entity, rid, when, payload, lane)]

    async def _contacts(self, stream: str, rows: list[Record], catalog: Catalog, lane: Lane
                        ) -> dict[int, list[Record]]:
        if stream == "customers":
            customers = {int(c["id"]): c for c in rows}
        else:
            ids = sorted({int(a["id_customer"]) for a in rows if int(a.get("id_customer") or 0)})
            customers = ({int(c["id"]): c for c in await self._rows(
                "customers", {"id": any_of(ids)})} if ids else {})
        addresses: dict[int, list[Record]] = {}
        if customers:
            for a in await self._rows("addresses", {"id_customer": any_of(sorted(customers))}):
                addresses.setdefault(int(a["id_customer"]), []).append(a)
        events: dict[int, list[Record]] = {}
        for cid, customer in customers.items():
            if str(customer.get("deleted", "0")) == "1" or str(customer.get("is_guest")) == "1":
                events[cid] = []
                continue
            # The contact changes with its customer or its addresses: the later date_upd.
            stamps = [customer.get("date_upd")] + [a.get("date_upd") for a in addresses.get(cid, [])]
            latest = max((s for s in stamps if isinstance(s, str)), default=None)
            events[cid] = self._one("contact", cid, customer, lambda c=customer, cid=cid:
                                    contact_from_ps(c, addresses.get(cid, []), catalog,
                                                    self.mapping), lane, stream, latest)
        if stream == "customers":
            return events
        return {int(a["id"]): events.get(int(a.get("id_customer") or 0), []) for a in rows}

    async def _invoices(self, stream: str, rows: list[Record], catalog: Catalog, lane: Lane
                        ) -> dict[int, list[Record]]:
        """Invoice and payment events for rows of orders, order_invoices or order_payments."""
        if stream == "orders":
            orders = rows
        elif stream == "order_invoices":
            ids = sorted({int(r["id_order"]) for r in rows})
            orders = await self._rows("orders", {"id": any_of(ids)}) if ids else []
        else:
            refs = sorted({str(r["order_reference"]) for r in rows})
            orders = await self._rows("orders", {"reference": any_of(refs)}) if refs else []
        invoiced = [o for o in orders if (int(o.get("invoice_number") or 0) > 0)]
        by_order: dict[int, list[Record]] = {int(o["id"]): [] for o in orders}
        if invoiced:
            order_ids = any_of(sorted(int(o["id"]) for o in invoiced))
            invoices = await self._rows("order_invoices", {"id_order": order_ids})
            details = await self._rows("order_details", {"id_order": order_ids})
            payments = await self._rows("order_payments", {"order_reference": any_of(
                sorted({str(o["reference"]) for o in invoiced}))})
            address_ids = sorted({int(o["id_address_invoice"]) for o in invoiced})
            addresses = {int(a["id"]): a for a in await self._rows(
                "addresses", {"id": any_of(address_ids)})}
            for order in invoiced:
                oid = int(order["id"])
                mine = sorted((i for i in invoices if int(i["id_order"]) == oid),
                              key=lambda i: int(i["id"]))
                for inv in mine:
                    lines = [d for d in details if int(d["id_order"]) == oid and (
                        int(d.get("id_order_invoice") or 0) in (0, int(inv["id"])))]
                    parts = InvoiceParts(order, inv, lines,
                                         addresses.get(int(order["id_address_invoice"])))
                    by_order[oid] += self._one(
                        "invoice", inv["id"], inv, lambda p=parts: invoice_from_ps(
                            p, catalog, self.mapping, invoice_prefix=self.invoice_prefix),
                        lane, stream, order.get("date_upd"))
                if mine:
                    key = entity_key("invoice", mine[0]["id"])
                    for pay in payments:
                        if pay["order_reference"] == order["reference"]:
                            by_order[oid] += self._one(
                                "payment", pay["id"], pay, lambda p=pay, o=order, k=key:
                                payment_from_ps(p, o, k, catalog, self.mapping), lane, stream,
                                pay.get("date_add"))
        if stream == "orders":
            return by_order
        if stream == "order_invoices":
            return {int(r["id"]): [e for e in by_order.get(int(r["id_order"]), [])
                                   if e["entity"] == "invoice"] for r in rows}
        order_of = {str(o["reference"]): int(o["id"]) for o in orders}
        return {int(r["id"]): [e for e in by_order.get(order_of.get(str(r["order_reference"]), 0),
                                                       [])
                               if e["entity_key"] == entity_key("payment", r["id"])]
                for r in rows}

    def _event(self, entity: str, rid: Any, modified: dt.datetime, payload: Record,
               lane: Lane) -> Record:
        key = entity_key(entity, rid)
        digest = content_hash(payload)
        event_id = hashlib.sha256(f"{SYSTEM}|{key}|{digest}".encode()).hexdigest()[:32]
        return {"event_id": event_id, "entity_key": key, "entity": entity,
                "source_system": SYSTEM, "source_id": str(rid), "source_ts": modified,
                "op": "upsert", "payload": payload, "content_hash": digest, "lane": lane}




@dataclass
class PrestaShopPoller:
    """The worker's poller shape (state as JSON text), for ``app/connections.py`` to register:
    ``PrestaShopPoller(client, mapping_provider, shop_timezone=..., invoice_prefix=...)``."""

    client: PrestaShopClient
    mapping: Callable[[], Mapping]
    shop_timezone: str = "Europe/Madrid"
    invoice_prefix: str = "WEB"
    system: str = SYSTEM

    async def poll(self, state: str | None, now: dt.datetime) -> tuple[str, list[Record]]:
        source = PrestaShopSource(self.client, self.mapping(), shop_timezone=self.shop_timezone,
                                  invoice_prefix=self.invoice_prefix)
        new, events = await source.poll(PrestaShopPollState.from_json(state), now)
        return new.to_json(), events
