"""Business Central records <-> canonical records, through the mapping document.

Pure: BC reference data the mapping needs (payment terms, payment methods by id) comes in a
:class:`Lookups` that the source or sink fetched; no I/O here. Codes go through the mapping
document's ``business_central`` section (taxes = BC tax group / VAT codes, payment methods,
accounts). A code that cannot be mapped makes the record ``Unmappable`` with every reason at
once; nothing is guessed.

Inbound (BC -> canonical): :func:`customer_to_contact`, :func:`vendor_to_contact`,
:func:`item_to_product`, :func:`invoice_to_canonical` (salesInvoices and salesCreditMemos,
lines expanded). Outbound (canonical -> BC): :func:`contact_to_customer` (the fields a PATCH
may change) and :func:`payment_to_line` (a customerPayments journal line).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.mapping import Mapping
from app.mapping.decimals import net_of_tax
from app.mapping.inbound import InboundResolver
from app.mapping.resolve import Resolver
from connectors.base import identifiers

__all__ = ["HELD_FIELDS", "SYSTEM", "Lookups", "PaymentRefs", "contact_to_customer",
           "customer_to_contact", "entity_key", "invoice_to_canonical", "item_to_product",
           "payment_to_line", "sync_code", "vendor_to_contact"]

SYSTEM = "business_central"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
# Canonical fields Business Central stores, per entity (what echo checks and merges compare).
HELD_FIELDS: MappingABC[str, frozenset[str]] = {
    "contact": frozenset({"kind", "name", "tax_id", "is_person", "email", "phone", "address",
                          "payment_method", "payment_due_days", "currency"}),
    # stock: the item's one inventory total, in the mapping's stock_warehouse (if set)
    "product": frozenset({"kind", "sku", "name", "price", "cost", "currency", "sales_taxes",
                          "barcode", "active", "stock"}),
    "invoice": frozenset({"doc_type", "number", "issue_date", "due_date", "customer_key",
                          "currency", "lines", "totals", "status", "payment_status",
                          "amount_paid", "corrects"}),
    "payment": frozenset({"invoice_key", "date", "amount", "currency"}),
}
_DAYS = re.compile(r"^(\d+)D$")
_ZERO = Decimal(0)
_Q4, _Q6 = Decimal("0.0001"), Decimal("0.000001")  # canonical quantity / unit price scales


def entity_key(entity: str, record_id: str) -> str:
    return f"{entity}/{SYSTEM}/{record_id}"


def sync_code(key: str) -> str:
    """The 20-character document number that finds a record we wrote (BC Code[20]).

    An entity key does not fit BC's code fields (Code[20] / Code[35]), so its hash does.
    """
    return "HS" + hashlib.sha256(key.encode()).hexdigest()[:18].upper()


@dataclass(frozen=True, slots=True)
class Lookups:
    """BC reference data by id: ``paymentTerms`` and ``paymentMethods`` records."""

    payment_terms: MappingABC[str, MappingABC[str, Any]] = field(default_factory=dict)
    payment_methods: MappingABC[str, MappingABC[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(cls, payment_terms: list[dict[str, Any]],
              payment_methods: list[dict[str, Any]]) -> Lookups:
        return cls({t["id"]: t for t in payment_terms}, {m["id"]: m for m in payment_methods})

    def term_for_days(self, days: int) -> str | None:
        """Id of a payment term due exactly ``days`` days after the document date."""
        for term_id, term in sorted(self.payment_terms.items(), key=lambda kv: str(kv[1].get("code"))):
            if str(term.get("dueDateCalculation", "")).upper() == f"{days}D":
                return term_id
        return None

    def method_id(self, code: str) -> str | None:
        return next((i for i, m in self.payment_methods.items() if m.get("code") == code), None)


class _Inbound(InboundResolver):
    """Every reason a BC record cannot be read into canonical terms."""

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping, SYSTEM)

    def currency(self, code: str | None) -> str:
        return code or self.mapping.base_currency  # BC writes "" for the local currency


def _dec(value: Any) -> Decimal:
    return _ZERO if value is None else Decimal(str(value))


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _address(record: MappingABC[str, Any]) -> dict[str, Any] | None:
    street = ", ".join(p for p in (_text(record.get("addressLine1")),
                                   _text(record.get("addressLine2"))) if p) or None
    address = {"street": street, "city": _text(record.get("city")),
               "postal_code": _text(record.get("postalCode")),
               "province": _text(record.get("state")),
               "country_code": (_text(record.get("country")) or "").upper() or None}
    return address if any(address.values()) else None


def _party(record: MappingABC[str, Any], kind: str, mapping: Mapping, lookups: Lookups
           ) -> dict[str, Any]:
    r = _Inbound(mapping)
    due_days = None
    if record.get("paymentTermsId") and record["paymentTermsId"] != EMPTY_GUID:
        term = lookups.payment_terms.get(record["paymentTermsId"])
        formula = str((term or {}).get("dueDateCalculation", ""))
        match = _DAYS.match(formula.upper())
        if match is None:
            r.reasons.append(f"paymentTermsId: payment term {(term or {}).get('code')!r} "
                             f"({formula or 'unknown'}) is not a whole number of days")
        else:
            due_days = int(match.group(1))
    method = None
    if record.get("paymentMethodId") and record["paymentMethodId"] != EMPTY_GUID:
        known = lookups.payment_methods.get(record["paymentMethodId"])
        if known is None:
            r.reasons.append(f"paymentMethodId: unknown payment method {record['paymentMethodId']}")
        else:
            method = r.code("payment_methods", str(known["code"]), "paymentMethodId",
                            "payment method")
    contact = {
        "kind": kind, "name": str(record.get("displayName") or ""), "trade_name": None,
        "tax_id": identifiers.tax_id(record.get("taxRegistrationNumber")),
        "is_person": record.get("type") == "Person", "email": _text(record.get("email")),
        "phone": _text(record.get("phoneNumber")), "mobile": None, "iban": None, "swift": None,
        "address": _address(record), "tax_regime": None, "payment_method": method,
        "payment_due_days": due_days, "price_list": None,
        "currency": r.currency(record.get("currencyCode")), "language": None,
        "sales_account": None, "purchases_account": None, "default_taxes": [],
        "withholding": None, "tags": [],
    }
    r.raise_if_any()
    return contact


def customer_to_contact(record: MappingABC[str, Any], *, mapping: Mapping,
                        lookups: Lookups) -> dict[str, Any]:
    return _party(record, "customer", mapping, lookups)


def vendor_to_contact(record: MappingABC[str, Any], *, mapping: Mapping,
                      lookups: Lookups) -> dict[str, Any]:
    return _party(record, "supplier", mapping, lookups)


def item_to_product(record: MappingABC[str, Any], *, mapping: Mapping) -> dict[str, Any]:
    r = _Inbound(mapping)
    taxes: list[str] = []
    if record.get("taxGroupCode"):
        taxes, _ = r.taxes(str(record["taxGroupCode"]), "taxGroupCode")
    price = _dec(record.get("unitPrice"))
    if record.get("priceIncludesTax"):
        rate = sum((mapping.taxes[t].rate for t in taxes if t in mapping.taxes), _ZERO)
        price = net_of_tax(price, rate)
    product = {
        "kind": "service" if record.get("type") == "Service" else "product",
        "sku": str(record.get("number") or ""), "name": str(record.get("displayName") or ""),
        "description": None, "price": price,
        "cost": _dec(record["unitCost"]) if record.get("unitCost") is not None else None,
        "currency": mapping.base_currency, "sales_taxes": taxes, "purchase_taxes": [],
        "sales_account": None, "purchases_account": None, "barcode": _text(record.get("gtin")),
        "stock": _stock(record, mapping), "active": not bool(record.get("blocked")),
    }
    r.raise_if_any()
    return product


def _stock(item: MappingABC[str, Any], mapping: Mapping) -> list[dict[str, Any]]:
    """An Inventory item's ``inventory`` (one total over every location: the items API has no
    per-location figure) counted in ``systems.business_central.stock_warehouse``; none
    without that setting, and none for Service and Non-Inventory items, which BC keeps no
    stock of."""
    section = mapping.system(SYSTEM)
    warehouse = section.stock_warehouse if section is not None else None
    if warehouse is None or item.get("type", "Inventory") != "Inventory":
        return []
    return [{"warehouse": warehouse, "quantity": _dec(item.get("inventory") or 0)}]


_STATUS = {"Draft": "draft", "In Review": "draft", "Canceled": "cancelled"}


def invoice_to_canonical(record: MappingABC[str, Any], *, mapping: Mapping,
                         credit_memo: bool = False) -> dict[str, Any]:
    """A salesInvoice / salesCreditMemo with its lines expanded (``salesInvoiceLines``...)."""
    r = _Inbound(mapping)
    lines_key = "salesCreditMemoLines" if credit_memo else "salesInvoiceLines"
    if not isinstance(record.get(lines_key), list):
        raise ValueError(f"the document was read without $expand={lines_key}")
    lines = []
    for line in sorted(record[lines_key], key=lambda x: x.get("sequence", 0)):
        if line.get("lineType") == "Comment":
            continue  # a text line: no amounts, nothing canonical to carry
        lines.append(_line(r, line, len(lines) + 1, bool(record.get("pricesIncludeTax"))))
    total = _dec(record.get("totalAmountIncludingTax"))
    status = _STATUS.get(str(record.get("status")), "issued")
    remaining = _dec(record.get("remainingAmount")) if "remainingAmount" in record else total
    paid = _ZERO if status == "draft" else max(_ZERO, total - remaining)
    payment_status = ("paid" if paid >= total and total > 0 else "partial" if paid > 0
                      else "unpaid")
    corrects = None
    if credit_memo and record.get("invoiceId") and record["invoiceId"] != EMPTY_GUID:
        corrects = entity_key("invoice", record["invoiceId"])
    date_field = "creditMemoDate" if credit_memo else "invoiceDate"
    invoice = {
        "doc_type": "credit_note" if credit_memo else "invoice",
        "number": _text(record.get("number")), "series": None,
        "issue_date": dt.date.fromisoformat(record[date_field]),
        "due_date": dt.date.fromisoformat(record["dueDate"]) if record.get("dueDate") else None,
        "customer_key": entity_key("contact", str(record.get("customerId"))),
        "customer_tax_id": None, "currency": r.currency(record.get("currencyCode")),
        "exchange_rate": None, "tax_regime": None, "lines": lines,
        "totals": {"subtotal": _dec(record.get("totalAmountExcludingTax")),
                   "tax_total": _dec(record.get("totalTaxAmount")),
                   "withholding_total": _ZERO, "total": total},
        "payment_method": None, "corrects": corrects, "status": status,
        "payment_status": payment_status, "amount_paid": paid, "notes": None,
    }
    r.raise_if_any()
    return invoice


def _line(r: _Inbound, line: MappingABC[str, Any], line_no: int, includes_tax: bool
          ) -> dict[str, Any]:
    where = f"line {line.get('sequence', line_no)}"
    taxes, withholding = ([], None)
    if line.get("taxCode"):
        taxes, withholding = r.taxes(str(line["taxCode"]), where)
    account = None
    if line.get("lineType") == "Account" and line.get("lineObjectNumber"):
        account = r.code("accounts", str(line["lineObjectNumber"]), where, "G/L account")
    price = _dec(line.get("unitPrice"))
    if includes_tax and line.get("taxPercent"):
        price = net_of_tax(price, _dec(line["taxPercent"]))
    is_item = line.get("lineType") == "Item"
    return {
        "line_no": line_no,
        "sku": str(line["lineObjectNumber"]) if is_item and line.get("lineObjectNumber") else None,
        "product_key": entity_key("product", line["itemId"])
        if is_item and line.get("itemId") and line["itemId"] != EMPTY_GUID else None,
        "description": str(line.get("description") or ""),
        # BC keeps quantities and Line Discount % to 5 decimals (a discount typed as an amount,
        # 10 off 30, is 33.33333 %); the canonical scales are 4. Unrounded, the event could not
        # be encoded and the poll run failed on it every time.
        "quantity": _dec(line.get("quantity")).quantize(_Q4, rounding=ROUND_HALF_UP),
        "unit_price": price.quantize(_Q6, rounding=ROUND_HALF_UP),
        "discount_pct": _dec(line.get("discountPercent")).quantize(_Q4, rounding=ROUND_HALF_UP),
        "taxes": taxes,
        "withholding": withholding, "account": account,
    }


# What the Customer table takes (BaseApp field lengths and OnValidate checks): a value it
# refuses parks the contact with the reason, before any call, instead of failing the write.
# A name is not cut to fit either: BC would report the cut name back as an edit of its own,
# and the engine would take it for the name everywhere.
_CUSTOMER_LENGTHS = {"displayName": ("name", 100), "email": ("email", 80),
                     "phoneNumber": ("phone", 30),
                     "addressLine1": ("address.street", 100), "city": ("address.city", 30),
                     "postalCode": ("address.postal_code", 20),
                     "state": ("address.province", 30), "country": ("address.country_code", 10)}


def _check_customer_fields(body: dict[str, Any], r: Resolver) -> None:
    for name, (canonical, length) in _CUSTOMER_LENGTHS.items():
        if len(body[name]) > length:
            r.fail(canonical, f"{body[name]!r} is longer than BC's {length} characters")
    if any(char.isalpha() for char in body["phoneNumber"]):
        r.fail("phone", f"{body['phoneNumber']!r}: BC's Phone No. must not contain letters")
    for address in filter(None, (a.strip() for a in body["email"].split(";"))):
        if address.count("@") != 1 or address[0] == "@" or address[-1] == "@" or " " in address:
            r.fail("email", f"{body['email']!r} is no e-mail address BC takes (several are "
                   "separated by ';')")
            break


def contact_to_customer(contact: MappingABC[str, Any], *, mapping: Mapping,
                        lookups: Lookups) -> dict[str, Any]:
    """The customer fields BC should hold for ``contact`` (a PATCH body, compared first)."""
    r = Resolver(mapping, SYSTEM)
    address = contact.get("address") or {}
    body: dict[str, Any] = {
        "displayName": contact.get("name") or "",
        "type": "Person" if contact.get("is_person") else "Company",
        "taxRegistrationNumber": contact.get("tax_id") or "",
        "email": contact.get("email") or "", "phoneNumber": contact.get("phone") or "",
        "addressLine1": address.get("street") or "", "city": address.get("city") or "",
        "postalCode": address.get("postal_code") or "", "state": address.get("province") or "",
        "country": address.get("country_code") or "",
    }
    if len(body["taxRegistrationNumber"]) > 20:
        r.fail("tax_id", f"{contact['tax_id']!r} is longer than BC's 20 characters")
    _check_customer_fields(body, r)
    currency = r.currency(contact.get("currency") or mapping.base_currency, "currency")
    if currency is not None:
        body["currencyCode"] = "" if currency == mapping.base_currency else currency
    if contact.get("payment_due_days") is not None:
        term = lookups.term_for_days(int(contact["payment_due_days"]))
        if term is None:
            r.fail("payment_due_days", f"Business Central has no payment term of "
                   f"{contact['payment_due_days']} days (dueDateCalculation "
                   f"'{contact['payment_due_days']}D')")
        body["paymentTermsId"] = term
    else:  # cleared: left out, BC would keep the old terms and report them back as an edit
        body["paymentTermsId"] = EMPTY_GUID
    if contact.get("payment_method"):
        code = r.code("payment_methods", contact["payment_method"], "payment_method")
        if code is not None:
            method = lookups.method_id(str(code))
            if method is None:
                r.fail("payment_method", f"Business Central has no payment method {code!r}")
            body["paymentMethodId"] = method
    else:
        body["paymentMethodId"] = EMPTY_GUID
    r.raise_if_any()
    return body


@dataclass(frozen=True, slots=True)
class PaymentRefs:
    """The posted BC invoice a payment is applied to; ``invoice_id`` None: a payment on
    account of ``customer_id`` (``currency``: the customer's)."""

    invoice_id: str | None
    invoice_number: str
    customer_id: str
    currency: str  # ISO code; BC's "" already replaced by the base currency


def payment_to_line(payment: MappingABC[str, Any], *, key: str, mapping: Mapping,
                    refs: PaymentRefs) -> dict[str, Any]:
    """A ``customerPayments`` line that pays (part of) ``refs``' invoice.

    ``documentNumber`` is :func:`sync_code` of the entity key: the posted G/L entries keep
    it, so a payment whose response was lost is found again. ``description`` carries the
    entity key itself when it fits BC's 100 characters.
    """
    r = Resolver(mapping, SYSTEM)
    currency = payment.get("currency") or mapping.base_currency
    r.currency(currency, "currency")
    if currency != refs.currency:
        r.fail("currency", f"payment in {currency} but "
               f"{'invoice ' + refs.invoice_number if refs.invoice_id else 'the customer'} is in "
               f"{refs.currency}")
    amount = Decimal(payment["amount"])
    if amount <= 0:
        r.fail("amount", f"{amount} is not a positive payment")
    r.raise_if_any()
    comment = " ".join(x for x in (payment.get("reference"), payment.get("description")) if x)
    line = {
        "customerId": refs.customer_id, "postingDate": payment["date"].isoformat(),
        "documentNumber": sync_code(key), "externalDocumentNumber": sync_code(key),
        "amount": amount, "appliesToInvoiceId": refs.invoice_id,
        "description": key if len(key) <= 100 else key[:77] + "~" + sync_code(key),
        "comment": comment[:250],
    }
    if refs.invoice_id is None:  # on account: applied to nothing, left open for the customer
        del line["appliesToInvoiceId"]
    return line


