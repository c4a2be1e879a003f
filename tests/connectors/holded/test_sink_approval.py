"""HoldedSink with HOLDED_APPROVE_DOCUMENTS against the Holded sandbox: ERP drafts wait, issued
documents are created approved with the ERP's number, approved documents are never written."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from connectors.holded.approval import ApprovalPolicy
from connectors.holded.lookup import sync_key_of
from connectors.holded.sandbox import SandboxServer
from connectors.holded.sink import HoldedSink
from tests.connectors.holded.sink_support import (
    command, contact_command, invoice_commands, make_client, make_sink, payment, product_command,
)
from tests.mapping.factories import example_mapping

INV = "/api/invoicing/v1"
ON = ApprovalPolicy(frozenset({"invoice", "credit_note"}))


# The example mapping's series F, an invoice series the sandbox seeds (and what `mappings check`
# verifies the example against).
SERIES_F = "64a1f0c2e4b0a10000000f01"


@pytest.fixture
async def approving(sandbox: SandboxServer, http: httpx.AsyncClient) -> HoldedSink:
    assert (await sandbox.get("numberingseries", SERIES_F))["type"] == "invoice"
    sink = make_sink(make_client(sandbox, http), example_mapping(), approval=ON)
    for cmd in (contact_command(1), product_command(1)):
        assert (await sink.execute(cmd)).result["status"] == "succeeded"
    return sink


def erp_invoice(*, status: str = "issued", version: int = 1, number: str = "INV/2026/0042",
                target_id: str | None = None) -> dict[str, Any]:
    cmd = invoice_commands(1, contact_n=1, product_ns=[1], version=version)
    cmd["payload"].update(status=status, number=number, series="F")
    cmd["target_id"] = target_id
    return cmd


def writes(sandbox: SandboxServer, since: int = 0) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests[since:] if r.method in ("POST", "PUT", "DELETE")]


async def test_an_erp_draft_waits_and_the_issued_version_is_created_approved(
        approving: HoldedSink, sandbox: SandboxServer) -> None:
    before = len(sandbox.requests)
    outcome = await approving.execute(erp_invoice(status="draft"))
    assert outcome.result["status"] == "parked" and "draft in the ERP" in outcome.result["reason"]
    assert (outcome.parked_kind, outcome.redrive) == ("not_ready", False)
    assert len(sandbox.requests) == before and await sandbox.count("documents") == 0  # no call

    done = await approving.execute(erp_invoice(version=2))
    [doc] = await sandbox.all("documents", docType="invoice")
    assert done.result["status"] == "succeeded" and done.result["target_id"] == doc["id"]
    assert doc["draft"] is None and doc["approvedAt"] and doc["status"] == 1


async def test_an_issued_invoice_is_created_approved_with_the_erp_number_and_series(
        approving: HoldedSink, sandbox: SandboxServer) -> None:
    sandbox.state.sales_invoice_num = "kept"  # a tenant whose series keeps invoiceNum
    outcome = await approving.execute(erp_invoice())
    assert (outcome.result["status"], outcome.result["reason"], outcome.conflicts) == (
        "succeeded", None, [])
    [doc] = await sandbox.all("documents", docType="invoice")
    assert (doc["docNumber"], doc["numSerieId"]) == ("INV/2026/0042", SERIES_F)
    assert {"field": "holded_sync_number", "value": "INV/2026/0042"} in doc["customFields"]
    [create] = [r for r in sandbox.requests if r.method == "POST" and r.path == f"{INV}/documents/invoice"]
    assert create.status == 201


async def test_a_number_the_series_overrides_is_reported_not_retried_not_duplicated(
        approving: HoldedSink, sandbox: SandboxServer, http: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture) -> None:
    cmd = erp_invoice()  # the sandbox's default: the series numbers it, invoiceNum ignored
    outcome = await approving.execute(cmd)
    reason = outcome.result["reason"]
    assert outcome.result["status"] == "succeeded" and outcome.conflicts == []
    assert "created approved in Holded as 'F260001', not with the ERP's number 'INV/2026/0042'" in reason
    assert sum("F260001" in r.getMessage() for r in caplog.records) == 1  # logged once
    [doc] = await sandbox.all("documents", docType="invoice")
    assert sync_key_of(doc) == "invoice/odoo/INV-1"
    assert {"field": "holded_sync_number", "value": "INV/2026/0042"} in doc["customFields"]
    assert (await approving.execute(cmd)).result["status"] == "already_done"
    other = make_sink(make_client(sandbox, http), example_mapping(), approval=ON)
    before = len(sandbox.requests)
    again = (await other.execute(cmd)).result  # another worker: empty ledger, finds it
    assert again["status"] == "succeeded" and again["target_id"] == doc["id"]
    assert writes(sandbox, before) == [] and await sandbox.count("documents") == 1


async def test_a_lost_approved_create_response_is_found_not_created_twice(
        approving: HoldedSink, sandbox: SandboxServer) -> None:
    sandbox.state.sales_invoice_num = "kept"
    sandbox.faults.lose_next_writes = 1
    outcome = await approving.execute(erp_invoice())
    assert sandbox.faults.lose_next_writes == 0  # the fault did fire
    assert (outcome.result["status"], outcome.result["reason"]) == ("succeeded", None)
    [doc] = await sandbox.all("documents", docType="invoice")
    assert doc["docNumber"] == "INV/2026/0042" and outcome.result["target_id"] == doc["id"]
    assert [r.outcome for r in sandbox.requests if r.path == f"{INV}/documents/invoice"
            and r.method == "POST"] == ["dropped"]


async def test_a_change_to_a_locked_field_of_an_approved_document_is_parked_for_review(
        approving: HoldedSink, sandbox: SandboxServer) -> None:
    first = (await approving.execute(erp_invoice())).result
    [before] = await sandbox.all("documents", docType="invoice")
    changed = erp_invoice(version=2, target_id=first["target_id"])
    changed["payload"]["notes"] = "precio corregido"
    since = len(sandbox.requests)
    outcome = await approving.execute(changed)
    assert outcome.result["status"] == "parked" and (outcome.parked_kind, outcome.redrive) == (
        "review", True)
    assert "is approved (issued)" in outcome.result["reason"]
    assert "notes: sent 'precio corregido'" in outcome.result["reason"]
    assert "credit note" in outcome.result["reason"]
    assert writes(sandbox, since) == [] and await sandbox.all("documents", docType="invoice") == [before]


async def test_a_change_an_approved_document_does_not_hold_succeeds_without_a_write(
        approving: HoldedSink, sandbox: SandboxServer) -> None:
    first = (await approving.execute(erp_invoice())).result
    paid = erp_invoice(version=2, target_id=first["target_id"])
    paid["payload"].update(payment_status="paid", amount_paid=paid["payload"]["totals"]["total"])
    since = len(sandbox.requests)
    result = (await approving.execute(paid)).result
    assert result["status"] == "succeeded" and "not written" in result["reason"]
    assert writes(sandbox, since) == []


async def test_a_document_approved_by_hand_in_holded_is_parked_not_failed(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    sink = make_sink(make_client(sandbox, http))  # the option off: created a draft
    for cmd in (contact_command(1), product_command(1)):
        await sink.execute(cmd)
    first = (await sink.execute(invoice_commands(1, contact_n=1, product_ns=[1]))).result
    await sandbox.approve(first["target_id"])  # a person approves it in Holded's app
    edit = invoice_commands(1, contact_n=1, product_ns=[1], version=2)
    edit["target_id"] = first["target_id"]
    edit["payload"]["lines"][0]["unit_price"] = D("99.00")
    edit["payload"]["totals"] = invoice_commands(1, contact_n=1, product_ns=[1])["payload"]["totals"] | {
        "subtotal": D("198.00"), "tax_total": D("41.58"), "total": D("239.58")}
    since = len(sandbox.requests)
    outcome = await sink.execute(edit)
    assert outcome.result["status"] == "parked" and outcome.parked_kind == "review"
    assert outcome.conflicts == [] and "Holded document F260001 is approved" in outcome.result["reason"]
    assert "lines[1].price: sent 99.00" in outcome.result["reason"]
    assert writes(sandbox, since) == []


async def test_a_cancelled_erp_invoice_never_in_holded_is_not_created(
        approving: HoldedSink, sandbox: SandboxServer) -> None:
    outcome = await approving.execute(erp_invoice(status="cancelled"))
    assert outcome.result["status"] == "parked" and (outcome.parked_kind, outcome.redrive) == (
        "review", False)
    assert await sandbox.count("documents") == 0


async def test_a_holded_draft_of_an_issued_invoice_is_parked_then_created_approved_once_deleted(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    mapping = example_mapping()
    off = make_sink(make_client(sandbox, http), mapping)
    for cmd in (contact_command(1), product_command(1)):
        await off.execute(cmd)
    draft = (await off.execute(erp_invoice())).result  # before the option was on
    on = make_sink(make_client(sandbox, http), mapping, approval=ON)
    issued = erp_invoice(version=2, target_id=draft["target_id"])
    outcome = await on.execute(issued)
    assert outcome.result["status"] == "parked" and (outcome.parked_kind, outcome.redrive) == (
        "review", True)
    assert "cannot approve an existing draft" in outcome.result["reason"]
    assert await sandbox.store.delete("documents", draft["target_id"])  # as the reason says
    redriven = (await on.execute(issued)).result
    [doc] = await sandbox.all("documents", docType="invoice")
    assert redriven["status"] == "succeeded" and redriven["target_id"] == doc["id"] != draft["target_id"]
    assert doc["approvedAt"] and doc["draft"] is None


async def test_a_payment_on_an_approved_document_is_registered(
        approving: HoldedSink, sandbox: SandboxServer) -> None:
    doc_id = (await approving.execute(erp_invoice())).result["target_id"]
    result = (await approving.execute(command("payment", "payment/odoo/P-1",
                                              payment("invoice/odoo/INV-1", "5.00")))).result
    assert result["status"] == "succeeded"
    [paid] = await sandbox.all("payments")
    assert (paid["documentId"], paid["amount"]) == (doc_id, 5.0)
    doc = await sandbox.get("documents", doc_id)
    assert doc is not None and doc["paymentsTotal"] == 5.0 and doc["status"] == 2
