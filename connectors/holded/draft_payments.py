"""Paying a Holded draft approves it: whether the Holded sink may (``HOLDED_PAY_DRAFTS``), and
what it says either way. Pure but for one log line; the writer (sink_writers.py) reads the
document and asks here before it pays.

Holded's ``POST /documents/{type}/{id}/pay`` on a draft approves the draft as a side effect
(status 0 -> 1): it takes Holded's next number from its series and becomes an issued, locked
document, and the API cannot undo that. UNVERIFIED against Holded's reference: the
nubiia-dev/mcp-holded pay tool says so ([MCP-NUB] in holded-api.md); the strict reading, which
the sandbox models. ERP invoices reach Holded as drafts by default (docs/holded.md §10), so
paying one would give an invoice the ERP already issued a second legal number, in Holded's
books and VAT, and park every later ERP edit of it (approval.py). That is an accountant's
decision, not the sink's: by default a payment of a draft is parked for review, nothing paid;
with ``HOLDED_PAY_DRAFTS=true`` it is paid and its result names the number Holded gave.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping as MappingABC
from typing import Any

from connectors.base.log_once import LogOnce
from connectors.holded.approval import SETTING as APPROVE_SETTING
from connectors.holded.approval import Parked, is_approved

__all__ = ["SETTING", "DraftPayments", "draft_payment_reason", "approved_by_payment_note"]

logger = logging.getLogger(__name__)

SETTING = "HOLDED_PAY_DRAFTS"


class DraftPayments:
    """``HOLDED_PAY_DRAFTS`` for one worker. Built once (app/connections.py) and shared by the
    sinks built per command, so the first payment that approves a draft is logged once per
    worker run, not once per command."""

    def __init__(self, allowed: bool = False) -> None:
        self.allowed = allowed
        self._notices = LogOnce()

    def hold(self, invoice_key: str, document: MappingABC[str, Any]) -> Parked | None:
        """Why the payment of ``document`` (read just now, not from a cache) is not registered
        now, or None to pay it: an approved document is paid, a draft only when allowed."""
        if is_approved(document) or self.allowed:
            return None
        return Parked(draft_payment_reason(invoice_key, document), kind="review", redrive=True)

    def approved(self, entity_key: str, invoice_key: str, document: MappingABC[str, Any]) -> str:
        """The result's note for a payment that approved a draft (``document`` read after it)."""
        note = approved_by_payment_note(invoice_key, document)
        self._notices.warning(logger, "draft approved by a payment",
                              "%s: %s; logged once per run, each such payment's result says "
                              "it too", entity_key, note)
        return note


def _described(invoice_key: str, document: MappingABC[str, Any]) -> str:
    """How a person finds the document in Holded: drafts have no number, and the UI's sales
    lists hide them (holded-api.md 2.3)."""
    return (f"{invoice_key} (Holded document {document.get('id')}, "
            f"{document.get('contactName') or 'no contact'}, total {document.get('total')})")


def draft_payment_reason(invoice_key: str, document: MappingABC[str, Any]) -> str:
    return (f"{_described(invoice_key, document)} is a draft in Holded: paying it would approve "
            "it with Holded's next number (Holded's /pay approves drafts, irreversibly; "
            "UNVERIFIED, docs/holded.md §4). Not paid. Approve it in Holded, or have invoices "
            f"created approved with the ERP's number ({APPROVE_SETTING}, docs/holded.md §10), "
            "then: holded-sync parked redrive --system holded; or set "
            f"{SETTING}=true to let payments approve drafts")


def approved_by_payment_note(invoice_key: str, document: MappingABC[str, Any]) -> str:
    return (f"{_described(invoice_key, document)} was a draft in Holded: this payment approved "
            f"it as {document.get('docNumber')!r}, Holded's next number ({SETTING}=true)")
