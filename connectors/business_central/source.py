"""Business Central source: polling by ``lastModifiedDateTime`` and webhook notifications.

Polling follows :mod:`connectors.base.polling`: each run takes a signpost (``now``), asks BC
for records modified in ``[watermark - overlap, now]`` (all pages, via ``@odata.nextLink``),
sorts them by the polling key and feeds them to the pure run; the new state is committed
only when every stream finished. Records are sorted here rather than by a keyset filter on
``id`` because SQL Server orders GUIDs differently from their text.

Webhooks are framework-free functions: :func:`handshake` answers BC's ``validationToken``
call, :func:`parse_notifications` checks ``clientState`` and reads the notices, and
:meth:`BusinessCentralSource.events_for` re-fetches every notified record (notices carry ids
only) or runs the ``collection`` notice's ``lastModifiedDateTime`` query.
:class:`SubscriptionKeeper` creates the subscriptions and renews them before the 3-day expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from app.core.hashing import content_hash
from app.mapping import Mapping as MappingDoc
from app.mapping import Unmappable
from connectors.base import polling
from connectors.base.limiter import Lane
from connectors.business_central import mapping as bcmap
from connectors.business_central import odata
from connectors.business_central.client import BusinessCentralClient
from connectors.business_central.errors import NotFound

__all__ = ["STREAMS", "BadNotification", "WrongClientState", "BusinessCentralSource", "Notice", "Parked", "Stream",
           "SubscriptionKeeper", "change_event", "handshake", "needs_renewal",
           "parse_notifications"]

logger = logging.getLogger(__name__)

SYSTEM = bcmap.SYSTEM
Record = dict[str, Any]
Mapper = Callable[[Record, MappingDoc, bcmap.Lookups], Record]


@dataclass(frozen=True, slots=True)
class Stream:
    entity_set: str
    entity: str
    mapper: Mapper
    expand: tuple[str, ...] = ()


STREAMS: Mapping[str, Stream] = {s.entity_set: s for s in (
    Stream("customers", "contact",
           lambda r, m, lk: bcmap.customer_to_contact(r, mapping=m, lookups=lk)),
    Stream("vendors", "contact",
           lambda r, m, lk: bcmap.vendor_to_contact(r, mapping=m, lookups=lk)),
    Stream("items", "product", lambda r, m, lk: bcmap.item_to_product(r, mapping=m)),
    Stream("salesInvoices", "invoice",
           lambda r, m, lk: bcmap.invoice_to_canonical(r, mapping=m), ("salesInvoiceLines",)),
    Stream("salesCreditMemos", "invoice",
           lambda r, m, lk: bcmap.invoice_to_canonical(r, mapping=m, credit_memo=True),
           ("salesCreditMemoLines",)),
)}


@dataclass(frozen=True, slots=True)
class Parked:
    """A BC record that could not be mapped; it is retried when it or the mapping changes."""

    entity_key: str
    reasons: tuple[str, ...]


def change_event(entity: str, record_id: str, modified: dt.datetime, payload: Record | None,
                 *, lane: Lane = "realtime") -> Record:
    """A ChangeEvent dict. ``event_id`` is a hash of (system, key, modified time, content),
    so a webhook fetch and a poll of the same version agree, and A -> B -> A differ."""
    key = bcmap.entity_key(entity, record_id)
    digest = content_hash(payload)
    event_id = hashlib.sha256(
        f"{SYSTEM}|{key}|{odata.format_datetime(modified)}|{digest}".encode()).hexdigest()
    return {"event_id": event_id, "entity_key": key, "entity": entity, "source_system": SYSTEM,
            "source_id": record_id, "source_ts": modified,
            "op": "upsert" if payload is not None else "delete", "payload": payload,
            "content_hash": digest, "lane": lane}


class BusinessCentralSource:
    """Polls the configured streams of one BC company; also turns webhook notices into events."""

    system = SYSTEM

    def __init__(self, client: BusinessCentralClient, *, mapping: MappingDoc | Callable[[], MappingDoc],
                 streams: Sequence[str] = tuple(STREAMS), batch: int = 100,
                 overlap: dt.timedelta = polling.DEFAULT_OVERLAP, lane: Lane = "realtime") -> None:
        unknown = set(streams) - set(STREAMS)
        if unknown:
            raise ValueError(f"unknown streams {sorted(unknown)}; one of {list(STREAMS)}")
        self.client = client
        self._mapping = mapping if callable(mapping) else (lambda: mapping)
        self.streams = tuple(streams)
        self.batch, self.overlap, self.lane = batch, overlap, lane
        self.parked: list[Parked] = []

    async def lookups(self) -> bcmap.Lookups:
        terms = [t async for t in self.client.list("paymentTerms")]
        methods = [m async for m in self.client.list("paymentMethods")]
        return bcmap.Lookups.build(terms, methods)

    async def poll(self, state: Mapping[str, polling.PollState] | None, now: dt.datetime
                   ) -> tuple[dict[str, polling.PollState], list[Record]]:
        """One run over every stream: (new state per entity set, change events)."""
        state = dict(state or {})
        mapping, lookups = self._mapping(), await self.lookups()
        new_state, events = dict(state), []
        for name in self.streams:
            base = state.get(name) or polling.PollState(overlap_seconds=self.overlap.total_seconds())
            run = polling.begin(base, started=now)
            observed = sorted(
                [self._observe(STREAMS[name], record, mapping, lookups)
                 async for record in self._window(STREAMS[name], run.window())],
                key=polling.key_of)
            for start in range(0, len(observed) + 1, self.batch):
                if run.finished:
                    break
                run, fresh = polling.advance(run, observed[start:start + self.batch],
                                             limit=self.batch)
                events.extend(o.record for o in fresh if o.record is not None)
            new_state[name] = polling.commit(run)
        return new_state, events

    def _window(self, stream: Stream, window: polling.Window) -> Any:
        parts = []
        if window.since is not None:
            parts.append(f"lastModifiedDateTime ge {odata.format_datetime(window.since)}")
        parts.append(f"lastModifiedDateTime le {odata.format_datetime(window.until)}")
        return self.client.list(stream.entity_set, filter=" and ".join(parts),
                                expand=stream.expand, orderby="lastModifiedDateTime",
                                lane=self.lane)

    def _observe(self, stream: Stream, record: Record, mapping: MappingDoc,
                 lookups: bcmap.Lookups) -> polling.Observed:
        modified = odata.parse_datetime(str(record["lastModifiedDateTime"]))
        event = self._event(stream, record, mapping, lookups, modified)
        digest = event["content_hash"] if event else content_hash(
            {k: v for k, v in record.items() if k != "@odata.etag"})
        return polling.Observed(record["id"], modified, digest, event)

    def _event(self, stream: Stream, record: Record, mapping: MappingDoc,
               lookups: bcmap.Lookups, modified: dt.datetime) -> Record | None:
        try:
            payload = stream.mapper(record, mapping, lookups)
        except Unmappable as exc:
            key = bcmap.entity_key(stream.entity, record["id"])
            logger.warning("parked %s: %s", key, exc)
            self.parked.append(Parked(key, tuple(exc.reasons)))
            return None
        return change_event(stream.entity, record["id"], modified, payload, lane=self.lane)

    async def events_for(self, notices: Sequence[Notice]) -> list[Record]:
        """Change events for webhook notices: each record re-fetched before mapping."""
        mapping, lookups = self._mapping(), await self.lookups()
        events: list[Record] = []
        for notice in notices:
            stream = STREAMS.get(notice.entity_set)
            if stream is None:
                logger.info("ignoring a notice for %s", notice.entity_set)
                continue
            if notice.change_type == "collection":
                async for record in self.client.modified_since(
                        stream.entity_set, notice.since, expand=stream.expand, lane=self.lane):
                    modified = odata.parse_datetime(str(record["lastModifiedDateTime"]))
                    if (event := self._event(stream, record, mapping, lookups, modified)):
                        events.append(event)
                continue
            assert notice.record_id is not None
            if notice.change_type == "deleted":
                events.append(change_event(stream.entity, notice.record_id, notice.modified,
                                           None, lane=self.lane))
                continue
            try:
                record = await self.client.get(stream.entity_set, notice.record_id,
                                               expand=stream.expand, lane=self.lane)
            except NotFound:
                continue  # deleted since the notice; its own "deleted" notice follows
            modified = odata.parse_datetime(str(record["lastModifiedDateTime"]))
            if (event := self._event(stream, record, mapping, lookups, modified)):
                events.append(event)
        return events


# -- webhooks ----------------------------------------------------------------------------------
def handshake(query: Mapping[str, str]) -> tuple[int, str] | None:
    """BC's validation call: answer 200 with the ``validationToken`` as a plain-text body.

    Returns None when the request is not a handshake (then it is a notification)."""
    token = query.get("validationToken")
    return None if token is None else (200, token)


@dataclass(frozen=True, slots=True)
class Notice:
    subscription_id: str
    entity_set: str
    change_type: str                 # created | updated | deleted | collection
    modified: dt.datetime
    record_id: str | None = None     # None for a collection notice
    since: dt.datetime | None = None  # the collection notice's lastModifiedDateTime filter
    expires: dt.datetime | None = None


class BadNotification(ValueError):
    """The body is not BC's notification shape (answer 400), or its clientState is wrong
    (:class:`WrongClientState`, answer 401)."""


class WrongClientState(BadNotification):
    """A notice whose clientState is not ours: not from our subscription."""


def _when(item: Mapping[str, Any], name: str, *, required: bool = True) -> dt.datetime | None:
    """A notice's date field; BadNotification when it is not BC's form (or absent if required)."""
    value = item.get(name)
    if value is None and not required:
        return None
    if isinstance(value, str):
        try:
            return odata.parse_datetime(value)
        except ValueError:
            pass
    raise BadNotification(f"a notice without a valid {name}")


_NOTICE = re.compile(r"^/?api/v2\.0/companies\(([0-9a-fA-F-]{36})\)/([A-Za-z]+)"
                     r"(?:\(([0-9a-fA-F-]{36})\))?(?:\?\$filter=(.*))?$")
_SINCE = re.compile(r"lastModifiedDateTime\s+gt\s+(\S+)", re.IGNORECASE)


def parse_notifications(body: Any, client_state: str, *, company_id: str | None = None
                        ) -> list[Notice]:
    """Notices of a notification POST; every ``clientState`` must equal ours (constant time)."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise BadNotification("expected {\"value\": [...]}")
    notices = []
    for item in body["value"]:
        if not isinstance(item, dict):
            raise BadNotification("a notice is not an object")
        if not hmac.compare_digest(str(item.get("clientState", "")).encode(),
                                   client_state.encode()):
            raise WrongClientState("clientState does not match")
        match = _NOTICE.match(str(item.get("resource", "")))
        if match is None or (company_id and match.group(1).lower() != company_id.lower()):
            raise BadNotification(f"unexpected resource {item.get('resource')!r}")
        change = str(item.get("changeType", ""))
        since = None
        if change == "collection":
            found = _SINCE.search(unquote(match.group(4) or ""))
            if found is None:
                raise BadNotification("a collection notice without a lastModifiedDateTime filter")
            try:
                since = odata.parse_datetime(found.group(1))
            except ValueError:
                raise BadNotification("a collection notice with an invalid "
                                      "lastModifiedDateTime filter") from None
        elif match.group(3) is None or change not in ("created", "updated", "deleted"):
            raise BadNotification(f"unexpected notice {change!r} for {item.get('resource')!r}")
        modified = _when(item, "lastModifiedDateTime")
        assert modified is not None
        notices.append(Notice(
            str(item.get("subscriptionId", "")), match.group(2), change, modified,
            match.group(3).lower() if match.group(3) else None, since,
            _when(item, "expirationDateTime", required=False)))
    return notices


@dataclass
class SubscriptionKeeper:
    """Keeps one subscription per entity set alive: create when missing, renew when close
    to BC's 3-day expiry (``renew_before`` ahead), so notices never stop."""

    client: BusinessCentralClient
    notification_url: str
    client_state: str
    entity_sets: Sequence[str] = ("customers", "vendors", "items", "salesInvoices",
                                  "salesCreditMemos")
    renew_before: dt.timedelta = dt.timedelta(days=1)
    subscriptions: dict[str, Record] = field(default_factory=dict)

    async def ensure(self, now: dt.datetime) -> list[str]:
        """Create or renew what is needed; returns ``created:<set>`` / ``renewed:<set>``."""
        done = []
        existing = {s["resource"]: s for s in await self.client.subscriptions()
                    if s.get("notificationUrl") == self.notification_url}
        for entity_set in self.entity_sets:
            sub = existing.get(self.client.resource(entity_set))
            if sub is None:
                sub = await self.client.create_subscription(
                    notification_url=self.notification_url, entity_set=entity_set,
                    client_state=self.client_state)
                done.append(f"created:{entity_set}")
            elif needs_renewal(sub, now, self.renew_before):
                sub = await self.client.renew_subscription(sub)
                done.append(f"renewed:{entity_set}")
            self.subscriptions[entity_set] = sub
        return done


def needs_renewal(subscription: Mapping[str, Any], now: dt.datetime,
                  margin: dt.timedelta) -> bool:
    expires = subscription.get("expirationDateTime")
    return expires is None or odata.parse_datetime(str(expires)) - margin <= now
