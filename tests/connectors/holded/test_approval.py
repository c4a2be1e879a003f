"""Approved Holded documents, pure parts: the create body, what waits, what is locked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from connectors.holded.approval import (
    ApprovalPolicy, create_hold, is_approved, locked_changes, locked_reason, number_note,
)
from connectors.holded.mapping import DocumentRefs, epoch_seconds, map_invoice
from tests.connectors.holded.sink_support import invoice, line
from tests.mapping.factories import example_mapping

MAPPING = example_mapping()
KEY = "invoice/odoo/INV-1"
ON = ApprovalPolicy(frozenset({"invoice", "credit_note"}))


def issued(**changes: object) -> dict:
    doc = invoice("contact/odoo/1", [line(1, None, "2", "10.00")])
    doc.update({"number": "INV/2026/0001", "series": "F", **changes})
    return doc


def request(doc: dict, *, approve: bool = False):
    return map_invoice(doc, entity_key=KEY, mapping=MAPPING, refs=DocumentRefs("c1"), approve=approve)


def stored_from(doc: dict, **changes: object) -> dict:
    """What Holded shows for ``doc`` written as mapped and approved (the read shape)."""
    body = request(doc).body
    out = {"id": "d1", "contact": "c1", "date": body["date"] - 13 * 3600, "dueDate": None,
           "notes": "", "draft": None, "docNumber": "F260001", "approvedAt": 1772452800,
           "status": 1, "currency": "eur", "currencyChange": 1,
           "customFields": body["customFields"], "subtotal": 20.0, "tax": 4.2, "total": 24.2,
           "products": [{"price": 10.0, "taxes": ["s_iva_21"], "retention": 0}]}
    out.update(changes)
    return out


def test_an_approved_create_carries_approve_doc_the_erp_number_and_its_series() -> None:
    body = request(issued(), approve=True).body
    assert body["approveDoc"] is True and body["invoiceNum"] == "INV/2026/0001"
    assert body["numSerieId"] == "64a1f0c2e4b0a10000000f01"  # series F in mapping-es.yaml
    assert body["customFields"] == [{"field": "holded_sync_key", "value": KEY},
                                    {"field": "holded_sync_number", "value": "INV/2026/0001"}]


def test_a_draft_create_sends_nothing_of_approval() -> None:
    body = request(issued()).body
    assert not {"approveDoc", "invoiceNum"} & set(body)
    assert body["customFields"] == [{"field": "holded_sync_key", "value": KEY}]


def test_an_approved_create_without_an_erp_number_lets_holded_number_it() -> None:
    body = request(issued(number=None), approve=True).body
    assert body["approveDoc"] is True and "invoiceNum" not in body
    assert [f["field"] for f in body["customFields"]] == ["holded_sync_key"]


@pytest.mark.parametrize("status", ["draft", "issued", "cancelled"])
def test_with_the_option_off_every_document_is_created(status: str) -> None:
    assert create_hold(issued(status=status), ApprovalPolicy()) is None
    assert create_hold(issued(status=status, doc_type="sales_receipt"), ON) is None  # not listed


def test_an_erp_draft_waits_not_ready_and_is_not_redriven() -> None:
    hold = create_hold(issued(status="draft"), ON)
    assert hold is not None and (hold.kind, hold.redrive) == ("not_ready", False)
    assert "draft in the ERP" in str(hold) and "created approved once the ERP issues it" in str(hold)


def test_a_cancelled_erp_invoice_is_not_created() -> None:
    hold = create_hold(issued(status="cancelled"), ON)
    assert hold is not None and (hold.kind, hold.redrive) == ("review", False)
    assert "cancelled in the ERP" in str(hold)


def test_an_issued_invoice_is_created() -> None:
    assert create_hold(issued(), ON) is None


def test_an_unknown_document_type_in_the_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="invoices.*expected any of invoice, credit_note"):
        ApprovalPolicy(frozenset({"invoices"}))


@pytest.mark.parametrize(("shown", "approved"), [
    ({"draft": True, "docNumber": None, "approvedAt": None}, False),
    ({"draft": None, "docNumber": "F260001", "approvedAt": 1}, True),
    ({"draft": None, "docNumber": None, "approvedAt": 1}, True),
    ({"draft": None, "docNumber": None, "approvedAt": None}, False),
])
def test_approved_means_a_number_or_an_approval_time_and_no_draft(shown: dict, approved: bool) -> None:
    assert is_approved(shown) is approved


def test_an_unchanged_approved_document_has_no_locked_changes() -> None:
    doc = issued(payment_status="paid", amount_paid=D("24.20"))  # what Holded owns: not compared
    assert locked_changes(request(doc), stored_from(doc), doc, entity_key=KEY, mapping=MAPPING) == []


def test_changes_to_lines_date_contact_notes_and_status_are_each_named() -> None:
    doc = issued()
    changed = issued(issue_date=dt.date(2026, 3, 9), notes="otra nota", status="cancelled",
                     lines=[line(1, None, "3", "10.00")])
    changed["totals"] = invoice("contact/odoo/1", changed["lines"])["totals"]
    found = locked_changes(request(changed), stored_from(doc, contact="c9"), changed,
                           entity_key=KEY, mapping=MAPPING)
    assert {m.field for m in found} == {"subtotal", "tax", "total", "contact", "date", "notes",
                                        "status"}
    assert epoch_seconds(dt.date(2026, 3, 9)) in [m.sent for m in found]


def test_the_locked_reason_says_what_differs_and_what_to_do() -> None:
    doc = issued()
    changed = issued(notes="x")
    reason = locked_reason(stored_from(doc), locked_changes(
        request(changed), stored_from(doc), changed, entity_key=KEY, mapping=MAPPING))
    assert reason.startswith("Holded document F260001 is approved (issued)")
    assert "notes: sent 'x', Holded holds ''" in reason and "credit note" in reason


def test_the_number_note_is_none_only_when_holded_kept_the_erp_number() -> None:
    assert number_note(issued(), {"docNumber": "INV/2026/0001"}) is None
    note = number_note(issued(), {"docNumber": "F260001"})
    assert note is not None and "'F260001'" in note and "'INV/2026/0001'" in note
    assert "holded_sync_number" in note
    assert "no ERP number" in str(number_note(issued(number=None), {"docNumber": "F260001"}))
