"""Bound actions of the BC sandbox: posting sales documents and customer payment journals.

Posting an invoice opens it (``remainingAmount`` = total) and raises the customer's
balance. Posting a payment journal turns each line into G/L entries (receivables credited,
the journal's balancing account debited), applies it to its invoice (remaining amount down,
``Paid`` at zero) and lowers the customer's balance; the journal is empty afterwards.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from connectors.business_central.sandbox_odata import bad
from connectors.business_central.sandbox_rules import RECEIVABLES, ZERO, Rules

__all__ = ["financial_details", "post_credit_memo", "post_invoice", "post_payment_journal"]

Record = dict[str, Any]
Touched = list[tuple[str, str, str]]  # (entity set, id, changeType) for notifications


async def post_invoice(rules: Rules, company: str, invoice: Record) -> Touched:
    if invoice["status"] != "Draft":
        raise bad(f"The invoice {invoice['number']} is already posted.")
    lines = await rules.store.list("salesInvoiceLines", documentId=invoice["id"])
    if not [line for line in lines if line["lineType"] != "Comment"]:
        raise bad("There is nothing to post.", "Internal_NothingToPost")
    customer = await rules.ref("customers", company, invoice["customerId"], "customer")
    total = Decimal(invoice["totalAmountIncludingTax"])
    invoice.update(number=await rules.next_number("salesInvoices", company, "V-FAC"),
                   status="Open" if total > 0 else "Paid", remainingAmount=total)
    await rules.store.put("salesInvoices", invoice)
    customer["_balance"] = Decimal(customer.get("_balance", 0)) + total
    customer["_sales"] = (Decimal(customer.get("_sales", 0))
                          + Decimal(invoice["totalAmountExcludingTax"]))
    await rules.store.put("customers", customer, touch=False)  # ledger, not the card, changed
    return [("salesInvoices", invoice["id"], "updated")]


async def post_credit_memo(rules: Rules, company: str, memo: Record) -> Touched:
    if memo["status"] != "Draft":
        raise bad(f"The credit memo {memo['number']} is already posted.")
    lines = await rules.store.list("salesCreditMemoLines", documentId=memo["id"])
    if not [line for line in lines if line["lineType"] != "Comment"]:
        raise bad("There is nothing to post.", "Internal_NothingToPost")
    total = Decimal(memo["totalAmountIncludingTax"])
    touched: Touched = [("salesCreditMemos", memo["id"], "updated")]
    customer = await rules.ref("customers", company, memo["customerId"], "customer")
    customer["_balance"] = Decimal(customer.get("_balance", 0)) - total
    customer["_sales"] = (Decimal(customer.get("_sales", 0))
                          - Decimal(memo["totalAmountExcludingTax"]))
    await rules.store.put("customers", customer, touch=False)
    memo.update(number=await rules.next_number("salesCreditMemos", company, "V-ABO"),
                status="Open")
    if memo.get("invoiceId"):
        invoice = await rules.ref("salesInvoices", company, memo["invoiceId"], "invoice")
        applied = min(total, Decimal(invoice["remainingAmount"]))
        invoice["remainingAmount"] = Decimal(invoice["remainingAmount"]) - applied
        if invoice["remainingAmount"] == 0:
            invoice["status"] = "Paid"
        await rules.store.put("salesInvoices", invoice)
        memo["status"] = "Corrective" if applied == total else "Open"
        touched.append(("salesInvoices", invoice["id"], "updated"))
    await rules.store.put("salesCreditMemos", memo)
    return touched


async def post_payment_journal(rules: Rules, company: str, journal: Record) -> Touched:
    lines = await rules.store.list("customerPayments", journalId=journal["id"])
    if not lines:
        raise bad("There is nothing to post.", "Internal_NothingToPost")
    # Validate every line before changing anything: posting is all or nothing.
    plan = []
    for line in sorted(lines, key=lambda r: r["lineNumber"]):
        customer = await rules.ref("customers", company, line["customerId"], "customer")
        invoice = None
        if line.get("appliesToInvoiceId"):
            invoice = await rules.ref("salesInvoices", company, line["appliesToInvoiceId"],
                                      "invoice")
            if invoice["status"] not in ("Open", "Paid"):
                raise bad(f"The invoice {invoice['number']} is not open.")
        plan.append((line, customer, invoice))
    touched: Touched = []
    entries = await rules.store.list("generalLedgerEntries", _company=company)
    entry_no = max([e["entryNumber"] for e in entries], default=0)
    for line, customer, invoice in plan:
        amount = Decimal(line["amount"])
        number = line.get("documentNumber") or await rules.next_number(
            "generalLedgerEntries", company, "COBRO", "documentNumber")
        for account, debit, credit in ((journal.get("balancingAccountNumber") or "5720001",
                                        amount, ZERO), (RECEIVABLES, ZERO, amount)):
            entry_no += 1
            await rules.store.insert("generalLedgerEntries", {
                "_company": company, "entryNumber": entry_no, "postingDate": line["postingDate"],
                "documentNumber": number, "documentType": "Payment", "accountNumber": account,
                "description": line.get("description", ""), "debitAmount": debit,
                "creditAmount": credit})
        if invoice is not None:
            invoice = await rules.store.get("salesInvoices", invoice["id"])  # fresh: 2 lines, 1 invoice
            assert invoice is not None
            remaining = Decimal(invoice["remainingAmount"])
            invoice["remainingAmount"] = remaining - min(amount, remaining)
            if invoice["remainingAmount"] == 0:
                invoice["status"] = "Paid"
            await rules.store.put("salesInvoices", invoice)
            touched.append(("salesInvoices", invoice["id"], "updated"))
        customer = await rules.store.get("customers", customer["id"])
        assert customer is not None
        customer["_balance"] = Decimal(customer.get("_balance", 0)) - amount
        await rules.store.put("customers", customer, touch=False)
        await rules.store.delete("customerPayments", line["id"])
    return touched


async def financial_details(rules: Rules, company: str, customer: Record) -> Record:
    today = rules.today()
    overdue = ZERO
    for invoice in await rules.store.list("salesInvoices", _company=company,
                                          customerId=customer["id"], status="Open"):
        if dt.date.fromisoformat(invoice["dueDate"]) < today:
            overdue += Decimal(invoice["remainingAmount"])
    return {"id": customer["id"], "number": customer["number"],
            "balance": Decimal(customer.get("_balance", 0)),
            "totalSalesExcludingTax": Decimal(customer.get("_sales", 0)),
            "overdueAmount": overdue}
