"""Odoo source: incremental polling by ``write_date``, and re-reading what a webhook names.

``OdooSource.poll(state, now)`` runs one keyset walk per model with
:mod:`connectors.base.polling` and returns ChangeEvent dicts for contacts (commercial
``res.partner`` records), products (``product.product`` variants, walked by variant and by
template), customer invoices and refunds (``account.move``, each with its commercial partner)
and customer payments (``account.payment``; a payment on account with its commercial partner). ``state`` is an :class:`OdooPollState` (``None`` on
the first run, which is then a ``bulk`` backfill); a failed run raises and the caller keeps
the old state.

Why the page walk looks odd: Odoo stores ``write_date`` with microseconds but returns it to the
second, so ``(write_date, id)`` as read is not the order the server sorts by. Pages are cut at
whole seconds; a second with more records than a page is walked by ``id`` on its own. The
cursor is then consistent with what the client sees, and nothing in a busy second is skipped.

The walks themselves are in connectors/odoo/walks.py, their state between runs in
connectors/odoo/poll_state.py. The push path: connectors/odoo/webhook_refs.py reads a webhook
body as ids, and :meth:`OdooSource.fetch` re-reads them (a webhook body is never trusted as
data).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from app.core.hashing import content_hash
from app.core.keys import EntityKey
from app.mapping import Mapping
from app.mapping.errors import Unmappable
from connectors.base.errors import SkipRecord
from connectors.base.polling import Observed, PollState, Window, advance, begin, commit
from connectors.odoo.client import OdooClient
from connectors.odoo.poll_state import OdooPollState
from connectors.odoo.walks import BANK, ENTITIES, LINE_FIELDS, VARIANT_FIELDS, EntitySpec
from connectors.odoo.webhook_refs import WebhookRefs
from connectors.odoo.stock import mapped_warehouses, read_levels
from connectors.odoo.mapping import (
    Catalog, contact_from_odoo, entity_key, invoice_from_odoo, m2o_id, payment_from_odoo,
    product_from_odoo, product_key,
)

__all__ = ["OdooSource", "odoo_ts", "parse_odoo_ts"]

logger = logging.getLogger(__name__)

SYSTEM = "odoo"
ODOO_TS = "%Y-%m-%d %H:%M:%S"


def parse_odoo_ts(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return dt.datetime.strptime(value[:19], ODOO_TS).replace(tzinfo=dt.UTC)


def odoo_ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime(ODOO_TS)


class OdooSource:
    """Polls one Odoo database. ``mapping`` is the current mapping document."""

    system = SYSTEM

    def __init__(self, client: OdooClient, mapping: Mapping, *, page_size: int = 100,
                 overlap: dt.timedelta = dt.timedelta(seconds=5),
                 entities: Iterable[str] = ("contact", "bank", "product", "variant", "quant",
                                            "invoice", "payment")
                 ) -> None:
        self.client, self.mapping, self.page_size = client, mapping, page_size
        self.overlap = overlap
        # The bank walk after the contact walk: a partner that walk read is not read again.
        self.entities = tuple(sorted(entities, key=lambda e: e != "contact"))
        self.skipped: list[tuple[str, int, str]] = []  # (entity, id, reason) of the last run
        self._contacts_read: set[int] = set()  # partners read in this run or fetch

    async def poll(self, state: OdooPollState | None, now: dt.datetime
                   ) -> tuple[OdooPollState, list[dict[str, Any]]]:
        state = state or OdooPollState()
        catalog = await self.catalog()
        self.skipped, self._contacts_read = [], set()
        new: dict[str, PollState] = dict(state.entities)
        holders = dict(state.bank_holders)
        events: list[dict[str, Any]] = []
        for entity in self.entities:
            if entity == "quant" and not mapped_warehouses(self.mapping):
                continue  # no stock synced: an Odoo without the stock app has no quants
            old = state.get(entity)
            if entity not in state.entities:
                old = PollState(overlap_seconds=self.overlap.total_seconds())
            lane = "bulk" if old.watermark is None else "realtime"
            run = begin(old, now)
            while not run.finished:
                rows, full = await self._page(ENTITIES[entity], run.window())
                observed = await self._observe(entity, rows, catalog, lane)
                run, fresh = advance(run, observed, limit=len(observed) if full else self.page_size)
                if entity == "bank":
                    events += await self._holders_of(fresh, holders, catalog, lane)
                else:
                    events += _events(fresh)
            new[entity] = commit(run)
        if "bank" in self.entities:
            events += await self._deleted_banks(holders, catalog)
        return OdooPollState(new, holders), _once(events)

    async def _holders_of(self, banks: Iterable[Observed], holders: dict[int, int],
                          catalog: Catalog, lane: str) -> list[dict[str, Any]]:
        """The contact events of changed bank accounts' holders: the holder now and, for an
        account moved to another partner, the one it had (``holders`` is updated)."""
        partners: set[int] = set()
        for bank in banks:
            bid = int(bank.id)
            partners |= {p for p in (holders.get(bid), bank.record) if p is not None}
            if bank.record is not None:
                holders[bid] = bank.record
        return await self._contacts(partners, catalog, lane)

    async def _deleted_banks(self, holders: dict[int, int], catalog: Catalog
                             ) -> list[dict[str, Any]]:
        """Bank accounts deleted since the last run (a delete moves no write_date): their
        holders are read again, and they are forgotten (``holders`` is updated)."""
        if not holders:
            return []
        alive = set(await self.client.search("res.partner.bank", [("id", "in", sorted(holders))],
                                             context=dict(BANK.context)))
        gone = {holders.pop(b) for b in list(holders) if b not in alive}
        return await self._contacts(gone, catalog, "realtime")

    async def _contacts(self, ids: Iterable[int], catalog: Catalog, lane: str
                        ) -> list[dict[str, Any]]:
        """Contact events of partners, read within the contact walk's domain (a person or an
        address of a company is not a contact), except those this run has read already."""
        wanted = sorted(set(ids) - self._contacts_read)
        if not wanted:
            return []
        spec = ENTITIES["contact"]
        rows = await self.client.search_read(spec.model, [("id", "in", wanted), *spec.domain],
                                             list(spec.fields), order="id asc")
        return _events(await self._observe("contact", rows, catalog, lane))

    async def fetch(self, refs: Iterable[WebhookRefs]) -> list[dict[str, Any]]:
        """Change events for records named by webhooks (re-read from Odoo)."""
        catalog = await self.catalog()
        self._contacts_read = set()
        events: list[dict[str, Any]] = []
        for ref in refs:
            entity = ref.entity
            if entity is None:
                logger.info("ignoring a webhook for model %s", ref.model)
                continue
            spec = ENTITIES[entity]
            # Searched within the walk's domain: what a poll would not report, a webhook
            # does not either (a company's delivery address, an archived variant).
            rows = await self.client.search_read(
                spec.model, [("id", "in", list(ref.ids)), *spec.domain], list(spec.fields),
                order="id asc", **_context(spec))
            observed = await self._observe(entity, rows, catalog, "realtime")
            if entity == "bank":  # a bank account's webhook reports its holder
                events += await self._contacts({o.record for o in observed} - {None}, catalog,
                                               "realtime")
            else:
                events += _events(observed)
        return _once(events)

    async def catalog(self) -> Catalog:
        c = self.client
        taxes = await c.search_read("account.tax", [], ["amount"])
        accounts = await c.search_read("account.account", [], ["code"])
        term_lines = await c.search_read("account.payment.term.line", [], ["payment_id", "nb_days"])
        journals = await c.search_read("account.journal", [], ["code"])
        countries = await c.search_read("res.country", [], ["code"])
        currencies = await c.search_read("res.currency", [], ["name"])
        days: dict[int, int] = {}
        for line in term_lines:
            term = m2o_id(line["payment_id"])
            if term is not None:
                days[term] = max(days.get(term, 0), int(line.get("nb_days") or 0))
        return Catalog(
            tax_rates={t["id"]: Decimal(str(t["amount"])).normalize() for t in taxes},
            account_codes={a["id"]: a["code"] for a in accounts}, term_days=days,
            journal_codes={j["id"]: j["code"] for j in journals},
            country_codes={k["id"]: k["code"] for k in countries if k.get("code")},
            currency_names={k["id"]: k["name"] for k in currencies})

    # ---- paging --------------------------------------------------------------------------
    async def _page(self, spec: EntitySpec, window: Window) -> tuple[list[dict[str, Any]], bool]:
        """One page in (second, id) order, cut at a whole second; ``full``: more may follow."""
        # Odoo reads write_date to the second: the signpost's whole second is in this run
        # (as read, those records are not after it); the overlap re-reads them next run.
        until = window.until.replace(microsecond=0) + dt.timedelta(seconds=1)
        base = list(spec.domain) + [("write_date", "<", odoo_ts(until))]
        fields = list(spec.fields)

        async def read(model: str, domain: list[Any], fields: list[str], **kw: Any
                       ) -> list[dict[str, Any]]:
            return await self.client.search_read(model, domain, fields, **kw, **_context(spec))
        rows: list[dict[str, Any]] = []
        start = window.since
        if window.after_modified is not None:
            second = window.after_modified
            nxt = second + dt.timedelta(seconds=1)
            rows = await read(spec.model, [*base, ("write_date", ">=", odoo_ts(second)),
                                           ("write_date", "<", odoo_ts(nxt)),
                                           ("id", ">", window.after_id)],
                              fields, limit=self.page_size, order="id asc")
            if len(rows) == self.page_size:
                return rows, True
            start = nxt
        since = [("write_date", ">=", odoo_ts(start))] if start is not None else []
        want = self.page_size - len(rows)
        more = await read(spec.model, [*base, *since], fields, limit=want,
                          order="write_date asc, id asc")
        if len(more) < want:
            return _ordered(rows + more), False
        last = parse_odoo_ts(more[-1]["write_date"])
        whole = [r for r in more if parse_odoo_ts(r["write_date"]) != last]
        if whole or rows:
            return _ordered(rows + whole), True
        # The whole page shares one second: walk that second by id.
        assert last is not None
        nxt = last + dt.timedelta(seconds=1)
        rows = await read(spec.model, [*base, ("write_date", ">=", odoo_ts(last)),
                                       ("write_date", "<", odoo_ts(nxt))],
                          fields, limit=self.page_size, order="id asc")
        return rows, True

    # ---- mapping ---------------------------------------------------------------------------
    async def _observe(self, entity: str, rows: list[dict[str, Any]], catalog: Catalog,
                       lane: str) -> list[Observed]:
        if entity == "bank":  # each account's holder; read after the run drops duplicates
            return [Observed(r["id"], parse_odoo_ts(r.get("write_date")), content_hash(
                {"holder": m2o_id(r.get("partner_id")), "acc_number": r.get("acc_number"),
                 "write_date": r.get("write_date")}),
                m2o_id(r.get("partner_id"))) for r in rows]
        if entity == "contact":
            self._contacts_read |= {r["id"] for r in rows}
        extra = await self._related(entity, rows, catalog)
        if entity == "product":
            return [self._template(row, extra["variants"].get(row["id"], []), catalog, lane,
                                   extra["stock"]) for row in rows]
        if entity == "quant":
            return await self._quants(rows, catalog, lane)
        out = []
        for row in rows:
            modified = parse_odoo_ts(row.get("write_date"))
            try:
                payload = self._map(entity, row, extra, catalog)
            except (Unmappable, SkipRecord) as error:
                self.skipped.append((entity, row["id"], str(error)))
                logger.warning("odoo %s %s not mapped: %s", entity, row["id"], error)
                out.append(Observed(row["id"], modified, "unmapped:" + str(error)))
                continue
            if payload is None:
                out.append(Observed(row["id"], modified, "not-an-event"))
                continue
            key = product_key(row) if entity == "variant" else None
            event = self._event(ENTITIES[entity].entity, row["id"], modified, payload, lane,
                                row.get("ref"), key=key)
            record: Any = event
            if entity == "invoice" or (entity == "payment" and payload["invoice_key"] is None):
                # The partner first: an advance's payer may be in no contact walk (a partner
                # never invoiced keeps customer_rank 0), and its payment waits for it.
                record = [*self._contact_with(row, extra, catalog, lane), event]
            out.append(Observed(row["id"], modified, content_hash(payload), record))
        return out

    def _template(self, row: dict[str, Any], variants: list[dict[str, Any]], catalog: Catalog,
                  lane: str, stock: dict[int, list[dict[str, Any]]]) -> Observed:
        """A changed template: the events of its active variants (one Observed, its hash
        over all of them, so the overlap does not report them twice)."""
        modified = parse_odoo_ts(row.get("write_date"))
        events, seen = [], []
        for variant in variants:
            changed = max(filter(None, (modified, parse_odoo_ts(variant.get("write_date")))),
                          default=None)
            try:
                payload = self._map("variant", variant, {"stock": stock}, catalog)
            except (Unmappable, SkipRecord) as error:
                self.skipped.append(("product", variant["id"], str(error)))
                logger.warning("odoo product variant %s not mapped: %s", variant["id"], error)
                seen.append("unmapped:" + str(error))
                continue
            assert payload is not None
            seen.append(content_hash(payload))
            events.append(self._event("product", variant["id"], changed, payload, lane,
                                      key=product_key(variant)))
        return Observed(row["id"], modified, content_hash({"variants": seen}), events or None)

    async def _quants(self, rows: list[dict[str, Any]], catalog: Catalog, lane: str
                      ) -> list[Observed]:
        """Changed quants: each reports its variant (archived ones: no event), read afresh
        with its levels in every mapped warehouse."""
        ids = sorted({m2o_id(r.get("product_id")) for r in rows} - {None})  # type: ignore[type-var]
        variants = await self.client.search_read(
            "product.product", [("id", "in", ids)], list(VARIANT_FIELDS)) if ids else []
        observed = {v["id"]: o for v, o in zip(
            variants, await self._observe("variant", variants, catalog, lane), strict=True)}
        out = []
        for row in rows:
            seen = observed.get(m2o_id(row.get("product_id")) or 0)
            modified = parse_odoo_ts(row.get("write_date"))
            out.append(Observed(row["id"], modified, seen.content_hash if seen else "not-an-event",
                                seen.record if seen else None))
        return out

    async def _related(self, entity: str, rows: list[dict[str, Any]], catalog: Catalog
                       ) -> dict[str, Any]:
        if entity == "product":
            ids = [r["id"] for r in rows]
            variants = await self.client.search_read(
                "product.product", [("product_tmpl_id", "in", ids)], list(VARIANT_FIELDS),
                order="id asc") if ids else []
            by_template: dict[int, list[dict[str, Any]]] = {}
            for v in variants:
                by_template.setdefault(m2o_id(v["product_tmpl_id"]) or 0, []).append(v)
            stock = await read_levels(self.client, self.mapping, [v["id"] for v in variants])
            return {"variants": by_template, "stock": stock}
        if entity == "variant":
            return {"stock": await read_levels(self.client, self.mapping, [r["id"] for r in rows])}
        if entity == "contact":
            bank_ids = [b for r in rows for b in r.get("bank_ids") or []]
            banks = await self.client.read("res.partner.bank", bank_ids, ["acc_number", "partner_id"])
            return {"banks": banks}
        if entity in ("invoice", "payment"):
            extra = await self._partners(entity, rows)
        if entity == "payment":
            return extra
        if entity == "invoice":
            line_ids = [ln for r in rows for ln in r.get("invoice_line_ids") or []]
            lines = await self.client.read("account.move.line", line_ids, LINE_FIELDS)
            variants = {m2o_id(ln.get("product_id")) for ln in lines} - {None}
            # read, not search: a line may name an archived variant.
            products = await self.client.read(
                "product.product", sorted(variants),  # type: ignore[arg-type]
                ["product_tmpl_id", "default_code", "product_template_attribute_value_ids"])
            return {**extra, "lines": {ln["id"]: ln for ln in lines},
                    "variants": {p["id"]: (product_key(p), p.get("default_code") or None)
                                 for p in products}}
        return {}

    async def _partners(self, entity: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The commercial partners of invoices or payments: ``partner_keys`` (the contact key
        each record's partner goes under) and ``contacts`` (their rows and bank accounts,
        reported with the invoices and with the payments on account)."""
        named = sorted({m2o_id(r.get("partner_id")) for r in rows} - {None})  # type: ignore[type-var]
        if entity == "invoice":
            commercial = {r["id"]: m2o_id(r.get("commercial_partner_id"))
                          or m2o_id(r.get("partner_id")) for r in rows}
        else:  # account.payment has no commercial_partner_id: its partner's
            found = await self.client.read("res.partner", named, ["commercial_partner_id"])
            of = {p["id"]: m2o_id(p.get("commercial_partner_id")) or p["id"] for p in found}
            commercial = {r["id"]: of.get(m2o_id(r.get("partner_id")) or 0) for r in rows}
        ids = sorted({c for c in commercial.values() if c is not None})
        fields = list(ENTITIES["contact"].fields)
        partners = {p["id"]: p for p in await self.client.read("res.partner", ids, fields)}
        keys = {rid: _born_elsewhere("contact", partners[c].get("ref"))
                or entity_key("contact", c) for rid, c in commercial.items()
                if c is not None and c in partners}
        related = await self._related("contact", list(partners.values()), Catalog())
        return {"partner_keys": keys, "commercial": commercial,
                "contacts": {pid: (p, related) for pid, p in partners.items()}}

    def _contact_with(self, row: dict[str, Any], extra: dict[str, Any], catalog: Catalog,
                      lane: str) -> list[dict[str, Any]]:
        """The contact event of an invoice's commercial partner, sent before the invoice."""
        pid = extra["commercial"].get(row["id"])
        if pid is None or pid not in extra["contacts"]:
            return []
        partner, related = extra["contacts"][pid]
        payload = self._map("contact", partner, related, catalog)
        assert payload is not None
        return [self._event("contact", pid, parse_odoo_ts(partner.get("write_date")), payload,
                            lane, partner.get("ref"))]

    def _map(self, entity: str, row: dict[str, Any], extra: dict[str, Any], catalog: Catalog
             ) -> dict[str, Any] | None:
        if entity == "contact":
            banks = [b for b in extra["banks"] if m2o_id(b.get("partner_id")) == row["id"]]
            return contact_from_odoo(row, banks, catalog)
        if entity == "variant":
            return product_from_odoo(row, catalog, self.mapping,
                                     extra.get("stock", {}).get(row["id"], ()))
        if entity == "invoice":
            lines = [extra["lines"][i] for i in row.get("invoice_line_ids") or []
                     if i in extra["lines"]]
            with_variants = replace(catalog, variants=extra["variants"],
                                    partner_keys=extra["partner_keys"])
            return invoice_from_odoo(row, lines, with_variants, self.mapping)
        return payment_from_odoo(row, replace(catalog, partner_keys=extra["partner_keys"]),
                                 self.mapping)

    def _event(self, entity: str, rid: int, modified: dt.datetime | None,
               payload: dict[str, Any], lane: str, ref: Any = None, *,
               key: str | None = None) -> dict[str, Any]:
        key = key or _born_elsewhere(entity, ref) or entity_key(entity, rid)
        digest = content_hash(payload)
        event_id = hashlib.sha256(f"{SYSTEM}|{key}|{digest}".encode()).hexdigest()[:32]
        return {"event_id": event_id, "entity_key": key, "entity": entity,
                "source_system": SYSTEM, "source_id": str(rid),
                "source_ts": modified or dt.datetime.now(dt.UTC), "op": "upsert",
                "payload": payload, "content_hash": digest, "lane": lane}


def _context(spec: EntitySpec) -> dict[str, Any]:
    return {"context": dict(spec.context)} if spec.context else {}


def _born_elsewhere(entity: str, ref: Any) -> str | None:
    """Our sink writes a record's entity key into ``ref`` when it creates it in Odoo (a
    payment from Holded, say): that record keeps its original key instead of getting a new one."""
    if not isinstance(ref, str):
        return None
    try:
        key = EntityKey.parse(ref)
    except ValueError:
        return None
    return ref if key.entity == entity and key.origin != SYSTEM else None


def _events(observed: Iterable[Observed]) -> list[dict[str, Any]]:
    """The events of observed records: one each, or a template's list of variant events."""
    out: list[dict[str, Any]] = []
    for o in observed:
        if isinstance(o.record, list):
            out += o.record
        elif o.record is not None:
            out.append(o.record)
    return out


def _once(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event once: a variant read by both product walks is one event (same key, same
    content, same id)."""
    return list({e["event_id"]: e for e in events}.values())


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (str(r.get("write_date"))[:19], r["id"]))
