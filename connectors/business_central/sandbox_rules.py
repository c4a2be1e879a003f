"""Business rules of the BC sandbox: validation, defaults, document totals and posting.

What BC refuses, this refuses (as far as the reference tells): unknown or read-only
properties, wrong types, over-long strings, dangling references, changes to posted
documents, payments applied to an invoice that is not open or belongs to someone else.
Where the reference is unsure (the sign of a customer payment, posting a payment journal
through the API) the stricter reading is taken and docs/business_central.md says so.

Tax is rounded per document and tax code, as BC does; line amounts per line.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.business_central.sandbox_entities import ENTITY_SETS, EntitySpec
from connectors.business_central.sandbox_odata import GUID_RE, ODataError, bad
from connectors.business_central.sandbox_store import SandboxStore

__all__ = ["Rules", "clean_body"]

Record = dict[str, Any]
CENT = Decimal("0.01")
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
ZERO = Decimal(0)
# BC keeps a Decimal in SQL as decimal(38,20): fewer than 18 digits before the point.
MAX_DECIMAL = Decimal(10) ** 18
# Code fields: BC stores them upper case.
CODE_FIELDS = frozenset({"number", "code", "documentNumber", "externalDocumentNumber",
                         "taxCode", "taxGroupCode", "currencyCode", "customerNumber",
                         "lineObjectNumber", "country", "unitOfMeasureCode",
                         "baseUnitOfMeasureCode", "appliesToInvoiceNumber",
                         "balancingAccountNumber"})
ENUMS = {
    ("customers", "type"): ("Company", "Person"),
    ("customers", "blocked"): (" ", "Ship", "Invoice", "All"),
    ("vendors", "blocked"): (" ", "Payment", "All"),
    ("items", "type"): ("Inventory", "Service", "Non-Inventory"),
    ("salesInvoiceLines", "lineType"): ("Comment", "Account", "Item"),
    ("salesCreditMemoLines", "lineType"): ("Comment", "Account", "Item"),
}
LINES = {"salesInvoices": "salesInvoiceLines", "salesCreditMemos": "salesCreditMemoLines"}
GL_ACCOUNTS = ("7000001", "7050001", "7080001")
RECEIVABLES = "4300001"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAYS = re.compile(r"^(\d+)D$")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def clean_body(spec: EntitySpec, body: Any) -> Record:
    """Check a POST/PATCH body against the entity's properties; return the values to write."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    out: Record = {}
    for name, value in body.items():
        if name.startswith("@odata."):
            continue
        if name not in spec.types:
            raise bad(f"The property '{name}' does not exist on type 'Microsoft.NAV."
                      f"{spec.type_name}'. Make sure to only use property names that are "
                      "defined by the type.")
        if name not in spec.writable:
            raise bad(f"The property '{name}' is read-only and cannot be set.",
                      "BadRequest_PropertyReadOnly")
        out[name] = _typed(spec, name, value)
    return out


def _typed(spec: EntitySpec, name: str, value: Any) -> Any:
    kind = spec.types[name]
    expected = {"s": "Edm.String", "g": "Edm.Guid", "d": "Edm.Date", "n": "Edm.Decimal",
                "i": "Edm.Int32", "b": "Edm.Boolean", "t": "Edm.DateTimeOffset"}[kind]
    ok = {
        "s": isinstance(value, str),
        "g": isinstance(value, str) and bool(GUID_RE.match(value)),
        "d": isinstance(value, str) and bool(_DATE.match(value)),
        "n": isinstance(value, int | Decimal) and not isinstance(value, bool),
        # Edm.Int32 (an AL Integer): a wider number cannot be converted to the type
        "i": isinstance(value, int) and not isinstance(value, bool)
             and -2 ** 31 <= value < 2 ** 31,
        "b": isinstance(value, bool),
        "t": isinstance(value, str),
    }[kind]
    if not ok:
        raise bad(f"Cannot convert the literal '{value}' to the expected type '{expected}' "
                  f"of property '{name}'.")
    if kind == "s":
        limit = spec.lengths.get(name)
        if limit is not None and len(value) > limit:
            raise bad(f"The length of the string is {len(value)}, but it must be less than or "
                      f"equal to {limit} characters. Value: {value}",
                      "BadRequest_InvalidValue")
        allowed = ENUMS.get((spec.name, name))
        if allowed is not None and value not in allowed:
            raise bad(f"'{value}' is not a valid value for '{name}'; valid values: "
                      + ", ".join(repr(a) for a in allowed))
        return value.upper() if name in CODE_FIELDS else value
    if kind == "g":
        return value.lower()
    if kind == "n":
        if abs(Decimal(value)) >= MAX_DECIMAL:
            raise bad(f"Cannot convert the literal '{value}' to the expected type '{expected}' "
                      f"of property '{name}': the value is out of range.")
        low, high = spec.ranges.get(name, (None, None))
        if low is not None and value < low:
            raise bad(f"The value must be greater than or equal to {low}. Value: {value}",
                      "BadRequest_InvalidValue")
        if high is not None and value > high:
            raise bad(f"The value must be less than or equal to {high}. Value: {value}",
                      "BadRequest_InvalidValue")
        return Decimal(value)
    if kind == "d":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise bad(f"Cannot convert the literal '{value}' to 'Edm.Date'.") from None
    return value


def not_found(spec_name: str, detail: str = "") -> ODataError:
    what = ENTITY_SETS[spec_name].type_name if spec_name in ENTITY_SETS else spec_name
    return ODataError(404, "BadRequest_NotFound",
                      f"The {what} does not exist. {detail}".strip())


def _changed(name: str, record: Record, current: Record | None) -> bool:
    return current is None or record.get(name) != current.get(name)


def _check_phone_and_email(record: Record, current: Record | None, what: str) -> None:
    """The Customer and Vendor tables' OnValidate triggers, which run when a field changes.
    "Phone No." refuses any letter (DotNet Char.IsLetter, as str.isalpha): FieldError 'must
    not contain letters'. "E-Mail", unless empty, goes through Mail Management's
    CheckValidEmailAddresses: each ';'-separated address, trimmed, holds exactly one '@', not
    at either end, and no blank (the least every BC version checks; newer ones also match a
    pattern, UNVERIFIED which, so only this much is refused)."""
    phone = record.get("phoneNumber") or ""
    if _changed("phoneNumber", record, current) and any(char.isalpha() for char in phone):
        raise bad(f"Phone No. must not contain letters in {what} No.='{record['number']}'.")
    email = record.get("email") or ""
    if email and _changed("email", record, current):
        for address in email.strip(";").split(";"):
            address = address.strip(" ")
            if (address.count("@") != 1 or address.startswith("@") or address.endswith("@")
                    or " " in address):
                raise bad(f'The email address "{address}" is not valid.')


def due_days(term: Record | None) -> int:
    match = _DAYS.match(str((term or {}).get("dueDateCalculation") or "0D"))
    return int(match.group(1)) if match else 0


class Rules:
    """Defaults, references and side effects of writes, over one store and one company."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    # -- helpers -------------------------------------------------------------------------
    async def one(self, collection: str, company: str, **equals: Any) -> Record | None:
        found = await self.store.list(collection, _company=company, **equals)
        return found[0] if found else None

    async def ref(self, collection: str, company: str, record_id: str, what: str) -> Record:
        record = await self.store.get(collection, record_id)
        if record is None or record.get("_company") != company:
            raise bad(f"The {what} with id '{record_id}' does not exist.", "BadRequest_NotFound")
        return record

    async def next_number(self, collection: str, company: str, prefix: str,
                          field: str = "number") -> str:
        taken = {r.get(field) for r in await self.store.list(collection, _company=company)
                 if str(r.get(field) or "").startswith(prefix)}
        n = len(taken) + 1
        while f"{prefix}{n:05d}" in taken:
            n += 1
        return f"{prefix}{n:05d}"

    def today(self) -> dt.date:
        return self.store.now().date()

    async def unique(self, collection: str, company: str, field: str, value: Any,
                     own_id: str | None = None) -> None:
        for record in await self.store.list(collection, _company=company, **{field: value}):
            if record["id"] != own_id:
                raise bad(f"The record already exists: {field} '{value}'.",
                          "Internal_EntityWithSameKeyExists")

    # -- per entity set ------------------------------------------------------------------
    async def prepare(self, spec: EntitySpec, company: str, values: Record,
                      current: Record | None, parent: Record | None) -> Record:
        """The full record to store after a create (``current`` None) or an update."""
        if current is not None and spec.parent is not None:
            await self._check_draft(spec, parent)
        record = {**spec.defaults, **(current or {}), **values, "_company": company}
        if parent is not None and spec.parent_field:
            record[spec.parent_field] = parent["id"]
        hook = getattr(self, f"_prepare_{spec.name}", None)
        if hook is not None:
            await hook(company, record, current, parent)
        return record

    async def _prepare_customers(self, company: str, record: Record, current: Record | None,
                                 parent: Record | None) -> None:
        await self._party(company, record, current, "customers", "C")
        record.setdefault("_balance", ZERO)
        record.setdefault("_sales", ZERO)

    async def _prepare_vendors(self, company: str, record: Record, current: Record | None,
                               parent: Record | None) -> None:
        await self._party(company, record, current, "vendors", "P")

    async def _party(self, company: str, record: Record, current: Record | None,
                     collection: str, prefix: str) -> None:
        if not record.get("number"):
            record["number"] = await self.next_number(collection, company, prefix)
        await self.unique(collection, company, "number", record["number"],
                          current["id"] if current else None)
        _check_phone_and_email(record, current, "Customer" if collection == "customers"
                               else "Vendor")
        # The empty GUID clears a reference (UNVERIFIED against a live tenant).
        if record.get("paymentTermsId") and record["paymentTermsId"] != EMPTY_GUID:
            await self.ref("paymentTerms", company, record["paymentTermsId"], "payment term")
        if record.get("paymentMethodId") and record["paymentMethodId"] != EMPTY_GUID:
            await self.ref("paymentMethods", company, record["paymentMethodId"],
                           "payment method")
        if record.get("currencyCode"):
            if await self.one("currencies", company, code=record["currencyCode"]) is None:
                raise bad(f"The currency '{record['currencyCode']}' does not exist. Leave "
                          "currencyCode empty for the local currency.", "BadRequest_NotFound")

    async def _prepare_items(self, company: str, record: Record, current: Record | None,
                             parent: Record | None) -> None:
        if not record.get("number"):
            record["number"] = await self.next_number("items", company, "ART")
        await self.unique("items", company, "number", record["number"],
                          current["id"] if current else None)
        group = None
        if record.get("taxGroupCode") and (current is None or record.get("taxGroupCode")
                                           != current.get("taxGroupCode")):
            group = await self.one("taxGroups", company, code=record["taxGroupCode"])
            if group is None:
                raise bad(f"The tax group '{record['taxGroupCode']}' does not exist.",
                          "BadRequest_NotFound")
        elif record.get("taxGroupId") and (current is None or record.get("taxGroupId")
                                           != current.get("taxGroupId")):
            group = await self.ref("taxGroups", company, record["taxGroupId"], "tax group")
        if group is not None:
            record["taxGroupId"], record["taxGroupCode"] = group["id"], group["code"]
        if Decimal(record.get("unitPrice", 0)) < 0:
            raise bad("unitPrice must not be negative.")

    async def _prepare_customerPaymentJournals(self, company: str, record: Record,
                                               current: Record | None,
                                               parent: Record | None) -> None:
        if not record.get("code"):
            raise bad("code is required.")
        await self.unique("customerPaymentJournals", company, "code", record["code"],
                          current["id"] if current else None)

    async def _prepare_customerPayments(self, company: str, record: Record,
                                        current: Record | None, parent: Record | None) -> None:
        if parent is None:
            raise bad("Customer payments are created in a customer payment journal: POST "
                      "customerPaymentJournals(<id>)/customerPayments.")
        record["journalDisplayName"] = parent["code"]
        if current is None:
            siblings = await self.store.list("customerPayments", journalId=parent["id"])
            record.setdefault("lineNumber", max([s["lineNumber"] for s in siblings], default=0)
                              + 10000)
            record.setdefault("postingDate", self.today().isoformat())
        customer = None
        if record.get("customerId"):
            customer = await self.ref("customers", company, record["customerId"], "customer")
        elif record.get("customerNumber"):
            customer = await self.one("customers", company, number=record["customerNumber"])
        if customer is None:
            raise bad("customerId or customerNumber of an existing customer is required.",
                      "BadRequest_NotFound")
        record.update(customerId=customer["id"], customerNumber=customer["number"])
        # The sign is UNVERIFIED (v1.0 docs show -1500, v2.0 docs 1500): take v2.0's reading.
        if "amount" not in record or Decimal(record["amount"]) <= 0:
            raise bad("amount must be a positive amount received from the customer.")
        invoice = None
        if record.get("appliesToInvoiceId"):
            invoice = await self.ref("salesInvoices", company, record["appliesToInvoiceId"],
                                     "invoice")
        elif record.get("appliesToInvoiceNumber"):
            invoice = await self.one("salesInvoices", company,
                                     number=record["appliesToInvoiceNumber"])
            if invoice is None:
                raise bad(f"The invoice {record['appliesToInvoiceNumber']} does not exist.",
                          "BadRequest_NotFound")
        if invoice is not None:
            if invoice["status"] != "Open":
                raise bad(f"The invoice {invoice['number']} is not open ({invoice['status']}); "
                          "a payment can only be applied to an open posted invoice.")
            if invoice["customerId"] != customer["id"]:
                raise bad(f"The invoice {invoice['number']} belongs to another customer.")
            record.update(appliesToInvoiceId=invoice["id"],
                          appliesToInvoiceNumber=invoice["number"])

    async def _prepare_salesInvoices(self, company: str, record: Record,
                                     current: Record | None, parent: Record | None) -> None:
        await self._document(company, record, current, "invoiceDate", "BORR-FV")

    async def _prepare_salesCreditMemos(self, company: str, record: Record,
                                        current: Record | None, parent: Record | None) -> None:
        await self._document(company, record, current, "creditMemoDate", "BORR-AB")
        if record.get("invoiceId") and (current is None
                                        or record["invoiceId"] != current.get("invoiceId")):
            invoice = await self.ref("salesInvoices", company, record["invoiceId"], "invoice")
            if invoice["status"] == "Draft":
                raise bad("A credit memo can only correct a posted invoice.")
            record["invoiceNumber"] = invoice["number"]

    async def _document(self, company: str, record: Record, current: Record | None,
                        date_field: str, draft_prefix: str) -> None:
        if current is not None and current.get("status") != "Draft":
            raise bad("The document has been posted and cannot be changed.",
                      "BadRequest_MethodNotAllowed")
        customer = None
        if record.get("customerId") and (current is None
                                         or record["customerId"] != current.get("customerId")):
            customer = await self.ref("customers", company, record["customerId"], "customer")
        elif record.get("customerNumber") and (current is None or record["customerNumber"]
                                               != current.get("customerNumber")):
            customer = await self.one("customers", company, number=record["customerNumber"])
            if customer is None:
                raise bad(f"The customer '{record['customerNumber']}' does not exist.",
                          "BadRequest_NotFound")
        elif current is None:
            raise bad("customerId or customerNumber is required.")
        if customer is not None:
            if customer.get("blocked") == "All":
                raise bad(f"The customer {customer['number']} is blocked (All).")
            record.update(customerId=customer["id"], customerNumber=customer["number"],
                          customerName=customer.get("displayName", ""))
            if current is None:
                record.setdefault("currencyCode", customer.get("currencyCode", ""))
                if customer.get("paymentTermsId"):
                    record.setdefault("paymentTermsId", customer["paymentTermsId"])
        if current is None:
            record.setdefault(date_field, self.today().isoformat())
            record.setdefault("postingDate", record[date_field])
            record["number"] = await self.next_number(
                "salesInvoices" if date_field == "invoiceDate" else "salesCreditMemos",
                company, draft_prefix)
            record.update(status="Draft", discountAmount=ZERO, totalAmountExcludingTax=ZERO,
                          totalTaxAmount=ZERO, totalAmountIncludingTax=ZERO)
            record.setdefault("pricesIncludeTax", False)
            record.setdefault("externalDocumentNumber", "")
            if date_field == "invoiceDate":
                record["remainingAmount"] = ZERO
        if not record.get("dueDate"):
            term = None
            if record.get("paymentTermsId"):
                term = await self.ref("paymentTerms", company, record["paymentTermsId"],
                                      "payment term")
            start = dt.date.fromisoformat(record[date_field])
            try:
                record["dueDate"] = (start + dt.timedelta(days=due_days(term))).isoformat()
            except OverflowError:  # past 9999-12-31, or more days than a timedelta holds
                raise bad(f"The due date calculated from {date_field} {start.isoformat()} "
                          "and the payment terms is not a valid date.") from None

    async def _prepare_salesInvoiceLines(self, company: str, record: Record,
                                         current: Record | None, parent: Record | None) -> None:
        await self._line(company, record, current, parent, "salesInvoiceLines")

    async def _prepare_salesCreditMemoLines(self, company: str, record: Record,
                                            current: Record | None,
                                            parent: Record | None) -> None:
        await self._line(company, record, current, parent, "salesCreditMemoLines")

    async def _check_draft(self, spec: EntitySpec, parent: Record | None) -> None:
        if spec.name.endswith("Lines") and (parent is None or parent.get("status") != "Draft"):
            raise bad("The document has been posted and its lines cannot be changed.",
                      "BadRequest_MethodNotAllowed")

    async def _line(self, company: str, record: Record, current: Record | None,
                    parent: Record | None, collection: str) -> None:
        spec = ENTITY_SETS[collection]
        await self._check_draft(spec, parent)
        assert parent is not None
        record.setdefault("lineType", "Item")
        if current is None:
            siblings = await self.store.list(collection, documentId=parent["id"])
            record.setdefault("sequence", max([s["sequence"] for s in siblings], default=0)
                              + 10000)
        if record["lineType"] == "Item":
            item = None
            if record.get("itemId"):
                item = await self.ref("items", company, record["itemId"], "item")
            elif record.get("lineObjectNumber"):
                item = await self.one("items", company, number=record["lineObjectNumber"])
            if item is None:
                raise bad("An item line needs an existing itemId or lineObjectNumber.",
                          "BadRequest_NotFound")
            if item.get("blocked"):
                raise bad(f"The item {item['number']} is blocked.")
            record.update(itemId=item["id"], lineObjectNumber=item["number"])
            record.setdefault("description", item.get("displayName", ""))
            record.setdefault("unitPrice", item.get("unitPrice", ZERO))
            record.setdefault("taxCode", item.get("taxGroupCode", ""))
            record.setdefault("unitOfMeasureCode", item.get("baseUnitOfMeasureCode", ""))
        elif record["lineType"] == "Account":
            if record.get("lineObjectNumber") not in GL_ACCOUNTS:
                raise bad(f"The G/L account '{record.get('lineObjectNumber')}' does not exist "
                          "or is not a posting account.", "BadRequest_NotFound")
        record.setdefault("description", "")
        for name in ("quantity", "unitPrice", "discountPercent"):
            record[name] = Decimal(record.get(name) or 0)
        if record["lineType"] == "Comment":
            record.update(quantity=ZERO, unitPrice=ZERO, taxCode="")
        rate = ZERO
        if record.get("taxCode"):
            group = await self.one("taxGroups", company, code=record["taxCode"])
            if group is None:
                raise bad(f"The tax group '{record['taxCode']}' does not exist.",
                          "BadRequest_NotFound")
            rate = Decimal(group.get("_rate", 0))
        gross = record["quantity"] * record["unitPrice"]
        discounted = gross * record["discountPercent"] / 100
        if abs(gross) >= MAX_DECIMAL or abs(discounted) >= MAX_DECIMAL:
            raise bad("Arithmetic overflow: the amount of the line is out of range.")
        discount = money(discounted)
        net = money(gross) - discount
        tax = money(net * rate / 100)
        record.update(discountAmount=discount, amountExcludingTax=net, netAmount=net,
                      taxPercent=rate, totalTaxAmount=tax, amountIncludingTax=net + tax)

    async def refresh_totals(self, collection: str, document: Record) -> Record:
        """Document totals from its lines: tax rounded once per tax code (BC's way)."""
        lines = await self.store.list(LINES[collection], documentId=document["id"])
        bases: dict[tuple[str, Decimal], Decimal] = {}
        for line in lines:
            key = (line.get("taxCode", ""), Decimal(line.get("taxPercent", 0)))
            bases[key] = bases.get(key, ZERO) + Decimal(line["amountExcludingTax"])
        subtotal = sum(bases.values(), ZERO)
        tax = sum((money(base * rate / 100) for (_, rate), base in bases.items()), ZERO)
        discount = sum((Decimal(line["discountAmount"]) for line in lines), ZERO)
        document.update(totalAmountExcludingTax=subtotal, totalTaxAmount=tax,
                        totalAmountIncludingTax=subtotal + tax, discountAmount=discount)
        return await self.store.put(collection, document)
