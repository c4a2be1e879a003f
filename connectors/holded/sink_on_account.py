"""The Holded sink's writer for payments on account: ``POST /payments`` of the contact.

A canonical payment with no ``invoice_key`` (docs/events.md) is money received from a
customer and matched to no document: in Holded, a payment of the contact (``contactId``)
into a treasury (``bankId``), with no document, what the Holded source reads as a payment on
account (docs/holded.md §4). Order, as for every record (design.md section 4):

1. map it once with a placeholder contact: an unmappable payment (no treasury, a treasury
   or method the mapping lacks, another currency than the base one, an amount <= 0) is
   parked before any call;
2. the contact's Holded id: the id in its key when it was born in Holded
   (``contact/holded/<id>``), else the contact our sink wrote (``customId`` = its key); a
   contact not in Holded yet is a pending dependency (:class:`DependencyPending`);
3. the link (``target_id`` / ``links["holded"]``), else the payments of the date window
   whose ``desc`` carries the marker ``hs:<entity key>``;
4. only then create, through ``Writers.create_safely`` (a lost response is searched for by
   its marker, never posted twice), and read it back.

A payment already in Holded is never written again. Holded documents ``PUT /payments/{id}``
but not which fields it takes nor what it does to a payment already booked, and correcting a
booked payment is an accountant's decision anyway: a found payment that still holds the
command's amount, date, contact and treasury is done, one that differs is parked for review
with both values (connectors.base.written_payment), as the ERP sinks do.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from connectors.base.contracts import DependencyPending
from connectors.base.written_payment import changed_reason, differences
from connectors.holded.approval import Parked
from connectors.holded.errors import NotFound
from connectors.holded.inbound import holded_date
from connectors.holded.mapping import HoldedRequest, map_payment_on_account
from connectors.holded.sink_verify import Mismatch, cents

if TYPE_CHECKING:
    from connectors.holded.sink_writers import WriteContext, Writers, Written

__all__ = ["on_document_reason", "write_on_account"]

logger = logging.getLogger(__name__)

Record = dict[str, Any]
_PENDING = "pending"  # placeholder id: maps a record once before any API call


async def write_on_account(w: Writers, ctx: WriteContext) -> Written:
    """Find or create the Holded payment of ``ctx``'s payment on account; never update it."""
    from connectors.holded.sink_writers import Written  # sink_writers imports this module

    payment, lane = ctx.payload, ctx.lane
    map_payment_on_account(payment, mapping=ctx.mapping, contact_id=_PENDING, entity_key=ctx.key)
    contact_id = await _contact_id(w, ctx)
    request = map_payment_on_account(payment, mapping=ctx.mapping, contact_id=contact_id,
                                     entity_key=ctx.key)
    body, payments = request.body, w.client.payments

    async def find() -> str | None:
        return await w.lookup.payment_id(ctx.key, body["date"], lane)

    target = ctx.known_target or await find()
    stored = None
    if target is not None:
        try:
            stored = await payments.get(target, lane=lane)
        except NotFound:  # deleted in Holded since it was linked: searched for, else created
            logger.warning("%s: Holded payment %s is gone; searching by its marker", ctx.key,
                           target)
            target = await find()
            stored = await payments.get(target, lane=lane) if target is not None else None
    if stored is not None:
        assert target is not None
        diffs = _changes(request, stored)
        if diffs:
            raise Parked(changed_reason(f"Holded payment {target}", ctx.key, diffs),
                         kind="review", redrive=True)
        return Written(target, [], "payment on account already in Holded as written; "
                                   "payments are not registered twice")
    target = await w.create_safely(lambda: payments.create(body, lane=lane), find)
    return Written(target, _check(request, await payments.get(target, lane=lane)))


async def _contact_id(w: Writers, ctx: WriteContext) -> str:
    """The Holded id of the customer the payment is booked to, or DependencyPending."""
    key = str(ctx.payload["contact_key"])
    found = await w.lookup.contact_id(key, ctx.lane)  # one born in Holded is its id
    if found is None:
        raise DependencyPending([key])
    return found


def _changes(request: HoldedRequest, stored: Record) -> list[str]:
    """What a payment already in Holded lacks of the command, in words (empty: the same)."""
    body = request.body
    diffs = differences({"amount": body["amount"], "date": holded_date(body["date"])},
                        amount=stored.get("amount"), date=holded_date(stored.get("date")))
    if stored.get("documentId"):
        diffs.append(f"it is a payment of Holded document {stored['documentId']} there, not "
                     "a payment on account")
    for name, label in (("contactId", "contact"), ("bankId", "treasury")):
        if str(stored.get(name) or "") != str(body[name]):
            diffs.append(f"{label} {stored.get(name)} there, {body[name]} now")
    return diffs


def _check(request: HoldedRequest, stored: Record) -> list[Mismatch]:
    """The read-back of a payment just created, against what was sent."""
    body, found = request.body, []
    if cents(stored.get("amount")) != cents(body["amount"]):
        found.append(Mismatch("amount", cents(body["amount"]), cents(stored.get("amount"))))
    if holded_date(stored.get("date")) != holded_date(body["date"]):
        found.append(Mismatch("date", holded_date(body["date"]), holded_date(stored.get("date"))))
    for name in ("contactId", "bankId", "desc"):
        if str(stored.get(name) or "") != str(body[name]):
            found.append(Mismatch(name, body[name], stored.get(name)))
    return found


def on_document_reason(target: str, key: str, invoice_key: str) -> str:
    """A payment this sink wrote on account whose command now names the invoice it pays."""
    return changed_reason(f"Holded payment {target}", key, [
        f"it is a payment on account there, not a payment of {invoice_key}; Holded's API "
        "cannot apply it to the document: delete it in Holded (Tesorería) and re-drive this "
        "command, which then registers it on the document"])
