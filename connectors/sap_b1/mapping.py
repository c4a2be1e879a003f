"""SAP Business One records <-> canonical records, through the mapping document's ``sap_b1`` maps.

Pure: the SAP reference data the mapping needs (payment terms by ``GroupNumber``) comes in a
:class:`Lookups` the source or sink fetched. Codes go through the ``sap_b1`` section: ``taxes``
maps VAT groups (``VatGroup`` / ``TaxCode``, e.g. ``R3``) and withholding codes (``WTCode``,
e.g. ``IR15``) to canonical taxes, ``accounts`` maps G/L accounts, ``series`` numbering series,
``payment_methods`` the payment means, ``warehouses`` the ``WarehouseCode``s whose stock
an item reports (connectors/sap_b1/stock.py). A code that cannot be mapped makes the record
``Unmappable`` with every reason at once; nothing is guessed.

Inbound: :func:`partner_to_contact`, :func:`item_to_product`, :func:`document_to_invoice`
(Invoices and CreditNotes), :func:`payment_to_canonical` (IncomingPayments). Outbound:
:func:`contact_to_partner` (the BusinessPartner fields a PATCH may change) and
:func:`payment_to_incoming` (an IncomingPayments body applied to one invoice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.mapping import Mapping, TaxKind, TaxScope
from app.mapping.inbound import InboundResolver
from app.mapping.resolve import Resolver
from connectors.base import identifiers
from connectors.sap_b1 import odata
from connectors.sap_b1.stock import item_levels, mapped_warehouses

__all__ = ["HELD_FIELDS", "SYSTEM", "Lookups", "contact_to_partner", "document_to_invoice",
           "entity_key", "item_to_product", "partner_to_contact", "payment_to_canonical",
           "payment_to_incoming", "received"]

SYSTEM = "sap_b1"
# Canonical fields SAP B1 stores and reports back unchanged, per entity (echo checks, merges).
HELD_FIELDS: MappingABC[str, frozenset[str]] = {
    "contact": frozenset({"kind", "name", "tax_id", "email", "phone", "address",
                          "payment_due_days", "withholding"}),
    # stock: the levels in the warehouses systems.sap_b1.warehouses maps (connectors/sap_b1/
    # stock.py); held, so a level changed alone is a change of the product
    "product": frozenset({"kind", "sku", "name", "price", "sales_taxes", "sales_account",
                          "barcode", "active", "stock"}),
    "invoice": frozenset({"doc_type", "number", "series", "issue_date", "due_date",
                          "customer_key", "customer_tax_id", "currency", "lines", "totals",
                          "status", "payment_status", "amount_paid", "notes"}),
    "payment": frozenset({"invoice_key", "date", "amount", "currency", "reference"}),
}
_KIND = {"cCustomer": "customer", "cSupplier": "supplier", "cLid": "lead"}
_ZERO, _CENT, _MICRO = Decimal(0), Decimal("0.01"), Decimal("0.000001")
_QTY = Decimal("0.0001")  # the canonical scale of quantities and percentages
CREDIT_NOTE_PREFIX = "CN-"  # credit notes' source ids: CreditNotes DocEntry has its own sequence
TRANSFER_CODE = "TRANSF"  # the sap_b1 payment_methods code the sink writes as a bank transfer
REFERENCE_CHARS = 27      # ORCT TransferReference length (UNVERIFIED, see docs/sap_b1.md)


def entity_key(entity: str, record_id: str | int) -> str:
    return f"{entity}/{SYSTEM}/{record_id}"


@dataclass(frozen=True, slots=True)
class Lookups:
    """SAP reference data: payment terms ``GroupNumber`` -> days after the document date."""

    term_days: MappingABC[int, int] = field(default_factory=dict)
    # How the company quotes exchange rates (Company Details, OADM.DirectRate): direct, SAP's
    # default, is "1 foreign unit = DocRate local units"; indirect is "1 local = DocRate foreign".
    direct_rate: bool = True

    @classmethod
    def build(cls, payment_terms: list[dict[str, Any]], *, direct_rate: bool = True) -> Lookups:
        days = {}
        for term in payment_terms:
            if not term.get("NumberOfAdditionalMonths"):  # months are not a day count
                days[int(term["GroupNumber"])] = int(term.get("NumberOfAdditionalDays") or 0)
        return cls(days, direct_rate)

    def group_for_days(self, days: int) -> int | None:
        return min((g for g, d in self.term_days.items() if d == days), default=None)


class _Inbound(InboundResolver):
    """Every reason an SAP record cannot be read into canonical terms."""

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping, SYSTEM)

    def code(self, section: str, code: Any, where: str, what: str) -> str | None:
        return super().code(section, str(code), where, what)  # the mapping's SAP codes are text

    def currency(self, code: Any) -> str:
        text = str(code or "").strip()
        return self.mapping.base_currency if text in ("", "##") else text  # "##": all currencies


def _dec(value: Any) -> Decimal:
    return _ZERO if value is None else Decimal(str(value))


def _text(value: Any) -> str | None:
    return (str(value).strip() or None) if value is not None else None


def _yes(value: Any) -> bool:
    return value in ("tYES", True)


def partner_to_contact(bp: MappingABC[str, Any], *, mapping: Mapping,
                       lookups: Lookups) -> dict[str, Any]:
    r = _Inbound(mapping)
    kind = _KIND.get(str(bp.get("CardType")))
    if kind is None:
        r.reasons.append(f"CardType: unknown partner type {bp.get('CardType')!r}")
    due_days = None
    group = bp.get("PayTermsGrpCode")
    if group not in (None, -1):
        due_days = lookups.term_days.get(int(group))
        if due_days is None:
            r.reasons.append(f"PayTermsGrpCode: payment terms {group} are unknown or not a "
                             "whole number of days")
    default_taxes: list[str] = []
    if bp.get("VatGroup"):
        default_taxes, _ = r.taxes(str(bp["VatGroup"]), "VatGroup")
    withholding = None
    if _yes(bp.get("SubjectToWithholdingTax")) and bp.get("WTCode"):
        _, withholding = r.taxes(str(bp["WTCode"]), "WTCode")
    accounts = bp.get("BPBankAccounts") or []
    iban = identifiers.iban(bp.get("IBAN")) or next(
        (identifiers.iban(a.get("IBAN")) for a in accounts if identifiers.iban(a.get("IBAN"))), None)
    address = {"street": _text(bp.get("Address")), "city": _text(bp.get("City")),
               "postal_code": _text(bp.get("ZipCode")), "province": _text(bp.get("County")),
               "country_code": (_text(bp.get("Country")) or "").upper() or None}
    contact = {
        "kind": kind or "customer", "name": str(bp.get("CardName") or ""), "trade_name": None,
        "tax_id": identifiers.tax_id(bp.get("FederalTaxID")), "is_person": False,
        "email": _text(bp.get("EmailAddress")), "phone": _text(bp.get("Phone1")),
        "mobile": None, "iban": iban, "swift": None,
        "address": address if any(address.values()) else None, "tax_regime": None,
        "payment_method": None, "payment_due_days": due_days,
        "price_list": str(bp["PriceListNum"]) if bp.get("PriceListNum") is not None else None,
        "currency": r.currency(bp.get("Currency")), "language": None, "sales_account": None,
        "purchases_account": None, "default_taxes": default_taxes, "withholding": withholding,
        "tags": [],
    }
    r.raise_if_any()
    return contact


def item_to_product(item: MappingABC[str, Any], *, mapping: Mapping,
                    price_list: int = 1) -> dict[str, Any]:
    """An Items record; its ``stock`` is read from ``ItemWarehouseInfoCollection`` in the
    warehouses ``systems.sap_b1.warehouses`` maps (none without that map, none for a service)."""
    r = _Inbound(mapping)
    stock, reasons = item_levels(item, mapped_warehouses(mapping))
    r.reasons.extend(reasons)
    taxes: list[str] = []
    if item.get("SalesVATGroup"):
        taxes, _ = r.taxes(str(item["SalesVATGroup"]), "SalesVATGroup")
    account = None
    if item.get("IncomeAccount"):
        account = r.code("accounts", item["IncomeAccount"], "IncomeAccount", "G/L account")
    prices = [p for p in item.get("ItemPrices") or [] if p.get("PriceList") == price_list]
    currency = r.currency(prices[0].get("Currency")) if prices else mapping.base_currency
    product = {
        "kind": "service" if item.get("InventoryItem") == "tNO" else "product",
        "sku": str(item.get("ItemCode") or ""), "name": str(item.get("ItemName") or ""),
        "description": None,
        "price": _dec(prices[0].get("Price") if prices else None).quantize(_MICRO),
        "cost": None, "currency": currency, "sales_taxes": taxes, "purchase_taxes": [],
        "sales_account": account, "purchases_account": None,
        "barcode": _text(item.get("BarCode")), "stock": stock,
        "active": _yes(item.get("Valid", "tYES")) and not _yes(item.get("Frozen")),
    }
    r.raise_if_any()
    return product


def document_to_invoice(doc: MappingABC[str, Any], *, mapping: Mapping,
                        credit_note: bool = False, direct_rate: bool = True) -> dict[str, Any]:
    """An Invoices / CreditNotes document, with its DocumentLines.

    ``direct_rate``: the company quotes ``DocRate`` as local currency per foreign unit (SAP's
    default); the canonical ``exchange_rate`` is foreign units per base-currency unit, its
    inverse. With indirect quotation ``DocRate`` already is that."""
    r = _Inbound(mapping)
    if not isinstance(doc.get("DocumentLines"), list):
        raise ValueError("the document was read without its DocumentLines")
    withholding = None
    codes = list(dict.fromkeys(str(wt.get("WTCode")) for wt in
                               doc.get("WithholdingTaxDataCollection") or []))
    for code in codes:
        _, found = r.taxes(code, "WithholdingTaxDataCollection")
        withholding = withholding or found
    if len(codes) > 1:
        # SAP does not say which WTLiable line each code applies to: giving every line the
        # first one would put the other lines' withholding under the wrong code.
        r.reasons.append(f"WithholdingTaxDataCollection: withholding codes {', '.join(codes)} "
                         "on one document; a line carries one withholding and SAP does not say "
                         "which line each code applies to")
    lines = [_line(r, line, n + 1, withholding)
             for n, line in enumerate(sorted(doc["DocumentLines"],
                                             key=lambda x: x.get("LineNum", 0)))]
    series = r.code("series", doc["Series"], "Series", "series") if doc.get("Series") else None
    total, vat, wt_total = _dec(doc.get("DocTotal")), _dec(doc.get("VatSum")), _dec(
        doc.get("WTAmount"))
    paid = _dec(doc.get("PaidToDate"))
    currency = r.currency(doc.get("DocCurrency"))
    invoice = {
        "doc_type": "credit_note" if credit_note else "invoice",
        "number": _text(doc.get("DocNum")), "series": series,
        "issue_date": odata.parse_date(doc.get("DocDate")),
        "due_date": odata.parse_date(doc.get("DocDueDate")),
        "customer_key": entity_key("contact", str(doc.get("CardCode"))),
        "customer_tax_id": _text(doc.get("FederalTaxID")), "currency": currency,
        "exchange_rate": _exchange_rate(doc.get("DocRate"), direct_rate)
        if currency != mapping.base_currency and doc.get("DocRate") else None,
        "tax_regime": None, "lines": lines,
        "totals": {"subtotal": (total - vat + wt_total).quantize(_CENT),
                   "tax_total": vat.quantize(_CENT), "withholding_total": wt_total.quantize(_CENT),
                   "total": total.quantize(_CENT)},
        "payment_method": None, "corrects": None,
        "status": "cancelled" if _yes(doc.get("Cancelled")) else "issued",
        "payment_status": "paid" if paid >= total > 0 else "partial" if paid > 0 else "unpaid",
        "amount_paid": paid.quantize(_CENT), "notes": _text(doc.get("Comments")),
    }
    r.raise_if_any()
    return invoice


def _exchange_rate(doc_rate: Any, direct: bool) -> Decimal:
    """Units of the document currency per base-currency unit (the canonical exchange rate)."""
    rate = _dec(doc_rate)
    if direct:
        rate = 1 / rate  # DocRate is local (base) units per foreign unit
    return rate.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)


def _line(r: _Inbound, line: MappingABC[str, Any], line_no: int, withholding: str | None
          ) -> dict[str, Any]:
    where = f"line {line.get('LineNum', line_no - 1)}"
    taxes: list[str] = []
    code = line.get("VatGroup") or line.get("TaxCode")
    if code:
        taxes, _ = r.taxes(str(code), where)
    account = r.code("accounts", line["AccountCode"], where, "G/L account") if line.get(
        "AccountCode") else None
    item = _text(line.get("ItemCode"))
    # ``UnitPrice`` (INV1.PriceBefDi) is the price before the line discount; ``Price`` is the
    # price *after* it. The canonical line carries the price before discount plus the discount,
    # so ``Price`` with ``DiscountPercent`` on top would take the discount off twice. A line
    # read without ``UnitPrice`` keeps ``Price`` as it is: already discounted, no discount.
    if line.get("UnitPrice") is not None:
        price, discount = _dec(line["UnitPrice"]), _dec(line.get("DiscountPercent"))
    else:
        price, discount = _dec(line.get("Price")), _ZERO
    return {
        "line_no": line_no, "sku": item,
        "product_key": entity_key("product", item) if item else None,
        "description": str(line.get("ItemDescription") or ""),
        "quantity": _dec(line.get("Quantity")).quantize(_QTY),
        "unit_price": price.quantize(_MICRO), "discount_pct": discount.quantize(_QTY),
        "taxes": taxes, "withholding": withholding if _yes(line.get("WTLiable")) else None,
        "account": account,
    }


def payment_to_canonical(payment: MappingABC[str, Any], *, mapping: Mapping
                         ) -> dict[str, Any] | None:
    """An IncomingPayments document applied to exactly one invoice or, applied to none, a
    **payment on account** of its customer (``invoice_key`` None, docs/events.md): an advance
    SAP keeps on the partner's account (``PayNoDoc``). None for a receipt with no invoice
    that is not a customer's (``DocType`` ``rSupplier``, ``rAccount``): not money a customer
    owes less by."""
    lines = payment.get("PaymentInvoices") or []
    if not lines:
        return _on_account(payment, mapping)
    r = _Inbound(mapping)
    applied = [p for p in lines if p.get("InvoiceType", "it_Invoice") == "it_Invoice"]
    if len(applied) != 1:
        r.reasons.append(f"PaymentInvoices: the payment is applied to {len(applied)} invoices; "
                         "a canonical payment pays exactly one")
    method = _method(r, payment)
    r.raise_if_any()
    return {
        **_payment_common(r, payment),
        "invoice_key": entity_key("invoice", applied[0]["DocEntry"]),
        "amount": max(_dec(applied[0].get("SumApplied")), received(payment)).quantize(_CENT),
        "method": method,
    }


def _on_account(payment: MappingABC[str, Any], mapping: Mapping) -> dict[str, Any] | None:
    # DocType is always read back by the Service Layer (default rCustomer); a receipt that
    # lacks it cannot be told from a supplier's refund, so it is parked, not guessed.
    kind = payment.get("DocType")
    if kind in ("rSupplier", "rAccount"):
        return None
    r = _Inbound(mapping)
    if kind != "rCustomer":
        r.reasons.append(f"DocType: {kind!r} is not a customer's receipt (rCustomer)")
    if not payment.get("CardCode"):
        r.reasons.append("CardCode: a payment on account names no customer")
    amount = received(payment).quantize(_CENT)
    if amount <= 0:  # paid by a means not read (a bill of exchange): its amount is unknown
        r.reasons.append(f"{amount} received in cash, transfer, checks or cards: a payment on "
                         "account needs the amount the customer paid")
    method = _method(r, payment)
    r.raise_if_any()
    return {**_payment_common(r, payment), "invoice_key": None, "amount": amount,
            "method": method}


def _method(r: _Inbound, payment: MappingABC[str, Any]) -> str | None:
    if _dec(payment.get("TransferSum")) > 0:
        return r.code("payment_methods", TRANSFER_CODE, "TransferSum", "payment method")
    return None


def _payment_common(r: _Inbound, payment: MappingABC[str, Any]) -> dict[str, Any]:
    """The fields an invoice payment and a payment on account read alike."""
    return {
        "contact_key": entity_key("contact", str(payment.get("CardCode"))),
        "date": odata.parse_date(payment.get("DocDate")),
        "currency": r.currency(payment.get("DocCurrency")), "treasury": None,
        "reference": _text(payment.get("TransferReference")),
        "description": _text(payment.get("JournalRemarks")),
    }


def received(payment: MappingABC[str, Any]) -> Decimal:
    """What the customer paid, in every means the payment reads back with: more than it
    applies to invoices when the rest stayed on the customer's account (an overpayment)."""
    checks = sum((_dec(c.get("CheckSum")) for c in payment.get("PaymentChecks") or []),
                 Decimal(0))
    cards = sum((_dec(c.get("CreditSum")) for c in payment.get("PaymentCreditCards") or []),
                Decimal(0))
    return _dec(payment.get("CashSum")) + _dec(payment.get("TransferSum")) + checks + cards


def contact_to_partner(contact: MappingABC[str, Any], *, mapping: Mapping,
                       lookups: Lookups) -> dict[str, Any]:
    """The BusinessPartner fields SAP should hold for ``contact`` (a PATCH body)."""
    r = Resolver(mapping, SYSTEM)
    address = contact.get("address") or {}
    body: dict[str, Any] = {
        "CardName": contact.get("name") or "",
        "FederalTaxID": contact.get("tax_id") or None,
        "EmailAddress": contact.get("email") or None, "Phone1": contact.get("phone") or None,
        "Address": address.get("street") or None, "ZipCode": address.get("postal_code") or None,
        "City": address.get("city") or None, "County": address.get("province") or None,
        "Country": address.get("country_code") or None,
    }
    # OCRD's column lengths: a longer value parks the contact with the reason, before any call,
    # instead of failing the PATCH (SAP answers it 400). A name is not cut to fit either: SAP
    # would report the cut name back as an edit of its own, taken for the name everywhere.
    for name, canonical, length in (("CardName", "name", 100), ("FederalTaxID", "tax_id", 32),
                                    ("Phone1", "phone", 20),
                                    ("ZipCode", "address.postal_code", 20),
                                    ("Address", "address.street", 100)):
        if body[name] and len(body[name]) > length:
            r.fail(canonical, f"{body[name]!r} is longer than SAP's {length} characters")
    if contact.get("payment_due_days") is not None:
        group = lookups.group_for_days(int(contact["payment_due_days"]))
        if group is None:
            r.fail("payment_due_days", f"SAP B1 has no payment terms of "
                   f"{contact['payment_due_days']} days (PaymentTermsTypes)")
        body["PayTermsGrpCode"] = group
    else:  # -1 ("Cash Basic") reads back as no terms; left out, SAP keeps the old ones
        body["PayTermsGrpCode"] = -1
    if contact.get("withholding"):
        found = r.tax(contact["withholding"], "withholding", kinds=(TaxKind.WITHHOLDING,),
                      scope=TaxScope.SALES)
        body["SubjectToWithholdingTax"] = "tYES"
        body["WTCode"] = str(found[1]) if found else None
    else:
        body["SubjectToWithholdingTax"] = "tNO"
    r.raise_if_any()
    return body


def payment_to_incoming(payment: MappingABC[str, Any], *, key: str, mapping: Mapping,
                        invoice: MappingABC[str, Any], transfer_account: str | None,
                        reference_field: str = "Remarks", applied: Decimal | None = None
                        ) -> dict[str, Any]:
    """An IncomingPayments body paying (part of) ``invoice`` by bank transfer.

    ``reference_field`` (``Remarks`` by default, or a ``U_`` user field) carries the entity
    key so the sink finds a payment whose answer was lost. ``invoice`` without a ``DocEntry``
    (only the partner's ``CardCode`` and ``DocCurrency``): a payment on account, applied to
    no invoice, which SAP keeps on the partner's account. ``applied``: what goes to the
    invoice (default: the whole amount); the transfer is always the whole amount, so the rest
    stays on the customer's account as a payment on account.
    """
    r = Resolver(mapping, SYSTEM)
    currency = payment.get("currency") or mapping.base_currency
    r.currency(currency, "currency")
    invoice_currency = _Inbound(mapping).currency(invoice.get("DocCurrency"))
    if currency != invoice_currency:
        r.fail("currency", f"payment in {currency} but invoice {invoice.get('DocNum')} is in "
               f"{invoice_currency}")
    amount = Decimal(payment["amount"])
    if amount <= 0:
        r.fail("amount", f"{amount} is not a positive payment")
    account = _transfer_account(mapping, payment.get("method"), payment.get("treasury")) \
        or transfer_account
    if not account:
        r.fail("method", "no SAP B1 G/L account for the bank transfer: map the treasury's "
               "account in the sap_b1 accounts section or configure transfer_account")
    r.raise_if_any()
    date: dt.date = payment["date"]
    body = {
        "CardCode": invoice["CardCode"], "DocDate": date.isoformat(),
        "DocCurrency": invoice.get("DocCurrency") or currency,
        "TransferSum": amount, "TransferAccount": account, "TransferDate": date.isoformat(),
        "TransferReference": (payment.get("reference") or "")[:REFERENCE_CHARS] or None,
        "JournalRemarks": (payment.get("description") or "")[:50] or None,
        "PaymentInvoices": [] if invoice.get("DocEntry") is None else [
            {"DocEntry": int(invoice["DocEntry"]),
             "SumApplied": amount if applied is None else applied, "InvoiceType": "it_Invoice"}],
    }
    body[reference_field] = key  # last: the search key wins over any other use of the field
    return body


def _transfer_account(mapping: Mapping, method: str | None, treasury_code: str | None = None
                      ) -> str | None:
    """The payment's treasury (or its method's) -> canonical account -> the sap_b1 account
    mapped to it, if any. Holded reports the treasury a payment went into, not a method."""
    known = mapping.payment_methods.get(method or "")
    code = treasury_code or (known.treasury if known else None)
    treasury = mapping.treasuries.get(code) if code else None
    system = mapping.system(SYSTEM)
    if treasury is None or system is None:
        return None
    code = system.accounts.to_system(treasury.account)
    return str(code) if code is not None else None
