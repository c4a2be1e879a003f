"""SAP B1 sink: Holded payments as IncomingPayments applied to SAP invoices; partner updates
with ``If-Match``.

``execute(command)`` follows design.md section 4 before any write: the ledger (command done?),
the links (does the payment already have an SAP DocEntry?), then SAP itself: IncomingPayments
whose ``reference_field`` (``Remarks`` by default, or a ``U_`` user field you created) equals
the entity key. Only when all say no is the payment created, applied to the invoice through
``PaymentInvoices`` so SAP raises the invoice's ``PaidToDate`` and closes it when paid. A
payment above the invoice's open balance (the customer overpaid) is one IncomingPayment of
the whole amount applying only the open balance: SAP refuses to apply more to an invoice, and
the rest stays on the customer's account (a payment on account) for an accountant to settle;
the result's reason says so. A lost
answer is found by that search when the command is redelivered; POSTs are never repeated
blindly (see connectors.base.retry.NoBlindRepeat).

A payment on account (no ``invoice_key``) is an IncomingPayments of the partner with no
``PaymentInvoices``: the whole amount stays on the customer's account, unapplied, and lowers
the partner's balance. The partner is the contact's CardCode (``contact/sap_b1/<CardCode>``;
the sink creates no business partners, so a contact born elsewhere is parked, as a payment of
an invoice born elsewhere is).

Partner updates (tax id, address, contact data, payment terms, withholding) first compare the
partner's ``UpdateDate`` + ``UpdateTime`` (the server's local time, ``zone``) with the newest
time the engine knows (connectors.base.unseen_change: our last write, kept in the ledger, or
the newest SAP change the engine has read, the command's ``base_ts``). If SAP changed the
partner since, the command is parked instead of overwriting a change the engine has not seen
yet; the merge decides once the source reports it. The PATCH then carries ``If-Match`` with the
ETag just read: a 412 means SAP changed the partner between that read and the write, the same
unseen change met a moment later, and the command is parked the same way. A PATCH whose
answer was lost comes back as a 412 on the retry; SAP then holds our values, and it succeeds.

Outcomes: ``succeeded`` / ``already_done``; ``parked`` when the mapping cannot express the
record (retried when the mapping changes), SAP cannot take it yet (partner creation) or SAP
holds an unseen change or changed during the write (not retried: the merge decides again);
``failed`` for data SAP refused. Transient and configuration errors propagate to the agent
(retry / alert).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app.core.keys import EntityKey
from app.mapping import Mapping as MappingDoc
from app.mapping import Unmappable
from connectors.base.contracts import Ledger, SinkOutcome, execute_once, result
from connectors.base.errors import SkipRecord
from connectors.base.on_account import customer_born_in
from connectors.base.unseen_change import (
    changed_during_write_reason, parked_for_good, remember, unseen_reason, unseen_since,
)
from connectors.base.written_payment import changed_reason, deleted_reason, differences
from connectors.sap_b1 import mapping as sapmap
from connectors.sap_b1 import odata
from connectors.sap_b1.client import SapB1Client
from connectors.sap_b1.errors import EtagConflict, NotFound

__all__ = ["SapB1Sink"]

logger = logging.getLogger(__name__)

SYSTEM = sapmap.SYSTEM
Record = dict[str, Any]
# BusinessPartner field -> the canonical Contact field it holds (for Conflict records).
_CANONICAL_FIELD = {"CardName": "name", "FederalTaxID": "tax_id", "EmailAddress": "email",
                    "Phone1": "phone", "Address": "address", "ZipCode": "address",
                    "City": "address", "County": "address", "Country": "address",
                    "PayTermsGrpCode": "payment_due_days", "SubjectToWithholdingTax": "withholding",
                    "WTCode": "withholding"}


class SapB1Sink:
    system = SYSTEM

    def __init__(self, client: SapB1Client, *, mapping: MappingDoc | Callable[[], MappingDoc],
                 ledger: Ledger, transfer_account: str | None = None,
                 reference_field: str = "Remarks", zone: str | dt.tzinfo = "Europe/Madrid",
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.client = client
        self._mapping = mapping if callable(mapping) else (lambda: mapping)
        self.ledger = ledger
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        self.transfer_account, self.reference_field = transfer_account, reference_field
        self._now_ms = now_ms
        self._lookups: sapmap.Lookups | None = None

    async def execute(self, command: Mapping[str, Any]) -> SinkOutcome:
        """Write the command's canonical state to SAP B1, exactly once."""
        return await execute_once(dict(command), ledger=self.ledger, mapping=self._mapping,
                                  handlers={"payment": self._payment, "contact": self._contact},
                                  now_ms=self._now_ms,
                                  unsupported="the SAP B1 sink does not write {entity} records yet")

    def _result(self, command: Record, status: str, **kwargs: Any) -> Record:
        return result(command, status, self._now_ms(), **kwargs)

    # -- payments -------------------------------------------------------------------------
    async def _payment(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        key = command["entity_key"]
        linked = command.get("target_id") or (command.get("links") or {}).get(SYSTEM)
        if linked:
            return await self._written(command, str(linked), mapping, "already_done",
                                       "payment already linked to SAP B1")
        found = await self._find_payment(key)
        if found is not None:
            return await self._written(command, found, mapping, "succeeded",
                                       "found in SAP B1 by its reference")
        if command["payload"] is None or command.get("op") == "delete":
            return SinkOutcome(self._result(command, "succeeded", mapping_version=mapping.version,
                                            reason="deleted before it was written to SAP B1"))
        payload = command["payload"]
        if not payload.get("invoice_key"):
            return await self._on_account(command, mapping)
        invoice = await self._invoice(payload["invoice_key"], mapping)
        amount = Decimal(payload["amount"])
        applied = min(amount, _open_balance(invoice))
        body = sapmap.payment_to_incoming(payload, key=key, mapping=mapping, invoice=invoice,
                                          transfer_account=self.transfer_account,
                                          reference_field=self.reference_field, applied=applied)
        created = await self.client.create("IncomingPayments", body)
        return SinkOutcome(self._result(
            command, "succeeded", target_id=str(created["DocEntry"]),
            mapping_version=mapping.version,
            reason=None if applied == amount else _on_account_reason(
                invoice, str(created.get("DocNum") or created["DocEntry"]), amount, applied)))

    async def _on_account(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        """The customer's IncomingPayments applying nothing (``_find_payment`` found none)."""
        payload = command["payload"]
        partner = await self._partner(payload["contact_key"], mapping)
        body = sapmap.payment_to_incoming(
            payload, key=command["entity_key"], mapping=mapping,
            invoice={"CardCode": partner["CardCode"],  # "##": a partner of every currency
                     "DocCurrency": None if partner.get("Currency") == "##"
                     else partner.get("Currency")},
            transfer_account=self.transfer_account, reference_field=self.reference_field)
        created = await self.client.create("IncomingPayments", body)
        return SinkOutcome(self._result(command, "succeeded", target_id=str(created["DocEntry"]),
                                        mapping_version=mapping.version))

    async def _partner(self, contact_key: str, mapping: MappingDoc) -> Record:
        card_code = customer_born_in(contact_key, SYSTEM, "SAP B1", "contact/sap_b1/<CardCode>",
                                     mapping)
        try:
            return await self.client.get("BusinessPartners", card_code,
                                         select=("CardCode", "Currency"))
        except NotFound:
            raise SkipRecord(f"{contact_key}: business partner {card_code} does not exist "
                             "in SAP B1") from None

    async def _written(self, command: Record, doc_entry: str, mapping: MappingDoc,
                       status: str, reason: str) -> SinkOutcome:
        """A payment already in SAP: done if it holds the command's amount and date; parked
        when it was changed or deleted at its origin since (connectors.base.written_payment)."""
        key, payload = command["entity_key"], command["payload"]
        what = f"SAP B1 incoming payment {doc_entry}"
        if payload is None or command.get("op") == "delete":
            return SinkOutcome(self._result(command, "parked", target_id=doc_entry,
                                            mapping_version=mapping.version,
                                            reason=deleted_reason(what, key)))
        try:
            held = await self.client.get("IncomingPayments", int(doc_entry), select=(
                "DocEntry", "DocDate", "CashSum", "TransferSum", "Cancelled",
                "PaymentInvoices"))
        except (NotFound, ValueError):
            diffs = ["it no longer exists in SAP B1"]
        else:
            amount = (Decimal(str(held.get("CashSum") or 0))
                      + Decimal(str(held.get("TransferSum") or 0)))
            diffs = differences(payload, amount=amount, date=held.get("DocDate"),
                                void="it is cancelled in SAP B1"
                                if held.get("Cancelled") == "tYES" else None)
            applied = sum((Decimal(str(p.get("SumApplied") or 0))
                           for p in held.get("PaymentInvoices") or []), Decimal(0))
            if payload.get("invoice_key") and not held.get("PaymentInvoices"):
                diffs.append(f"it is on account there, not applied to {payload['invoice_key']}; "
                             "reconcile it with that invoice (Internal Reconciliation)")
            if not diffs and applied < amount and payload.get("invoice_key"):
                # a lost answer must not hide the note
                reason = (f"{reason}; overpayment: {amount - applied} of it is on account "
                          "for the customer; reconcile it with another invoice (Internal "
                          "Reconciliation) or refund it in SAP B1")
        if diffs:
            return SinkOutcome(self._result(command, "parked", target_id=doc_entry,
                                            mapping_version=mapping.version,
                                            reason=changed_reason(what, key, diffs)))
        return SinkOutcome(self._result(command, status, target_id=doc_entry, reason=reason,
                                        mapping_version=mapping.version))

    async def _find_payment(self, key: str) -> str | None:
        found = [p for p in await self.client.find(
            "IncomingPayments", select=("DocEntry", "Cancelled"), **{self.reference_field: key})
            if p.get("Cancelled") != "tYES"]
        if len(found) > 1:
            logger.warning("%s: %d SAP payments carry this reference", key, len(found))
        return str(found[0]["DocEntry"]) if found else None

    async def _invoice(self, invoice_key: str, mapping: MappingDoc) -> Record:
        try:
            key = EntityKey.parse(invoice_key)
        except ValueError as exc:
            raise SkipRecord(f"invoice_key: {exc}") from None
        if key.origin != SYSTEM:
            raise Unmappable([f"invoice_key: {invoice_key} was not born in SAP B1; the sink "
                              "pays only SAP invoices (invoice/sap_b1/<DocEntry>)"],
                             mapping_version=mapping.version)
        if key.origin_id.startswith(sapmap.CREDIT_NOTE_PREFIX):
            raise SkipRecord(f"{invoice_key}: a credit note; the sink applies payments to "
                             "invoices only")
        if not key.origin_id.isdigit():
            raise SkipRecord(f"{invoice_key}: not an SAP B1 DocEntry")
        try:
            invoice = await self.client.get("Invoices", int(key.origin_id))
        except NotFound:
            raise SkipRecord(f"{invoice_key}: the invoice does not exist in SAP B1") from None
        if invoice.get("Cancelled") == "tYES" or invoice.get("DocumentStatus") != "bost_Open":
            raise SkipRecord(f"{invoice_key}: invoice {invoice.get('DocNum')} is "
                             f"{invoice.get('DocumentStatus')} (cancelled: "
                             f"{invoice.get('Cancelled')}); a payment needs an open invoice")
        return invoice

    # -- partners -------------------------------------------------------------------------
    async def _contact(self, command: Record, mapping: MappingDoc) -> SinkOutcome:
        key = command["entity_key"]
        card_code = self._card_code(command)
        if card_code is None:
            return SinkOutcome(self._result(
                command, "parked", mapping_version=mapping.version,
                reason="creating SAP B1 business partners is not supported yet (CardCode "
                       "series and the partner's G/L accounts are company configuration)"))
        if self._lookups is None:
            self._lookups = sapmap.Lookups.build(
                [t async for t in self.client.list("PaymentTermsTypes")])
        desired = sapmap.contact_to_partner(command["payload"], mapping=mapping,
                                            lookups=self._lookups)
        try:
            current = await self.client.get("BusinessPartners", card_code)
        except NotFound:
            raise SkipRecord(f"{key}: business partner {card_code} does not exist") from None
        changes = {k: v for k, v in desired.items() if _differs({k: v}, current)}
        if not changes:
            remember(self.ledger, card_code, self._modified(current))
            return SinkOutcome(self._result(command, "succeeded", target_id=card_code,
                                            reason="SAP B1 already holds it",
                                            mapping_version=mapping.version))
        base = unseen_since(self.ledger, card_code, command, self._modified(current))
        if base is not None:
            return parked_for_good(self._result(
                command, "parked", target_id=card_code, mapping_version=mapping.version,
                reason=unseen_reason(
                    f"SAP B1 business partner {card_code}",
                    f"{current.get('UpdateDate')} {current.get('UpdateTime')} (server time)",
                    base)))
        try:
            await self.client.update("BusinessPartners", card_code, changes,
                                     etag=odata.etag_of(current) or "")
        except EtagConflict:
            return await self._changed_meanwhile(command, card_code, desired, mapping)
        written = await self.client.get("BusinessPartners", card_code,
                                        select=("CardCode", "UpdateDate", "UpdateTime"))
        remember(self.ledger, card_code, self._modified(written))
        return SinkOutcome(self._result(command, "succeeded", target_id=card_code,
                                        mapping_version=mapping.version))

    def _modified(self, partner: Mapping[str, Any]) -> dt.datetime | None:
        """The partner's last change: SAP keeps it as a local date and time, with no zone."""
        if not partner.get("UpdateDate"):
            return None
        return odata.local_datetime(partner.get("UpdateDate"), partner.get("UpdateTime"),
                                    self.zone)

    def _card_code(self, command: Record) -> str | None:
        linked = command.get("target_id") or (command.get("links") or {}).get(SYSTEM)
        if linked:
            return str(linked)
        return EntityKey.parse(command["entity_key"]).id_in(SYSTEM)

    async def _changed_meanwhile(self, command: Record, card_code: str, desired: Record,
                                 mapping: MappingDoc) -> SinkOutcome:
        """A 412: SAP changed the record between the sink's read and its PATCH. Nothing is
        overwritten, and no Conflict is made here: like any unseen change
        (connectors.base.unseen_change), the merge decides once the source reports it."""
        current = await self.client.get("BusinessPartners", card_code)
        differing = sorted({_CANONICAL_FIELD.get(k, k) for k, v in desired.items()
                            if _differs({k: v}, current)})
        if not differing:  # our own earlier write, whose answer was lost
            remember(self.ledger, card_code, self._modified(current))
            return SinkOutcome(self._result(command, "succeeded", target_id=card_code,
                                            mapping_version=mapping.version))
        return parked_for_good(self._result(
            command, "parked", target_id=card_code, mapping_version=mapping.version,
            reason=changed_during_write_reason(f"SAP B1 business partner {card_code}", differing)))


def _open_balance(invoice: Mapping[str, Any]) -> Decimal:
    return (Decimal(str(invoice.get("DocTotal") or 0))
            - Decimal(str(invoice.get("PaidToDate") or 0)))


def _on_account_reason(invoice: Mapping[str, Any], payment_num: str, amount: Decimal,
                       applied: Decimal) -> str:
    """An overpayment is booked, not refused: the invoice takes its open balance and the rest
    stays on the customer's account, where SAP shows it until someone settles it."""
    return (f"overpayment: SAP B1 incoming payment {payment_num} received {amount}, applied "
            f"{applied} (the open balance) to invoice {invoice.get('DocNum')} and left "
            f"{amount - applied} on account for {invoice.get('CardCode')}; reconcile it with "
            "another invoice of the customer (Internal Reconciliation) or refund it in SAP B1")


def _differs(desired: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    return any((value if value is not None else "") != (
        current.get(name) if current.get(name) is not None else "")
        for name, value in desired.items())
