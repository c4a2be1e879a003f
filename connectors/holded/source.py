"""The Holded change source: an incremental poller of contacts, documents and payments.

Holded v1 has no ``updatedAt`` and no webhooks, and its list filters work on the *document
date*, not on modification time (reference §3, §5). So a run:

- lists every contact (no filter exists; 500 per page),
- lists the invoices and credit notes dated from the watermark minus an overlap window
  (default 2 days), and the payments (``GET /payments?starttmp=``) the same way,
- re-reads the document of every payment it saw, so a payment on an old invoice also
  brings that invoice's new payment state,
- with ``read_stock``, lists every product and reads every warehouse's stock once
  (connectors.holded.source_stock), so each product, and each variant of a product with
  variants, is reported with its levels,
- and every ``rescan_every`` (default 1 day), and on the first run, lists everything (a full
  re-scan, lane ``bulk``) to catch edits to records outside the window; a payment it knew and
  no longer lists was deleted, and becomes a delete event.

Whatever a run reads is compared, record by record, with the content hash last emitted for
that record: only new or changed records become change events. That per-record hash map is
both the overlap de-duplication and what lets a re-scan emit only what changed.

State is pure: :func:`begin_run`, :func:`observe` and :func:`commit` are functions of
(old state, records, now); :func:`poll_once` is the thin async driver. The watermark is the
*start* of the last successful run, and a run that raises leaves the caller's state as it was
(nothing half-advanced, nothing emitted): the next run reads the same window again and
produces the same event ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping as MappingABC, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.core.hashing import content_hash
from app.mapping import Mapping, Unmappable
from connectors.holded import inbound, inbound_products
from connectors.holded.errors import NotFound
from connectors.holded.inbound_products import StockTable
from connectors.holded.source_stock import read_stock_table

__all__ = [
    "CONTACTS", "PAYMENTS", "PRODUCTS", "PollConfig", "PollState", "Run", "Observed",
    "begin_run", "observe", "commit", "change_event", "deleted_payment_event", "event_id",
    "poll_once", "fetch_change",
]

logger = logging.getLogger(__name__)

CONTACTS, PAYMENTS, PRODUCTS = "contacts", "payments", "products"
STATE_VERSION = 1
HASH_CHARS = 16  # 64 bits of sha256 per record keeps the state small; collisions are negligible

Lane = Literal["realtime", "bulk"]
Parked = Callable[[str, str, list[str]], None]  # (resource, Holded id, reasons)


@dataclass(frozen=True, slots=True)
class PollConfig:
    """What to poll and how wide the windows are."""

    doc_types: tuple[str, ...] = ("invoice", "creditnote")
    document_overlap: dt.timedelta = dt.timedelta(days=2)
    payment_overlap: dt.timedelta = dt.timedelta(days=2)
    rescan_every: dt.timedelta = dt.timedelta(days=1)
    # A /payments item naming no document but a customer: a payment on account (docs/holded.md
    # §4, "Payments on account"). False: skipped, as before (HOLDED_PAYMENTS_ON_ACCOUNT).
    payments_on_account: bool = True
    # Products with their stock per warehouse (HOLDED_READ_STOCK): costs a product listing and
    # one stock read per warehouse every run, which tenants without inventory do not want.
    read_stock: bool = False

    def resources(self) -> tuple[str, ...]:
        return (CONTACTS, *((PRODUCTS,) if self.read_stock else ()), *self.doc_types, PAYMENTS)

    def overlap(self, resource: str) -> dt.timedelta | None:
        """The look-back of a date-filtered resource; None for contacts and products (always
        listed whole: Holded has no filter for them)."""
        if resource in (CONTACTS, PRODUCTS):
            return None
        return self.payment_overlap if resource == PAYMENTS else self.document_overlap


@dataclass(frozen=True, slots=True)
class PollState:
    """Where polling stands. Never mutated: every function returns a new one.

    ``watermarks``: resource -> epoch seconds of the start of its last successful run.
    ``hashes``: resource -> {Holded id: short content hash of the payload last emitted}.
    ``last_full_scan``: epoch seconds of the start of the last successful full re-scan.
    """

    watermarks: MappingABC[str, int] = field(default_factory=dict)
    hashes: MappingABC[str, MappingABC[str, str]] = field(default_factory=dict)
    last_full_scan: int | None = None

    def to_json(self) -> str:
        return json.dumps({
            "version": STATE_VERSION, "watermarks": dict(self.watermarks),
            "hashes": {r: dict(h) for r, h in self.hashes.items()},
            "last_full_scan": self.last_full_scan,
        }, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes | None) -> PollState:
        """Parse :meth:`to_json` output; None or empty means a fresh state (a first full run)."""
        if not text:
            return cls()
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"not a Holded poll state of version {STATE_VERSION}")
        marks, hashes, full = data.get("watermarks", {}), data.get("hashes", {}), data.get("last_full_scan")
        if not (isinstance(marks, dict) and all(isinstance(v, int) for v in marks.values())
                and isinstance(hashes, dict)
                and all(isinstance(h, dict) and all(isinstance(x, str) for x in h.values())
                        for h in hashes.values())
                and (full is None or isinstance(full, int))):
            raise ValueError("malformed Holded poll state")
        return cls(dict(marks), {r: dict(h) for r, h in hashes.items()}, full)


@dataclass(frozen=True, slots=True)
class Run:
    """One polling run: when it started, whether it re-scans everything, and its windows."""

    started_at: int
    full: bool
    windows: MappingABC[str, int | None]  # resource -> starttmp (None: from the beginning)

    @property
    def lane(self) -> Lane:
        return "bulk" if self.full else "realtime"


@dataclass(frozen=True, slots=True)
class Observed:
    """A Holded record read in this run, mapped to canonical."""

    resource: str
    source_id: str
    entity: str
    entity_key: str
    payload: dict[str, Any]
    content_hash: str


def _epoch(now: dt.datetime) -> int:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp())


def begin_run(state: PollState, now: dt.datetime, config: PollConfig = PollConfig()) -> Run:
    """Plan a run that starts at ``now``: full re-scan when due (or first), else windows.

    A dated resource the state has no watermark for (a document type just added to
    HOLDED_POLL_DOCUMENTS) is listed from the beginning: that run is a full re-scan too, so its
    backlog goes to the bulk lane, not ahead of real-time work."""
    started = _epoch(now)
    every = int(config.rescan_every.total_seconds())
    unread = any(config.overlap(r) is not None and r not in state.watermarks
                 for r in config.resources())
    full = state.last_full_scan is None or started - state.last_full_scan >= every or unread
    windows: dict[str, int | None] = {}
    for resource in config.resources():
        overlap, mark = config.overlap(resource), state.watermarks.get(resource)
        windows[resource] = (None if full or overlap is None or mark is None
                             else max(0, mark - int(overlap.total_seconds())))
    return Run(started, full, windows)


def observe(state: PollState, run: Run, records: Sequence[Observed]
            ) -> tuple[PollState, list[Observed]]:
    """Records whose content hash differs from the one last emitted, and the state knowing them.

    A record seen twice in one run (an overlap, a document re-read for a payment) is emitted
    at most once per content.
    """
    touched: dict[str, dict[str, str]] = {}
    emit: list[Observed] = []
    for record in records:
        short = record.content_hash[:HASH_CHARS]
        known = touched.get(record.resource)
        if known is None:
            known = touched[record.resource] = dict(state.hashes.get(record.resource, {}))
        if known.get(record.source_id) == short:
            continue
        known[record.source_id] = short
        emit.append(record)
    if not touched:
        return state, emit
    hashes = {**state.hashes, **touched}
    return PollState(state.watermarks, hashes, state.last_full_scan), emit


def commit(state: PollState, run: Run, *, resources: Iterable[str],
           listed: MappingABC[str, set[str]] | None = None) -> PollState:
    """A successful run: every resource's watermark becomes the run's *start*.

    After a full re-scan, ``listed`` (resource -> ids read) drops the hashes of records that
    no longer exist, so the state does not grow with deleted records.
    """
    marks = {**state.watermarks, **{r: run.started_at for r in resources}}
    hashes = state.hashes
    if run.full and listed is not None:
        hashes = {r: ({i: h for i, h in known.items() if i in listed[r]} if r in listed else known)
                  for r, known in state.hashes.items()}
    return PollState(marks, hashes, run.started_at if run.full else state.last_full_scan)


def event_id(entity_key: str, digest: str) -> str:
    """Stable per observation: the same content of the same entity always has the same id."""
    return hashlib.sha256(f"{inbound.SYSTEM}\x00{entity_key}\x00{digest}".encode()).hexdigest()[:32]


def change_event(record: Observed, now: dt.datetime, lane: Lane) -> dict[str, Any]:
    """The ChangeEvent record (in-memory form) for one observed record."""
    _epoch(now)
    return {
        "event_id": event_id(record.entity_key, record.content_hash),
        "entity_key": record.entity_key, "entity": record.entity,
        "source_system": inbound.SYSTEM, "source_id": record.source_id,
        "source_ts": now,  # v1 gives no modification time: when we saw it
        "op": "upsert", "payload": record.payload, "content_hash": record.content_hash,
        "lane": lane,
    }


def deleted_payment_event(payment_id: str, now: dt.datetime, lane: Lane) -> dict[str, Any]:
    """The delete event of a payment Holded no longer has (deleted, or its document deleted).

    Its key is ``payment/holded/<id>``: a payment born elsewhere (an ``hs:`` marker) had
    another key, which the poll state does not keep; its delete names an entity the engine
    does not know and changes nothing. A payment born in Holded that reached an ERP reaches
    it as a delete command, and the ERP sink parks it for someone to reverse it there."""
    _epoch(now)
    key, digest = f"payment/{inbound.SYSTEM}/{payment_id}", content_hash(None)
    return {"event_id": event_id(key, digest), "entity_key": key, "entity": "payment",
            "source_system": inbound.SYSTEM, "source_id": payment_id, "source_ts": now,
            "op": "delete", "payload": None, "content_hash": digest, "lane": lane}


def _observed(resource: str, source_id: str, entity: str, key: str,
              payload: dict[str, Any]) -> Observed:
    return Observed(resource, source_id, entity, key, payload, content_hash(payload))


class _Reader:
    """The I/O half of a run: reads records, resolves keys with a cache, maps to canonical."""

    def __init__(self, client: Any, mapping: Mapping, lane: Lane, doc_types: Sequence[str],
                 on_parked: Parked | None, on_account: bool = True) -> None:
        self.client, self.mapping, self.lane = client, mapping, lane
        self.doc_types, self.on_parked = tuple(doc_types), on_parked
        self.on_account = on_account
        self.contacts: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (docType, record)

    def park(self, resource: str, source_id: str, reasons: list[str]) -> None:
        logger.warning("holded %s %s not mapped: %s", resource, source_id, "; ".join(reasons))
        if self.on_parked is not None:
            self.on_parked(resource, source_id, reasons)

    async def contact(self, contact_id: Any) -> dict[str, Any] | None:
        if contact_id in (None, ""):
            return None
        contact_id = str(contact_id)
        if contact_id not in self.contacts:
            try:
                self.contacts[contact_id] = await self.client.contacts.get(contact_id, lane=self.lane)
            except NotFound:
                return None
        return self.contacts[contact_id]

    async def document(self, document_id: str, doc_type: str | None) -> tuple[str, dict] | None:
        if document_id in self.documents:
            return self.documents[document_id]
        for candidate in ([doc_type] if doc_type else self.doc_types):
            try:
                record = await self.client.documents(candidate).get(document_id, lane=self.lane)
            except NotFound:
                continue
            self.documents[document_id] = (candidate, record)
            return self.documents[document_id]
        return None

    def map_contact(self, record: dict[str, Any]) -> Observed | None:
        try:
            payload = inbound.contact_from_holded(record, mapping=self.mapping)
        except Unmappable as exc:
            self.park(CONTACTS, str(record["id"]), exc.reasons)
            return None
        return _observed(CONTACTS, str(record["id"]), "contact", inbound.contact_key(record), payload)

    def map_product(self, record: dict[str, Any], table: StockTable,
                    variant: dict[str, Any] | None = None) -> Observed | None:
        """A product of kind ``simple``, or one ``variant`` of a product with variants."""
        source_id = inbound_products.source_id(record, variant)
        try:
            stock = inbound_products.stock_of(record, table, mapping=self.mapping, variant=variant)
            payload = inbound_products.product_from_holded(record, stock=stock,
                                                           mapping=self.mapping, variant=variant)
        except Unmappable as exc:
            self.park(PRODUCTS, source_id, exc.reasons)
            return None
        return _observed(PRODUCTS, source_id, "product",
                         inbound_products.product_key(record, variant), payload)

    def variants(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The variants of a product of kind ``variants``; none when they cannot be read."""
        try:
            return [dict(v) for v in inbound_products.variants_of(record)]
        except Unmappable as exc:
            self.park(PRODUCTS, str(record["id"]), exc.reasons)
            return []

    async def map_document(self, doc_type: str, record: dict[str, Any]) -> Observed | None:
        contact = await self.contact(record.get("contact"))
        try:
            payload = inbound.invoice_from_holded(
                record, doc_type=doc_type, mapping=self.mapping,
                customer_key=inbound.contact_key(contact) if contact else None,
                customer_tax_id=inbound.clean_text(contact.get("code")) if contact else None)
        except Unmappable as exc:
            self.park(doc_type, str(record["id"]), exc.reasons)
            return None
        return _observed(doc_type, str(record["id"]), "invoice", inbound.document_key(record), payload)

    async def map_payment(self, record: dict[str, Any]) -> Observed | None:
        pid = str(record.get("id") or record.get("paymentId"))
        # UNVERIFIED: the sandbox's /payments items name their document (documentId, docType);
        # the documented v1 fields do not (docs/holded.md §4, "Payments on account").
        document_id = record.get("documentId")
        if not document_id:
            return await self._on_account(pid, record)
        found = await self.document(str(document_id), record.get("docType"))
        if found is None:
            logger.debug("holded payment %s is on no known document; skipped", pid)
            return None
        _, document = found
        contact = await self.contact(document.get("contact") or record.get("contactId"))
        return self._payment(pid, record, invoice_key=inbound.document_key(document),
                             contact=contact, currency=document.get("currency"))

    async def _on_account(self, pid: str, record: dict[str, Any]) -> Observed | None:
        """A payment naming no document: received on account of its contact, when that is a
        customer (a supplier's is money paid out, not synced) and on-account is enabled."""
        contact = await self.contact(record.get("contactId")) if self.on_account else None
        kind = inbound.CONTACT_KINDS.get(str((contact or {}).get("type") or "client"))
        if contact is None or kind == "supplier":
            logger.debug("holded payment %s names no document and no customer%s; skipped", pid,
                         "" if self.on_account else " (HOLDED_PAYMENTS_ON_ACCOUNT is off)")
            return None
        return self._payment(pid, record, invoice_key=None, contact=contact, currency=None)

    def _payment(self, pid: str, record: dict[str, Any], *, invoice_key: str | None,
                 contact: dict[str, Any] | None, currency: Any) -> Observed | None:
        try:
            payload = inbound.payment_from_holded(
                record, mapping=self.mapping, invoice_key=invoice_key,
                contact_key=inbound.contact_key(contact) if contact else None, currency=currency)
        except Unmappable as exc:
            self.park(PAYMENTS, pid, exc.reasons)
            return None
        return _observed(PAYMENTS, pid, "payment", inbound.payment_key(record), payload)


async def poll_once(client: Any, state: PollState, mapping: Mapping, now: dt.datetime, *,
                    config: PollConfig = PollConfig(), on_parked: Parked | None = None
                    ) -> tuple[PollState, list[dict[str, Any]]]:
    """One polling run against ``client`` (a HoldedClient, v1). Raises on any API error, and
    then the caller's ``state`` is still the one to use. Records the mapping cannot map are
    logged, reported to ``on_parked`` and retried whenever a later run reads them again."""
    run = begin_run(state, now, config)
    reader = _Reader(client, mapping, run.lane, config.doc_types, on_parked,
                     config.payments_on_account)
    listed: dict[str, set[str]] = {r: set() for r in config.resources()}
    observed: list[Observed] = []
    async for contact in client.contacts.list(lane=run.lane):
        reader.contacts[str(contact["id"])] = contact
        listed[CONTACTS].add(str(contact["id"]))
    if config.read_stock:
        observed.extend(await _products(client, reader, run.lane, listed[PRODUCTS]))
    for doc_type in config.doc_types:
        async for document in client.documents(doc_type).list(lane=run.lane,
                                                              starttmp=run.windows[doc_type]):
            reader.documents[str(document["id"])] = (doc_type, document)
            listed[doc_type].add(str(document["id"]))
    payments = [p async for p in client.payments.list(lane=run.lane,
                                                      starttmp=run.windows[PAYMENTS])]
    listed[PAYMENTS] = {str(p.get("id")) for p in payments}
    for contact in list(reader.contacts.values()):
        observed.append(reader.map_contact(contact))
    paid = [await reader.map_payment(p) for p in payments]  # may read more documents
    for document_id, (doc_type, document) in list(reader.documents.items()):
        if doc_type in config.doc_types:
            observed.append(await reader.map_document(doc_type, document))
    observed.extend(paid)
    # Only a full re-scan lists every payment: one it no longer finds was deleted.
    gone = sorted(set(state.hashes.get(PAYMENTS, {})) - listed[PAYMENTS]) if run.full else []
    new_state, emit = observe(state, run, [o for o in observed if o is not None])
    new_state = commit(new_state, run, resources=config.resources(), listed=listed)
    logger.info("holded poll (%s): %d read, %d changed, %d payment(s) deleted",
                "full" if run.full else "window", len(observed), len(emit), len(gone))
    return new_state, [*(change_event(o, now, run.lane) for o in emit),
                       *(deleted_payment_event(p, now, run.lane) for p in gone)]


async def _products(client: Any, reader: _Reader, lane: Lane, listed: set[str]
                    ) -> list[Observed | None]:
    """Every product of kind ``simple`` and every variant of a product of kind ``variants``,
    with its levels; the stock is read once per run. ``listed`` gets every source id read
    (a variant's is ``<product id>.<variant id>``), so a full re-scan keeps their hashes."""
    table = await read_stock_table(client, reader.mapping, lane)
    out: list[Observed | None] = []
    skipped: Counter[str] = Counter()
    async for product in client.products.list(lane=lane):
        listed.add(str(product["id"]))
        kind = inbound_products.kind_of(product)
        if kind == "simple":
            out.append(reader.map_product(product, table))
        elif kind == "variants":  # each variant is a product of its own
            variants = reader.variants(product)
            listed.update(inbound_products.source_id(product, v) for v in variants)
            out.extend(reader.map_product(product, table, v) for v in variants)
        else:
            skipped[kind] += 1
    if skipped:
        logger.info("holded poll: product(s) not read, their stock is not synced (a pack's "
                    "stock is derived from its components', docs/holded.md section 9): %s",
                    ", ".join(f"{n} of kind {kind}" for kind, n in sorted(skipped.items())))
    return out


async def fetch_change(client: Any, mapping: Mapping, resource: str, record_id: str,
                       now: dt.datetime, *, doc_types: Sequence[str] = ("invoice", "creditnote"),
                       on_parked: Parked | None = None, payments_on_account: bool = True
                       ) -> dict[str, Any] | None:
    """Re-read one record (after a webhook) and build its change event, or None when it is gone,
    unmappable, or not a record we sync. ``resource``: contact, invoice, creditnote, payment."""
    reader = _Reader(client, mapping, "realtime", doc_types, on_parked, payments_on_account)
    try:
        if resource == "contact":
            contact = await reader.contact(record_id)
            record = reader.map_contact(contact) if contact else None
        elif resource in doc_types:
            found = await reader.document(record_id, resource)
            record = await reader.map_document(*found) if found else None
        elif resource == "payment":
            record = await reader.map_payment(await client.payments.get(record_id, lane="realtime"))
        else:
            return None
    except NotFound:
        return None
    return change_event(record, now, "realtime") if record is not None else None
