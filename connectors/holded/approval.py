"""Approved (issued) Holded documents: which ERP invoices the sink creates approved, and what a
later change to an approved document may still do. Pure: no I/O, tested directly.

Why it matters: a Holded draft has no number, is not in Holded's sales lists and not in its
books; a company that keeps its books and VAT returns in Holded needs issued ERP invoices to
arrive issued (``HOLDED_APPROVE_DOCUMENTS``). Holded has no approve call: a document is
approved only when it is created (``approveDoc: true``; ``PUT {draft: false}`` is ignored,
holded-api.md 2.3), and an approved document is locked: Holded ignores later edits to its
lines, date and contact. Hence the rules (docs/holded.md, "Approved documents"):

- an ERP draft is not created in Holded while its type is approved (it could not be
  corrected afterwards): its command is parked, and the version the ERP issues is created;
- a cancelled ERP invoice that never reached Holded is not created;
- an approved Holded document (ours, or one a person approved by hand) is never written
  again: a change to it is parked for review, with what to do.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Any

from app.mapping import Mapping
from connectors.holded.mapping import ERP_NUMBER_FIELD, HoldedRequest
from connectors.holded.sink_verify import Mismatch, check_document

__all__ = ["APPROVABLE", "ApprovalPolicy", "Parked", "create_hold", "is_approved", "status_of",
           "locked_changes", "locked_reason", "draft_in_holded_reason", "number_note"]

# Canonical document types that may be created approved (all the sink writes).
APPROVABLE = ("invoice", "credit_note", "sales_receipt")
SETTING = "HOLDED_APPROVE_DOCUMENTS"


class Parked(Exception):
    """The command is not written now, for a reason the result carries. ``kind`` is one of
    ``PARKED_KINDS``; ``redrive``: kept in the ledger's parked list (``parked list``, the
    parked gauge) to be run again, or not (running it again can only park it again: a new
    version of the record comes as a new command by itself)."""

    def __init__(self, reason: str, *, kind: str, redrive: bool) -> None:
        super().__init__(reason)
        self.kind, self.redrive = kind, redrive


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """The canonical document types created approved in Holded (none: every document is
    created a draft, as before the option existed)."""

    doc_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.doc_types) - set(APPROVABLE))
        if unknown:
            raise ValueError(f"unknown document type(s) {', '.join(unknown)}: expected any of "
                             f"{', '.join(APPROVABLE)}")

    def approves(self, invoice: MappingABC[str, Any]) -> bool:
        return invoice.get("doc_type") in self.doc_types


def status_of(invoice: MappingABC[str, Any]) -> str:
    return str(invoice.get("status") or "issued")  # the schema's default


def create_hold(invoice: MappingABC[str, Any], policy: ApprovalPolicy) -> Parked | None:
    """Why a document Holded does not hold yet is not created now, or None to create it."""
    if not policy.approves(invoice):
        return None
    number = invoice.get("number") or "(no number)"
    status = status_of(invoice)
    if status == "draft":
        return Parked(
            f"{invoice['doc_type']} {number} is a draft in the ERP: not created in Holded while "
            f"{SETTING} approves {invoice['doc_type']} documents (an approved Holded document "
            "cannot be corrected); it is created approved once the ERP issues it",
            kind="not_ready", redrive=False)
    if status == "cancelled":
        return Parked(
            f"{invoice['doc_type']} {number} is cancelled in the ERP and was never in Holded: "
            "not created (an approved document cannot be deleted; a draft would only clutter "
            "Holded). Nothing to do unless it should be in Holded's books: then issue it again "
            "in the ERP", kind="review", redrive=False)
    return None


def is_approved(stored: MappingABC[str, Any]) -> bool:
    """Approved in Holded: it has a number or an approval time and is not a draft (reads show
    ``draft`` as true or null, never false; holded-api.md 2.3)."""
    return not stored.get("draft") and bool(stored.get("docNumber") or stored.get("approvedAt"))


def locked_changes(request: HoldedRequest, stored: MappingABC[str, Any], invoice:
                   MappingABC[str, Any], *, entity_key: str, mapping: Mapping) -> list[Mismatch]:
    """What the command would change in an approved document: the read-back comparison
    (totals, lines, taxes, currency, sync key), the contact, date, due date and notes the body
    carries (the payment method is not in the documented read shape, so it cannot be
    compared), and a status the ERP moved back to draft or to cancelled.

    No field of an approved document is documented as editable, so every difference counts:
    nothing is written to an approved document, and nothing may be silently lost."""
    found = check_document(request, stored, entity_key=entity_key, mapping=mapping)
    body = request.body
    if stored.get("contact") != body.get("contactId"):
        found.append(Mismatch("contact", body.get("contactId"), stored.get("contact")))
    if _day(stored.get("date")) != _day(body.get("date")):
        found.append(Mismatch("date", body.get("date"), stored.get("date")))
    if _day(stored.get("dueDate")) != _day(body.get("dueDate")):
        found.append(Mismatch("dueDate", body.get("dueDate"), stored.get("dueDate")))
    if (stored.get("notes") or None) != (body.get("notes") or None):
        found.append(Mismatch("notes", body.get("notes"), stored.get("notes")))
    if status_of(invoice) != "issued":
        found.append(Mismatch("status", status_of(invoice), "approved"))
    return found


_DAY = 86_400


def _day(epoch: Any) -> int | None:
    """The calendar day (Europe/Madrid) of an epoch: Holded stores a document's day at Madrid
    midnight and we send noon UTC of it (mapping.epoch_seconds). Madrid is UTC+1 or +2, so
    shifting by 2 h lands both in the same UTC day."""
    if epoch is None or isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
        return None
    return (int(epoch) + 7_200) // _DAY


def locked_reason(stored: MappingABC[str, Any], changes: list[Mismatch]) -> str:
    """The parked reason for a change to an approved document: what differs, and what the
    accountant does about it."""
    number = stored.get("docNumber") or stored.get("id")
    return (f"Holded document {number} is approved (issued) and Holded does not let it be "
            f"edited; not written: {'; '.join(str(c) for c in changes)}. To correct an issued "
            "invoice, issue a corrective invoice (credit note) in the ERP; it reaches Holded as "
            "a document of its own")


def draft_in_holded_reason(stored: MappingABC[str, Any], doc_type: str) -> str:
    """The parked reason for an issued ERP document whose Holded copy is a draft created
    before the option was on: Holded's API cannot approve an existing draft."""
    return (f"issued in the ERP, but its Holded document {stored.get('id')} is a draft (created "
            f"before {SETTING} approved {doc_type} documents), and Holded's API cannot approve "
            "an existing draft: approve it in Holded (it takes Holded's next number), or delete "
            "the draft in Holded and run `holded-sync parked redrive --system holded` to create "
            "it approved with the ERP's number")


def number_note(invoice: MappingABC[str, Any], stored: MappingABC[str, Any]) -> str | None:
    """None when Holded approved the document with the ERP's number; else what it did, for the
    result's reason (the document exists either way, and is never created again)."""
    wanted, got = invoice.get("number"), stored.get("docNumber")
    if wanted and got == wanted:
        return None
    erp = f"the ERP's number {wanted!r}" if wanted else "no ERP number"
    return (f"created approved in Holded as {got!r}, not with {erp}: a Holded numbering series "
            "numbered it (docs/holded.md, Approved documents: set up a series for these "
            f"documents); the ERP's number is in its custom field {ERP_NUMBER_FIELD}")
