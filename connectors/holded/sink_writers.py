"""One writer per entity for the Holded sink: map, find, update or create, read back.

Each writer follows design.md section 4 after the ledger check done by the sink: a known
link (``command["target_id"]`` or ``links["holded"]``) is updated; otherwise Holded is
searched by external id (:mod:`connectors.holded.lookup`); only then is the record
created, through :meth:`Writers.create_safely`, which searches again after any attempt
whose outcome is unknown instead of posting twice. Every call carries the command's lane.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.mapping import Mapping
from connectors.base.contracts import DependencyPending
from connectors.base.errors import RateLimited, RetryableError
from connectors.base.limiter import Lane
from connectors.base.log_once import LogOnce
from connectors.base.retry import RetryPolicy
from connectors.holded.client import HoldedClient
from connectors.holded.errors import NotFound, UnexpectedContent
from connectors.holded.inbound import held_contact_hash
from connectors.holded.lookup import HoldedLookup
from connectors.holded.mapping import (
    DOC_TYPES, PaymentRefs, contact_unsent_note, contact_update_body, map_contact, map_payment,
    map_product,
)
from connectors.holded.approval import ApprovalPolicy, Parked, is_approved
from connectors.holded.draft_payments import DraftPayments
from connectors.holded.service_mapping import is_service
from connectors.holded.sink_documents import write_document
from connectors.holded.sink_on_account import on_document_reason, write_on_account
from connectors.holded.sink_services import write_service
from connectors.holded.sink_stock import (
    StockItem, StockLevel, StockWriter, stock_levels, write_stock,
)
from connectors.holded.sink_variants import VariantMoved, VariantRef, write_variant
from connectors.holded.sink_verify import Mismatch, cents, check_contact, check_product

__all__ = ["SinkClock", "SinkPolicy", "UnseenEdit", "WriteContext", "Writers", "Written"]

logger = logging.getLogger(__name__)

Record = dict[str, Any]
_PENDING = "pending"  # placeholder id: maps a record once before any API call


class SinkClock(Protocol):
    """Wall time for ``completed_ts`` and sleeps between write rounds (injected in tests)."""

    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class SinkPolicy:
    """``write_rounds``: create attempts per command when outcomes are unknown (each one
    preceded by a search); ``backoff`` spaces the rounds (a 429's Retry-After wins).

    ``settle_seconds``: after a create whose outcome is unknown (timeout, dropped
    connection, 5xx), the least wait before searching for it. A request the client gave up
    on may still be queued on the server and commit later; searching at once would miss it
    and the next round would post a duplicate. A refused create (429) needs no settling.
    """

    write_rounds: int = 4
    backoff: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_delay=0.5, max_delay=10.0))
    settle_seconds: float = 5.0


class UnseenEdit(Exception):
    """The record in Holded holds an edit the engine has not read: it is not overwritten."""


@dataclass(frozen=True, slots=True)
class WriteContext:
    command: Record
    mapping: Mapping
    lane: Lane
    # content hashes of this entity's own writes that succeeded (the sink's ledger)
    ours: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return str(self.command["entity_key"])

    @property
    def payload(self) -> Record:
        return self.command["payload"]

    @property
    def known_target(self) -> str | None:
        links = self.command.get("links") or {}
        return self.command.get("target_id") or links.get("holded") or None


@dataclass(frozen=True, slots=True)
class Written:
    target_id: str
    mismatches: list[Mismatch]
    note: str | None = None


class Writers:
    def __init__(self, client: HoldedClient, lookup: HoldedLookup, clock: SinkClock,
                 policy: SinkPolicy, rand: Callable[[], float],
                 approval: ApprovalPolicy = ApprovalPolicy(),
                 drafts: DraftPayments | None = None, notices: LogOnce | None = None) -> None:
        self.client, self.lookup, self.approval = client, lookup, approval
        self.drafts = drafts if drafts is not None else DraftPayments()
        self.notices = notices if notices is not None else LogOnce()  # the worker's, shared
        self._clock, self._policy, self._rand = clock, policy, rand

    async def write(self, ctx: WriteContext) -> Written:
        writer = {"contact": self.contact, "product": self.product, "invoice": self.invoice,
                  "payment": self.payment}[ctx.command["entity"]]
        return await writer(ctx)

    def stock_writer(self) -> StockWriter:
        return StockWriter(self.client, self._clock, self._policy, self._rand)

    async def create_safely(self, create: Callable[[], Awaitable[Any]],
                            find: Callable[[], Awaitable[str | None]], id_field: str = "id") -> str:
        """Create once; after an attempt with an unknown outcome, search before any other."""
        for attempt in range(1, self._policy.write_rounds + 1):
            try:
                response = await create()
            except RetryableError as error:
                delay = self._policy.backoff.delay_for(error, attempt, self._rand)
                if not isinstance(error, RateLimited):
                    delay = max(delay, self._policy.settle_seconds)
                logger.warning("create attempt %d: outcome unknown (%s); searching in %.2fs",
                               attempt, error.message, delay)
                await self._clock.sleep(delay)
                found = await find()
                if found is not None:
                    return found
                if attempt >= self._policy.write_rounds:
                    raise
                continue
            new_id = response.get(id_field) if isinstance(response, dict) else None
            if not new_id:
                raise UnexpectedContent(f"the create answered without {id_field!r}: {response!r:.200}")
            return str(new_id)
        raise AssertionError("unreachable: write_rounds >= 1")

    # -- contacts --------------------------------------------------------------------------
    async def contact(self, ctx: WriteContext) -> Written:
        request = map_contact(ctx.payload, entity_key=ctx.key, mapping=ctx.mapping)
        contacts, lane = self.client.contacts, ctx.lane
        target = ctx.known_target or await self.lookup.contact_id(ctx.key, lane)
        if target is not None:
            try:
                await self._unseen_edit_guard(ctx, target)
                await contacts.update(target, contact_update_body(request.body), lane=lane)
            except NotFound:
                # Deleted in Holded since it was linked: searched again by CustomId, and only
                # then created anew (its invoices need it), never left failing for good.
                logger.warning("%s: Holded contact %s is gone; searching by CustomId",
                               ctx.key, target)
                self.lookup.forget_contact(ctx.key)
                target = await self.lookup.contact_id(ctx.key, lane, cached=False)
                if target is not None:
                    await contacts.update(target, contact_update_body(request.body), lane=lane)
        if target is None:
            target = await self.create_safely(
                lambda: contacts.create(request.body, lane=lane),
                lambda: self.lookup.contact_id(ctx.key, lane))
        self.lookup.remember_contact(ctx.key, target)
        note = contact_unsent_note(ctx.payload)
        if note is not None:
            self.notices.warning(logger, "contact fields not sent",
                                 "%s: %s; logged once, each such contact's result says it too",
                                 ctx.key, note)
        return Written(target, check_contact(request, await contacts.get(target, lane=lane)), note)

    async def _unseen_edit_guard(self, ctx: WriteContext, target: str) -> None:
        """Never write over an edit made in Holded that the engine has not read yet.

        Holded contacts carry no modification time, so content is compared instead: the
        contact must hold what the engine last knew of it (the command's ``base_hash``), one of
        our own writes (the ledger; its result may not have reached the engine yet) or
        already the command's content. Anything else was edited in Holded since: the command
        is parked for good, the poller reports the edit, the merge settles it (Conflict
        records where both sides changed a field) and sends the result to Holded again.
        Commands without a base (none known, or decided before this guard) write as before.
        """
        base = ctx.command.get("base_hash")
        if not base:
            return
        current = await self.client.contacts.get(target, lane=ctx.lane)
        digest = held_contact_hash(current, ctx.mapping)
        if digest is not None and (digest in (base, ctx.command["content_hash"]) or digest in ctx.ours):
            return
        raise UnseenEdit(
            f"Holded contact {target} holds an edit the engine has not read yet (its content is "
            "neither what the engine last knew of it nor one of our writes); not overwritten: "
            "the engine decides again once the Holded poller has read that change")

    # -- products --------------------------------------------------------------------------
    async def product(self, ctx: WriteContext) -> Written:
        if is_service(ctx.payload):
            return await write_service(self, ctx)
        return await self.simple_product(ctx)

    async def simple_product(self, ctx: WriteContext) -> Written:
        """A Holded product of kind ``simple``: every product, and the services an older
        version wrote as products (see :mod:`connectors.holded.sink_services`). A SKU Holded
        holds on a variant gets only its stock written (:mod:`connectors.holded.sink_variants`)."""
        request = map_product(ctx.payload, mapping=ctx.mapping)
        levels = stock_levels(ctx.payload, mapping=ctx.mapping)  # parks before any call
        products, lane, sku = self.client.products, ctx.lane, str(request.body["sku"])
        found = await self._variant_or_item(
            ctx, sku, levels, ctx.known_target or await self.lookup.product_id(sku, lane))
        if isinstance(found, Written):
            return found
        target = self._simple(sku, found)
        if target is not None:
            body = dict(request.body)
            body["subtotal"] = body.pop("price")  # Holded's update body calls the price subtotal
            try:
                await products.update(target, body, lane=lane)
            except NotFound:
                # Deleted in Holded since it was linked: searched again by sku, then created.
                logger.warning("%s: Holded product %s is gone; searching by sku", ctx.key, target)
                self.lookup.forget_product(sku)
                found = await self._variant_or_item(
                    ctx, sku, levels, await self.lookup.product_id(sku, lane, cached=False),
                    searched=True)
                if isinstance(found, Written):
                    return found
                target = self._simple(sku, found)
                if target is not None:
                    await products.update(target, body, lane=lane)
        if target is None:
            target = await self.create_safely(
                lambda: products.create(request.body, lane=lane),
                lambda: self.lookup.product_id(sku, lane))
        self.lookup.remember_product(sku, target)
        mismatches, stored = await write_stock(self.stock_writer(), StockItem.product(target),
                                               levels, lane)
        stored = stored if stored is not None else await products.get(target, lane=lane)
        return Written(target, check_product(request, stored) + mismatches)

    async def _variant_or_item(self, ctx: WriteContext, sku: str, levels: list[StockLevel],
                               found: str | None, *, searched: bool = False) -> Written | str | None:
        """``found`` (a link, or the search's answer) unless it is a variant of a product of
        kind ``variants``: then that variant's stock, written. A variant that no longer holds
        ``sku`` sends the command back to a fresh search by sku, once."""
        ref = self._variant_ref(found)
        if ref is None:
            return found
        written = await write_variant(self, ctx, sku, ref, levels)
        if written is not None:
            return written
        if searched:
            raise VariantMoved(f"Holded's variant {ref.target} no longer holds sku {sku!r} "
                               "though a search just found it there; nothing written")
        logger.warning("%s: Holded variant %s no longer holds sku %r; searching by sku",
                       ctx.key, ref.target, sku)
        self.lookup.forget_product(sku)
        return await self._variant_or_item(
            ctx, sku, levels, await self.lookup.product_id(sku, ctx.lane, cached=False),
            searched=True)

    def _variant_ref(self, found: str | None) -> VariantRef | None:
        if found is None:
            return None
        parent = self.lookup.variant_of(found)
        return VariantRef(parent, found) if parent is not None else VariantRef.parse(found)

    def _simple(self, sku: str, target: str | None) -> str | None:
        """``target``, unless Holded holds ``sku`` on a product of another kind (a pack, a
        product of kind variants) or on a variant of one that is no product of kind variants:
        then the command is parked, nothing written. Writing it would turn such a product
        into a simple one (a pack's stock is its components'), and creating a product beside
        it would give the sku two items whose levels both reach the shops (docs/holded.md
        section 8). Running it again can only park it again. Variants of a product of kind
        ``variants`` never come here (:meth:`_variant_or_item`)."""
        what = self.lookup.not_simple(target) if target is not None else None
        if what is None:
            return target
        raise Parked(f"Holded holds sku {sku!r} on {what}: the sink writes products of kind "
                     "simple, and the stock of variants, only, so nothing is written to it and "
                     "no product is created beside it (docs/holded.md section 8)",
                     kind="review", redrive=False)

    # -- invoices, credit notes, receipts -----------------------------------------------------
    async def invoice(self, ctx: WriteContext) -> Written:
        return await write_document(self, ctx)

    # -- payments ----------------------------------------------------------------------------
    async def payment(self, ctx: WriteContext) -> Written:
        payment, lane = ctx.payload, ctx.lane
        if not payment.get("invoice_key"):  # on account: a payment of the contact, no document
            return await write_on_account(self, ctx)
        map_payment(payment, mapping=ctx.mapping, refs=PaymentRefs(_PENDING), entity_key=ctx.key)
        ref = await self.lookup.document_anywhere(payment["invoice_key"],
                                                  tuple(DOC_TYPES.values()), lane)
        if ref is None:
            raise DependencyPending([payment["invoice_key"]])
        request = map_payment(payment, mapping=ctx.mapping, entity_key=ctx.key,
                              refs=PaymentRefs(ref.document_id, ref.doc_type))
        body, note = request.body, None
        target = ctx.known_target or await self.lookup.payment_id(ctx.key, body["date"], lane)
        found = target is not None
        if found:
            note = "payment already registered in Holded; payments are not registered twice"
        else:
            api = self.client.documents(ref.doc_type)
            # Read now, by id (the lookup caches ids, never states): paying a draft approves it.
            document = await api.get(ref.document_id, lane=lane)
            hold = self.drafts.hold(payment["invoice_key"], document)
            if hold is not None:
                raise hold
            target = await self.create_safely(
                lambda: api.pay(ref.document_id, date=body["date"], amount=body["amount"],
                                treasury=body.get("treasury"), desc=body.get("desc"), lane=lane),
                lambda: self.lookup.payment_id(ctx.key, body["date"], lane), id_field="paymentId")
            if not is_approved(document):
                note = self.drafts.approved(ctx.key, payment["invoice_key"],
                                            await api.get(ref.document_id, lane=lane))
        stored = await self.client.payments.get(target, lane=lane)
        if found and not stored.get("documentId"):
            # Written on account (the ERP booked it so first), now it names its invoice.
            # UNVERIFIED like the source's rule (docs/holded.md §4): relies on documentId.
            raise Parked(on_document_reason(target, ctx.key, payment["invoice_key"]),
                         kind="review", redrive=True)
        mismatches = []
        if cents(stored.get("amount")) != cents(body["amount"]):
            mismatches.append(Mismatch("amount", cents(body["amount"]), cents(stored.get("amount"))))
        return Written(target, mismatches, note)
