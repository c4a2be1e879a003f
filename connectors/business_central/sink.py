"""Business Central sink: Holded payments posted against BC invoices, customer updates with etags.

``execute(command)`` follows design.md section 4 before any write: the ledger (command done?),
the links (does the entity already have a BC id?), then BC itself: a payment is searched by
its sync code (:func:`mapping.sync_code` of the entity key), written as the line's
``documentNumber``, first among posted G/L entries, then among the journal's unposted lines.
Only when all say no is a line created; then the journal is posted, so the invoice's
``remainingAmount`` and the customer's balance change. A lost response at any step is found
by that search on the retry; POSTs are never repeated blindly
(see connectors.base.retry.NoBlindRepeat).

A customer update first compares the customer's ``lastModifiedDateTime`` with the newest one
the engine knows (connectors.base.unseen_change: our last write, kept in the ledger, or the
newest BC change the engine has read, the command's ``base_ts``). If BC changed the customer
since, the command is parked instead of overwriting a change the engine has not seen yet; the
merge decides once the source reports it. The PATCH then carries ``If-Match`` with the etag just
read: a 412 means BC changed the customer between that read and the write, the same unseen
change met a moment later, and the command is parked the same way.

A payment on account (no ``invoice_key``) is the same journal line with no applies-to
invoice: posted, it lowers the customer's balance and stays open in the customer's ledger
until someone applies it. The customer is the contact's BC id (``contact/business_central/
<id>``; the sink creates no customers, so any other contact is parked).

A payment whose invoice is a draft (or in review) raises ``TargetNotReady`` before writing
anything: BC applies payments to posted invoices only, and someone usually posts it soon, so
the engine retries it for a while and parks it, with the reason, if it is never posted.

Outcomes: ``succeeded`` / ``already_done``; ``parked`` when the mapping cannot express the
record (retried when the mapping changes) or BC holds an unseen change, or changed during the
write (not retried: the merge decides again); ``failed`` for data BC refused.
Transient and configuration errors, and an invoice not posted yet, propagate to the agent
(retry / alert).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from app.core.keys import EntityKey
from app.mapping import Mapping as MappingDoc
from app.mapping import Unmappable
from connectors.base.contracts import Ledger, SinkOutcome, TargetNotReady, execute_once, result
from connectors.base.errors import SkipRecord
from connectors.base.on_account import customer_born_in
from connectors.base.unseen_change import (
    changed_during_write_reason, parked_for_good, remember, unseen_reason, unseen_since,
)
from connectors.base.written_payment import changed_reason, deleted_reason, differences
from connectors.business_central import mapping as bcmap
from connectors.business_central import odata
from connectors.business_central.client import BusinessCentralClient
from connectors.business_central.errors import EtagConflict, NotFound, Rejected

__all__ = ["BusinessCentralSink"]

logger = logging.getLogger(__name__)

SYSTEM = bcmap.SYSTEM
Record = dict[str, Any]
# Invoices a person usually posts soon (a draft, one awaiting approval): a payment waits.
_NOT_POSTED_YET = frozenset({"Draft", "In Review"})
# BC customer field -> the canonical Contact field it holds (for Conflict records).
_CANONICAL_FIELD = {"displayName": "name", "type": "is_person", "taxRegistrationNumber": "tax_id",
                    "email": "email", "phoneNumber": "phone", "addressLine1": "address",
                    "city": "address", "postalCode": "address", "state": "address",
                    "country": "address", "currencyCode": "currency",
                    "paymentTermsId": "payment_due_days", "paymentMethodId": "payment_method"}


class BusinessCentralSink:
    system = SYSTEM

    def __init__(self, client: BusinessCentralClient, *,
                 mapping: MappingDoc | Callable[[], MappingDoc], ledger: Ledger,
                 journal_code: str = "HSYNC",
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        if not journal_code or len(journal_code) > 10:
            raise ValueError("journal_code must be 1-10 characters (BC Code[10])")
        self.client = client
        self._mapping = mapping if callable(mapping) else (lambda: mapping)
        self.ledger = ledger
        self.journal_code, self._now_ms = journal_code.upper(), now_ms
        self._journal_id: str | None = None
        self._lookups: bcmap.Lookups | None = None

    async def execute(self, command: Mapping[str, Any]) -> SinkOutcome:
        """Write the command's canonical state to BC, exactly once."""
        return await execute_once(dict(command), ledger=self.ledger, mapping=self._mapping,
                                  handlers={"payment": self._payment, "contact": self._contact},
                                  now_ms=self._now_ms,
                                  unsupported="the Business Central sink does not write "
                                              "{entity} records yet")

    async def ready(self, command: Mapping[str, Any]) -> bool:
        """Whether a payment parked because its invoice was not posted could run now: one GET
        of the invoice, nothing written (connectors.base.contracts.ReadinessProbe)."""
        payload = command.get("payload") or {}
        if command.get("entity") != "payment" or not payload.get("invoice_key"):
            return True
        try:
            await self._invoice(payload["invoice_key"], self._mapping())
        except TargetNotReady:
            return False
        except (Unmappable, SkipRecord):
            return True  # it will not wait any more: running it reports why
        return True

    def _result(self, command: Record, status: str, **kwargs: Any) -> Record:
        return result(command, status, self._now_ms(), **kwargs)

    # -- payments -------------------------------------------------------------------------
    async def _payment(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        key = command["entity_key"]
        code = bcmap.sync_code(key)
        linked = command.get("target_id") or (command.get("links") or {}).get(SYSTEM)
        payload = command["payload"]
        deleted = payload is None or command.get("op") == "delete"
        if linked or deleted:
            posted = await self.client.find("generalLedgerEntries", documentNumber=code)
            if posted or linked:
                return self._written(command, code, posted, mapping,
                                     "already_done" if linked else "succeeded")
            journal = await self._journal()
            if await self.client.find(f"customerPaymentJournals({journal})/customerPayments",
                                      documentNumber=code):
                return SinkOutcome(self._result(
                    command, "parked", target_id=code, mapping_version=mapping.version,
                    reason=deleted_reason(f"an unposted line {code} of Business Central "
                                          f"journal {self.journal_code}", key)))
            return SinkOutcome(self._result(
                command, "succeeded", mapping_version=mapping.version,
                reason="deleted before it was written to Business Central"))
        if payload.get("invoice_key"):
            invoice = await self._invoice(payload["invoice_key"], mapping)
            refs = bcmap.PaymentRefs(invoice["id"], str(invoice.get("number")),
                                     invoice["customerId"],
                                     invoice.get("currencyCode") or mapping.base_currency)
        else:
            refs = await self._on_account(payload["contact_key"], mapping)
        journal = await self._journal()
        lines_path = f"customerPaymentJournals({journal})/customerPayments"
        posted = await self.client.find("generalLedgerEntries", documentNumber=code)
        if posted:
            return self._written(command, code, posted, mapping, "succeeded",
                                 "found posted in Business Central")
        if not await self.client.find(lines_path, documentNumber=code):
            line = bcmap.payment_to_line(payload, key=key, mapping=mapping, refs=refs)
            await self.client.create(lines_path, line)
        try:
            await self.client.action("customerPaymentJournals", journal, "post")
        except Rejected:
            # Someone (another worker, a person) posted the journal in between: look again.
            if not await self.client.find("generalLedgerEntries", documentNumber=code):
                raise
        return self._paid(command, code, mapping, None)

    def _written(self, command: Record, code: str, posted: list[Record], mapping: MappingDoc,
                 status: str, reason: str | None = None) -> SinkOutcome:
        """A payment already posted (its G/L entries ``posted``): done if they hold the
        command's amount and date; parked when it was changed or deleted at its origin since
        (connectors.base.written_payment). Each posting debits and credits the amount once."""
        key, payload = command["entity_key"], command["payload"]
        what = f"Business Central payment {code}"
        if payload is None or command.get("op") == "delete":
            return SinkOutcome(self._result(command, "parked", target_id=code,
                                            mapping_version=mapping.version,
                                            reason=deleted_reason(what, key)))
        amount = sum((Decimal(str(e.get("debitAmount") or 0)) for e in posted), Decimal(0))
        if (payload.get("currency") or mapping.base_currency) != mapping.base_currency:
            amount = payload["amount"]  # G/L entries are in local currency: the date only
        dates = sorted({str(e.get("postingDate")) for e in posted})
        diffs = differences(payload, amount=amount if posted else None,
                            date=dates[0] if len(dates) == 1 else ", ".join(dates) or None,
                            void=None if posted else "its G/L entries are not found")
        if diffs:
            return SinkOutcome(self._result(command, "parked", target_id=code,
                                            mapping_version=mapping.version,
                                            reason=changed_reason(what, key, diffs)))
        if status == "already_done":
            return SinkOutcome(self._result(command, status, target_id=code,
                                            reason="payment already linked to Business Central",
                                            mapping_version=mapping.version))
        return self._paid(command, code, mapping, reason)

    def _paid(self, command: Record, code: str, mapping: MappingDoc, reason: str | None
              ) -> SinkOutcome:
        return SinkOutcome(self._result(command, "succeeded", target_id=code, reason=reason,
                                        mapping_version=mapping.version))

    async def _invoice(self, invoice_key: str, mapping: MappingDoc) -> Record:
        key = EntityKey.parse(invoice_key)
        if key.origin != SYSTEM:
            raise Unmappable([f"invoice_key: {invoice_key} was not born in Business Central; "
                              "the sink pays only BC invoices (invoice/business_central/<id>)"],
                             mapping_version=mapping.version)
        try:
            invoice = await self.client.get("salesInvoices", key.origin_id)
        except ValueError:
            raise SkipRecord(f"{invoice_key}: not a Business Central invoice id") from None
        except NotFound:
            raise SkipRecord(f"{invoice_key}: the invoice does not exist in Business Central"
                             ) from None
        status = invoice.get("status")
        if status in _NOT_POSTED_YET:
            raise TargetNotReady([invoice_key], (
                f"{invoice_key}: Business Central invoice {invoice.get('number')} is "
                f"{status}, not posted, and a payment can only be applied to a posted invoice; "
                "the payment is retried until it is posted: post the invoice in Business "
                "Central (a parked payment is then re-driven within "
                "HOLDED_SYNC_NOT_READY_RECHECK_S, or at once by `holded-sync parked redrive "
                "--system business_central`), or fix the invoice the payment points to at its "
                "origin"))
        if status not in ("Open", "Paid"):
            raise SkipRecord(f"{invoice_key}: invoice {invoice.get('number')} is {status}; "
                             "a payment needs a posted invoice that is not cancelled")
        return invoice

    async def _on_account(self, contact_key: str, mapping: MappingDoc) -> bcmap.PaymentRefs:
        """A payment on account goes to the contact's customer, in the customer's currency."""
        customer_id = customer_born_in(contact_key, SYSTEM, "Business Central",
                                       "contact/business_central/<id>", mapping)
        try:
            customer = await self.client.get("customers", customer_id)
        except (ValueError, NotFound):
            raise SkipRecord(f"{contact_key}: the customer does not exist in Business Central"
                             ) from None
        return bcmap.PaymentRefs(None, "", customer["id"],
                                 customer.get("currencyCode") or mapping.base_currency)

    async def _journal(self) -> str:
        if self._journal_id is None:
            found = await self.client.find("customerPaymentJournals", code=self.journal_code)
            if not found:  # a journal of our own, so posting it posts only our lines
                found = [await self.client.create("customerPaymentJournals", {
                    "code": self.journal_code, "displayName": "holded-sync payments"})]
            self._journal_id = str(found[0]["id"])
        return self._journal_id

    # -- customers ------------------------------------------------------------------------
    async def _contact(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        customer_id = self._customer_id(command)
        if customer_id is None:
            return SinkOutcome(self._result(
                command, "parked", mapping_version=mapping.version,
                reason="creating Business Central customers is not supported yet: BC has no "
                       "external-id field to find a created customer again"))
        if self._lookups is None:
            terms = [t async for t in self.client.list("paymentTerms")]
            methods = [m async for m in self.client.list("paymentMethods")]
            self._lookups = bcmap.Lookups.build(terms, methods)
        desired = bcmap.contact_to_customer(command["payload"], mapping=mapping,
                                            lookups=self._lookups)
        current = await self.client.get("customers", customer_id)
        if not _differs(desired, current):
            remember(self.ledger, customer_id, _modified(current))
            return SinkOutcome(self._result(command, "succeeded", target_id=customer_id,
                                            reason="Business Central already holds it",
                                            mapping_version=mapping.version))
        base = unseen_since(self.ledger, customer_id, command, _modified(current))
        if base is not None:
            return parked_for_good(self._result(
                command, "parked", target_id=customer_id, mapping_version=mapping.version,
                reason=unseen_reason(f"Business Central customer {customer_id}",
                                     str(current.get("lastModifiedDateTime")), base)))
        changes = {k: v for k, v in desired.items() if _differs({k: v}, current)}
        try:
            written = await self.client.update("customers", customer_id, changes,
                                               etag=str(current["@odata.etag"]))
        except EtagConflict:
            return await self._changed_meanwhile(command, customer_id, desired, mapping)
        remember(self.ledger, customer_id, _modified(written))
        return SinkOutcome(self._result(command, "succeeded", target_id=customer_id,
                                        mapping_version=mapping.version))

    def _customer_id(self, command: Record) -> str | None:
        linked = command.get("target_id") or (command.get("links") or {}).get(SYSTEM)
        if linked:
            return str(linked)
        return EntityKey.parse(command["entity_key"]).id_in(SYSTEM)

    async def _changed_meanwhile(self, command: Record, customer_id: str, desired: Record,
                                 mapping: MappingDoc) -> SinkOutcome:
        """A 412: BC changed the record between the sink's read and its PATCH. Nothing is
        overwritten, and no Conflict is made here: like any unseen change
        (connectors.base.unseen_change), the merge decides once the source reports it."""
        current = await self.client.get("customers", customer_id)
        differing = sorted({_CANONICAL_FIELD.get(k, k) for k, v in desired.items()
                            if _differs({k: v}, current)})
        if not differing:  # our own earlier write, whose answer was lost
            remember(self.ledger, customer_id, _modified(current))
            return SinkOutcome(self._result(command, "succeeded", target_id=customer_id,
                                            mapping_version=mapping.version))
        return parked_for_good(self._result(
            command, "parked", target_id=customer_id, mapping_version=mapping.version,
            reason=changed_during_write_reason(f"Business Central customer {customer_id}",
                                               differing)))


def _modified(customer: Mapping[str, Any]) -> dt.datetime | None:
    value = customer.get("lastModifiedDateTime")
    return odata.parse_datetime(str(value)) if value else None


def _differs(desired: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    return any(_blank(value) != _blank(current.get(name)) for name, value in desired.items())


def _blank(value: Any) -> Any:
    """A reference set to the empty GUID is no reference, like an absent or empty one."""
    return "" if value is None or value == bcmap.EMPTY_GUID else value
