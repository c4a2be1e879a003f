"""The Holded sink's writer for canonical invoices, credit notes and receipts: Holded documents.

Order, as for every record (design.md section 4): the link (``command["target_id"]`` or
``links["holded"]``), else a search by the ``holded_sync_key`` custom field; only then a
create, through ``Writers.create_safely`` (a lost response is searched for, never posted
twice); then a read-back.

A document Holded holds is read before it is written, because an approved (issued) Holded
document is locked (connectors/holded/approval.py): it is never written again, and a change
to it is parked for review rather than sent and silently dropped. That costs one read per
document update. With ``HOLDED_APPROVE_DOCUMENTS`` naming the document's type, a new document
is created approved with the ERP's number; an ERP draft waits (parked) until it is issued.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from connectors.base.contracts import DependencyPending
from connectors.base.errors import ConnectorError
from connectors.holded.approval import (
    Parked, create_hold, draft_in_holded_reason, is_approved, locked_changes, locked_reason,
    number_note, status_of,
)
from connectors.holded.errors import NotFound
from connectors.holded.lookup import DocumentRef
from connectors.holded.mapping import DOC_TYPES, DocumentRefs, HoldedRequest, map_invoice
from connectors.holded.sink_verify import Mismatch, check_document

if TYPE_CHECKING:
    from connectors.holded.sink_writers import Writers, WriteContext, Written

__all__ = ["write_document"]

logger = logging.getLogger(__name__)

Record = dict[str, Any]
_PENDING = "pending"  # placeholder id: maps a record once before any API call


async def write_document(w: Writers, ctx: WriteContext) -> Written:
    """Update, find or create the Holded document of ``ctx``; approved ones are not written."""
    from connectors.holded.sink_writers import Written  # sink_writers imports this module

    document, lane = ctx.payload, ctx.lane
    skus = sorted({str(line["sku"]) for line in document["lines"] if line.get("sku")})
    # Map once with placeholders: an unmappable document is parked before any API call.
    map_invoice(document, entity_key=ctx.key, mapping=ctx.mapping,
                refs=DocumentRefs(_PENDING, {sku: _PENDING for sku in skus}))
    known = ctx.known_target
    hold = None if known else create_hold(document, w.approval)
    if hold is not None:
        raise hold  # not in Holded and not to be created now: no call made
    contact_id, product_ids, service_ids = await _dependencies(w, ctx, skus)
    refs = DocumentRefs(contact_id, product_ids, service_ids)
    request = map_invoice(document, entity_key=ctx.key, mapping=ctx.mapping, refs=refs)
    doc_type = DOC_TYPES[document["doc_type"]]
    api, date = w.client.documents(doc_type), int(request.body["date"])

    async def find() -> str | None:
        found = await w.lookup.document(doc_type, ctx.key, date, contact_id, lane, cached=False)
        return found.document_id if found else None

    approves = w.approval.approves(document)
    try:
        ref = DocumentRef(doc_type, known) if known else await w.lookup.document(
            doc_type, ctx.key, date, contact_id, lane)
        stored = await _current(w, ctx, ref, find)
        if stored is not None and is_approved(stored):
            return _unwritten(w, ctx, request, stored)
        if stored is not None:
            if approves and status_of(document) == "issued":
                raise Parked(draft_in_holded_reason(stored, document["doc_type"]),
                             kind="review", redrive=True)
            target = str(stored["id"])
            await api.update(target, request.body, lane=lane)
        else:
            hold = create_hold(document, w.approval)
            if hold is not None:
                raise hold  # the link was dead and nothing was found: it would be created
            body = map_invoice(document, entity_key=ctx.key, mapping=ctx.mapping, refs=refs,
                               approve=True).body if approves else request.body
            target = await w.create_safely(lambda: api.create(body, lane=lane), find)
    except ConnectorError:
        # Ids remembered from earlier commands may be gone from Holded (a document,
        # contact or product deleted there): the next attempt searches for them again.
        w.lookup.forget_document(ctx.key)
        w.lookup.forget_contact(document["customer_key"])
        forget_catalogue(w, skus)
        raise
    w.lookup.remember_document(ctx.key, DocumentRef(doc_type, target))
    after = await api.get(target, lane=lane)
    mismatches = check_document(request, after, entity_key=ctx.key, mapping=ctx.mapping)
    if stored is not None and is_approved(after) and mismatches:
        # Approved by hand between our read and our write: Holded kept what it had.
        raise Parked(locked_reason(after, mismatches), kind="review", redrive=True)
    note = None
    if stored is None and approves:
        if not is_approved(after):
            mismatches.append(Mismatch("approved", True, False))
        else:
            note = number_note(document, after)
            if note is not None:  # once per document: it is created once, never again
                logger.warning("%s: %s", ctx.key, note)
    for mismatch in mismatches:
        if mismatch.field.endswith(".price"):  # a 0 EUR line: the item we cached is gone
            forget_catalogue(w, skus)
    return Written(target, mismatches, note)


async def _current(w: Writers, ctx: WriteContext, ref: DocumentRef | None,
                   find: Callable[[], Awaitable[str | None]]) -> Record | None:
    """The document Holded holds for ``ctx`` (read before any write), or None. A linked
    document deleted in Holded is searched for again by its sync key; with none found, a new
    one is created (a draft deleted so that it can be created approved, docs/holded.md)."""
    if ref is None:
        return None
    api = w.client.documents(ref.doc_type)
    try:
        return await api.get(ref.document_id, lane=ctx.lane)
    except NotFound:
        logger.warning("%s: Holded document %s is gone; searching by its sync key", ctx.key,
                       ref.document_id)
        w.lookup.forget_document(ctx.key)
        found = await find()
        return await api.get(found, lane=ctx.lane) if found is not None else None


def _unwritten(w: Writers, ctx: WriteContext, request: HoldedRequest, stored: Record) -> Written:
    """An approved Holded document is not written: succeeded when the command changes nothing
    it holds (a payment status, say), else parked for review with what differs."""
    from connectors.holded.sink_writers import Written

    changes = locked_changes(request, stored, ctx.payload, entity_key=ctx.key,
                             mapping=ctx.mapping)
    if changes:
        raise Parked(locked_reason(stored, changes), kind="review", redrive=True)
    doc_type = DOC_TYPES[ctx.payload["doc_type"]]
    w.lookup.remember_document(ctx.key, DocumentRef(doc_type, str(stored["id"])))
    return Written(str(stored["id"]), [], f"approved in Holded as {stored.get('docNumber')!r}: "
                   "not written, and nothing it holds differs")


def forget_catalogue(w: Writers, skus: list[str]) -> None:
    for sku in skus:
        w.lookup.forget_product(sku)
        w.lookup.forget_service(sku)


async def _dependencies(w: Writers, ctx: WriteContext, skus: list[str]
                        ) -> tuple[str, dict[str, str], dict[str, str]]:
    document, lane = ctx.payload, ctx.lane
    pending: list[str] = []
    contact_keys = [document["customer_key"], *(
        k for k in ctx.command.get("depends_on") or []
        if k.startswith("contact/") and k != document["customer_key"])]
    contact_ids = {k: await w.lookup.contact_id(k, lane) for k in contact_keys}
    pending += [k for k, found in contact_ids.items() if found is None]
    service_ids, product_ids = await w.lookup.catalogue_ids(skus, lane)
    for sku in skus:
        if sku not in product_ids and sku not in service_ids:
            line = next(x for x in document["lines"] if str(x.get("sku")) == sku)
            pending.append(line.get("product_key") or f"sku:{sku}")
    if pending:
        raise DependencyPending(pending)
    contact_id = contact_ids[document["customer_key"]]
    assert contact_id is not None
    return contact_id, product_ids, service_ids
