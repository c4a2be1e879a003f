"""Canonical Invoice / Contact / Product / Payment -> Holded v1 request payloads.

Pure: every Holded id that needs a lookup (the contact, catalogue products, the document being
paid) comes in through a small refs object that the sink fills, so this module does no I/O.
Every code goes through the customer's mapping document (``app.mapping``): a tax, account,
series, payment method or currency it cannot map makes the whole record ``Unmappable``, and a
document whose mapped totals differ from its source totals raises ``TotalsMismatch``.

Payload values that are amounts stay ``Decimal``; the sink serialises them as JSON numbers
(Holded rejects quoted numbers), never through float.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.mapping import Mapping, TaxKind, TaxScope
from app.mapping.resolve import Resolver
from app.mapping.totals import TaxedLine, Totals, check_totals, compute_totals
from connectors.base import identifiers

__all__ = [
    "SYNC_KEY_FIELD", "ERP_NUMBER_FIELD", "DOC_TYPES", "DocumentRefs", "PaymentRefs", "HoldedRequest",
    "epoch_seconds", "payment_marker", "map_invoice", "map_contact", "contact_update_body",
    "map_product", "catalogue_vat", "map_payment", "map_payment_on_account", "holded_tax_id",
    "holded_iban",
    "holded_language", "HOLDED_LANGUAGES", "contact_unsent_note",
]

SYNC_KEY_FIELD = "holded_sync_key"
# The ERP's number of a document created approved: Holded's own series may number it (the
# reference says it may override ``invoiceNum``), and the legal number must stay findable.
ERP_NUMBER_FIELD = "holded_sync_number"
DOC_TYPES = {"invoice": "invoice", "credit_note": "creditnote", "sales_receipt": "salesreceipt"}
# The contact languages Holded documents for ``defaults.language`` (holded-api.md, 2.1).
HOLDED_LANGUAGES = frozenset({"es", "en", "fr", "de", "it", "ca", "eu"})
CONTACT_TYPES = {"customer": "client", "supplier": "supplier",
                 "customer_and_supplier": "client", "lead": "lead"}
_SALES_TAX_KINDS = (TaxKind.VAT, TaxKind.EQUIVALENCE_SURCHARGE)


@dataclass(frozen=True, slots=True)
class DocumentRefs:
    """Holded ids the sink looked up for one document: its contact and its catalogue SKUs.

    A SKU in ``service_ids`` is a Holded service: its lines carry ``serviceId`` (documents
    match services by id only); one in ``product_ids`` is a product, matched by ``sku``."""

    contact_id: str | None
    product_ids: MappingABC[str, str] = field(default_factory=dict)  # sku -> Holded product id
    service_ids: MappingABC[str, str] = field(default_factory=dict)  # sku -> Holded service id


@dataclass(frozen=True, slots=True)
class PaymentRefs:
    """The Holded document a payment is registered against."""

    document_id: str
    doc_type: str = "invoice"


@dataclass(frozen=True, slots=True)
class HoldedRequest:
    """One Holded v1 call, the mapping version it was built with, and totals to verify."""

    method: str
    path: str
    body: dict[str, Any]
    mapping_version: int
    totals: Totals | None = None


def epoch_seconds(day: dt.date) -> int:
    """Noon UTC of ``day``: Holded rounds dates to the day in Europe/Madrid, and noon UTC is
    the same calendar day there (and in any zone within ±11 h), so no date shifts by one."""
    return calendar.timegm((day.year, day.month, day.day, 12, 0, 0))


def map_invoice(invoice: MappingABC[str, Any], *, entity_key: str, mapping: Mapping,
                refs: DocumentRefs, approve: bool = False) -> HoldedRequest:
    """``POST /documents/{docType}`` for a canonical Invoice; raises Unmappable / TotalsMismatch.

    ``approve``: created approved (issued) with the ERP's number as ``invoiceNum``, which is
    also kept in the custom field ``holded_sync_number`` (connectors/holded/approval.py). Else
    a draft: Holded's default, no ``approveDoc`` sent."""
    r = Resolver(mapping, "holded")
    doc_type = DOC_TYPES.get(invoice["doc_type"])
    if doc_type is None:
        r.fail("doc_type", f"{invoice['doc_type']!r} has no Holded document type")
    if refs.contact_id is None:
        r.fail("customer", f"contact {invoice['customer_key']!r} has no Holded id yet")
    body: dict[str, Any] = {
        "contactId": refs.contact_id,
        "date": epoch_seconds(invoice["issue_date"]),
        "currency": (r.currency(invoice["currency"], "currency") or "").lower(),
        "customFields": [{"field": SYNC_KEY_FIELD, "value": entity_key}],
    }
    if invoice.get("due_date") is not None:
        body["dueDate"] = epoch_seconds(invoice["due_date"])
    if invoice.get("exchange_rate") is not None:
        body["currencyChange"] = invoice["exchange_rate"]
    if invoice.get("series"):
        body["numSerieId"] = _series(r, invoice["series"], invoice["doc_type"])
    if invoice.get("payment_method"):
        body["paymentMethodId"] = r.code("payment_methods", invoice["payment_method"],
                                         "payment_method")
    if invoice.get("notes"):
        body["notes"] = invoice["notes"]
    if approve:
        body["approveDoc"] = True
        if invoice.get("number"):
            body["invoiceNum"] = invoice["number"]
            body["customFields"].append({"field": ERP_NUMBER_FIELD, "value": invoice["number"]})
    items, taxed = [], []
    for line in invoice["lines"]:
        item, taxed_line = _line(r, line, refs)
        items.append(item)
        taxed.append(taxed_line)
    body["items"] = items
    r.raise_if_any()
    totals = compute_totals(taxed, mapping.systems["holded"].rounding)
    check_totals(invoice["totals"], totals, mapping_version=mapping.version)
    return HoldedRequest("POST", f"/documents/{doc_type}", body, mapping.version, totals)


def _series(r: Resolver, series: str, doc_type: str) -> str | int | None:
    known = r.mapping.series.get(series)
    if known is not None and known.doc_types and doc_type not in known.doc_types:
        r.fail("series", f"series {series!r} is for {', '.join(known.doc_types)}, "
               f"not {doc_type}, in mapping v{r.mapping.version}")
    return r.code("series", series, "series")


def _line(r: Resolver, line: MappingABC[str, Any], refs: DocumentRefs
          ) -> tuple[dict[str, Any], TaxedLine]:
    where = f"line {line['line_no']}"
    applied, keys = [], []
    for code in line.get("taxes") or []:
        found = r.applied(code, where, kinds=_SALES_TAX_KINDS, scope=TaxScope.SALES)
        if found is not None:
            applied.append(found[0])
            keys.append(found[1])
    codes = line.get("taxes") or []
    vat = [code for code in codes if code in r.mapping.taxes and r.mapping.taxes[code].kind is TaxKind.VAT]
    # A code the mapping does not know is reported above: counting without it would add a
    # second, false reason ("0 VAT taxes") to a line that names one.
    if len(vat) != 1 and all(code in r.mapping.taxes for code in codes):
        # Holded fills an empty tax list from the product's defaults: never let it guess.
        r.fail(where, f"has {len(vat)} VAT taxes ({', '.join(vat) or 'none'}), expected exactly "
               "one (use the exempt / 0 % tax for lines without VAT)")
    if line.get("withholding"):
        found = r.applied(line["withholding"], where, kinds=(TaxKind.WITHHOLDING,),
                          scope=TaxScope.SALES)
        if found is not None:
            applied.append(found[0])
            keys.append(found[1])
    item: dict[str, Any] = {
        "name": line["description"],
        "desc": "",
        "units": line["quantity"],
        "subtotal": line["unit_price"],
        "discount": line.get("discount_pct") or Decimal(0),
        "taxes": keys,
    }
    if line.get("sku") and line["sku"] in refs.service_ids:
        item["serviceId"] = refs.service_ids[line["sku"]]  # never with a sku: one or the other
    elif line.get("sku"):
        if line["sku"] not in refs.product_ids:
            # An unknown sku makes Holded store the line at 0 EUR.
            r.fail(where, f"product sku {line['sku']!r} has no Holded product or service yet")
        item["sku"] = line["sku"]
    if line.get("account"):
        item["accountingAccountId"] = r.code("accounts", line["account"], where)
    taxed = TaxedLine(line["line_no"], line["quantity"], line["unit_price"],
                      line.get("discount_pct") or Decimal(0), tuple(applied))
    return item, taxed


# A Spanish NIF once separators are gone: DNI 12345678Z, NIE X1234567L, CIF B12345678 / Q2826000H.
_SPANISH_NIF = re.compile(r"[0-9A-Z][0-9]{7}[0-9A-Z]")


def holded_tax_id(value: str | None) -> str | None:
    """The NIF/VAT id as Holded's ``code`` holds it: the one spelling of
    ``connectors.base.identifiers``, and a Spanish NIF without the ``ES`` VAT prefix (ERPs such
    as Odoo store ``ESB12345678``; Holded's NIF field, the 347 and the SII want ``B12345678``).
    A foreign VAT id keeps its country prefix (``FR12345678901``), as intra-EU operations
    need it."""
    code = identifiers.tax_id(value)
    if code and code.startswith("ES") and _SPANISH_NIF.fullmatch(code[2:]):
        code = code[2:]
    return code


holded_iban = identifiers.iban  # the electronic form (no blanks, upper case), as SEPA files carry it


def holded_language(value: str | None) -> str | None:
    """A contact language Holded takes, else None (Holded's default, ``es``): Odoo's Galician
    (``gl``) or Portuguese (``pt``) would be refused, and the contact with all its invoices
    with it."""
    code = (value or "").strip().lower()
    return code if code in HOLDED_LANGUAGES else None


def map_contact(contact: MappingABC[str, Any], *, entity_key: str, mapping: Mapping
                ) -> HoldedRequest:
    """``POST /contacts``; ``CustomId`` carries the entity key so the link can be rebuilt."""
    r = Resolver(mapping, "holded")
    body: dict[str, Any] = {
        "CustomId": entity_key,
        "name": contact["name"],
        "tradeName": contact.get("trade_name"),
        "code": holded_tax_id(contact.get("tax_id")),
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "mobile": contact.get("mobile"),
        "iban": holded_iban(contact.get("iban")),
        "swift": contact.get("swift"),
        "type": CONTACT_TYPES[contact["kind"]],
        "isperson": bool(contact.get("is_person")),
    }
    address = contact.get("address")
    if address:
        body["billAddress"] = _compact({
            "address": address.get("street"), "city": address.get("city"),
            "postalCode": address.get("postal_code"), "province": address.get("province"),
            "country": address.get("country_code"),
        })
    if contact.get("tax_regime"):
        body["taxOperation"] = r.code("tax_regimes", contact["tax_regime"], "tax_regime")
    body["defaults"] = _contact_defaults(r, contact)
    if not (contact.get("name") or "").strip():  # Holded refuses a contact without a name
        r.fail("name", "Holded needs a contact name; the contact has none")
    r.raise_if_any()
    return HoldedRequest("POST", "/contacts", _compact(body), mapping.version)


# What an update sends for a field the canonical contact has none of. Holded keeps the old
# value of a field an update leaves out; the poller would then report it as an edit made in
# Holded, and a NIF or IBAN removed in the ERP would come back everywhere. Blanks are what
# Holded returns for fields never set (0 due days: see inbound._CONTACT_READ_DEFAULTS).
_CLEARED_TEXT = ("tradeName", "code", "email", "phone", "mobile", "iban", "swift")
_CLEARED_DEFAULTS = {"dueDays": 0}
# Canonical contact account -> the ``defaults`` field of Holded's contact create/update body.
_CONTACT_ACCOUNTS = (("sales_account", "salesAccountRecord"),
                     ("purchases_account", "expensesAccountRecord"))


def contact_unsent_note(contact: MappingABC[str, Any]) -> str | None:
    """Why a canonical contact field with a value does not reach Holded, or None.

    The rate card: Holded's v1 contact create/update (Invoice API 1.4) documents no price-list
    field, and no documented v2 contact field names a price list either, so none is invented
    (Holded would drop an unknown field with a 2xx anyway). Said on the result, not hidden.
    """
    if contact.get("price_list"):
        return (f"price_list {contact['price_list']!r} not sent: Holded documents no contact "
                "field for a price list (docs/holded.md, Known gaps)")
    return None


def contact_update_body(body: MappingABC[str, Any]) -> dict[str, Any]:
    """``map_contact``'s body for ``PUT /contacts/{id}``: cleared fields sent blank."""
    out = {**{name: "" for name in _CLEARED_TEXT}, **body}
    out["defaults"] = {**_CLEARED_DEFAULTS, **(body.get("defaults") or {})}
    return out


def _contact_defaults(r: Resolver, contact: MappingABC[str, Any]) -> dict[str, Any]:
    sales: list[str | int] = []
    purchases: list[str | int] = []
    codes = list(contact.get("default_taxes") or [])
    if contact.get("withholding"):
        codes.append(contact["withholding"])
    for code in codes:
        tax = r.mapping.taxes.get(code)
        scope = tax.scope if tax is not None else TaxScope.SALES
        found = r.tax(code, "default_taxes", kinds=TaxKind, scope=scope)
        if found is not None:
            (sales if scope is TaxScope.SALES else purchases).append(found[1])
    defaults: dict[str, Any] = {
        "currency": (r.currency(contact.get("currency") or "EUR", "currency") or "").lower(),
        "language": holded_language(contact.get("language")),
        "dueDays": contact.get("payment_due_days"),
    }
    if contact.get("payment_method"):
        defaults["paymentMethod"] = r.code("payment_methods", contact["payment_method"],
                                           "payment_method")
    # Holded documents both as integers (account numbers, e.g. 70500000), not account ids:
    # they go through ``systems.holded.account_numbers``, never through ``accounts``.
    for field_name, holded_name in _CONTACT_ACCOUNTS:
        if contact.get(field_name):
            defaults[holded_name] = r.account_number(contact[field_name], field_name)
    if sales:
        defaults["salesTax"], defaults["salesTaxes"] = sales[0], sales
    if purchases:
        defaults["purchasesTax"], defaults["purchasesTaxes"] = purchases[0], purchases
    return _compact(defaults)


def catalogue_vat(product: MappingABC[str, Any], r: Resolver) -> tuple[list[str], Decimal | None]:
    """The Holded sales tax keys of a catalogue item (product or service) and its whole VAT
    rate, failing ``r`` for what Holded's catalogue cannot hold (a rate with decimals, a
    price in another currency). Shared by products and services, so both refuse alike."""
    keys, vat_rate = [], None
    for code in product.get("sales_taxes") or []:
        if code in r.mapping.withholdings:
            continue  # a Holded catalogue item carries VAT only; IRPF is applied on document lines
        found = r.tax(code, "sales_taxes", kinds=_SALES_TAX_KINDS, scope=TaxScope.SALES)
        if found is not None:
            keys.append(found[1])
            if found[0].kind is TaxKind.VAT and vat_rate is None:
                vat_rate = found[0].rate
    if product.get("currency", "EUR") != r.mapping.base_currency:
        r.fail("currency", f"product price in {product.get('currency')!r}; Holded prices are in "
               f"the base currency {r.mapping.base_currency}")
    if vat_rate is not None and vat_rate != vat_rate.to_integral_value():
        r.fail("sales_taxes", f"VAT rate {vat_rate} is not a whole number; Holded's product "
               "tax field takes whole rates")
    return keys, vat_rate


def map_product(product: MappingABC[str, Any], *, mapping: Mapping) -> HoldedRequest:
    """``POST /products``; Holded matches catalogue lines by ``sku`` only.

    The documented create field ``tax`` is the integer VAT rate; ``taxes`` carries the exact
    Holded keys as reads return them, so a read-back can be compared key for key.
    """
    r = Resolver(mapping, "holded")
    keys, vat_rate = catalogue_vat(product, r)
    r.raise_if_any()
    body = {
        "kind": "simple",
        "name": product["name"],
        "desc": product.get("description"),
        "sku": product["sku"],
        "price": product["price"],
        "tax": int(vat_rate) if vat_rate is not None else None,
        "taxes": keys or None,
        "cost": product.get("cost"),
        "barcode": product.get("barcode"),
    }
    return HoldedRequest("POST", "/products", _compact(body), mapping.version)


def payment_marker(entity_key: str) -> str:
    """The token a payment's ``desc`` carries so the sink can find it again in Holded."""
    return f"hs:{entity_key}"


def map_payment(payment: MappingABC[str, Any], *, mapping: Mapping, refs: PaymentRefs,
                entity_key: str | None = None) -> HoldedRequest:
    """``POST /documents/{docType}/{id}/pay``; treasury omitted means Holded's default.

    With ``entity_key``, ``desc`` ends with the marker ``hs:<entity key>`` (once): Holded
    payments have no external id, and the marker is how a lost response is found again.
    """
    r = Resolver(mapping, "holded")
    r.currency(payment.get("currency") or "EUR", "currency")
    body: dict[str, Any] = {"date": epoch_seconds(payment["date"]), "amount": payment["amount"]}
    treasury = _treasury(payment, r, mapping)
    if treasury is not None:
        body["treasury"] = treasury
    desc = _payment_desc(payment, entity_key)
    if desc:
        body["desc"] = desc
    r.raise_if_any()
    path = f"/documents/{refs.doc_type}/{refs.document_id}/pay"
    return HoldedRequest("POST", path, body, mapping.version)


def map_payment_on_account(payment: MappingABC[str, Any], *, mapping: Mapping, contact_id: str,
                           entity_key: str) -> HoldedRequest:
    """``POST /payments`` for a canonical payment on account (no ``invoice_key``): a payment
    of the contact ``contact_id`` (its Holded id), booked to the treasury ``bankId``.

    Stricter than a document's payment, because the documented create body is all there is:
    whether Holded books a payment without ``bankId`` to a default treasury is unknown, so a
    payment with no treasury (none of its own, none through its method) is Unmappable; a
    Holded payment has no currency, so one in another currency than the mapping's base one is
    refused rather than booked as euros; and an amount that is not received money (<= 0, a
    refund on account) is not written, as the Holded source does not read one either.
    """
    r = Resolver(mapping, "holded")
    currency = payment.get("currency") or mapping.base_currency
    r.currency(currency, "currency")
    if currency != mapping.base_currency:
        r.fail("currency", f"a payment on account in {currency}: Holded payments carry no "
               f"currency, so only payments in the base currency {mapping.base_currency} "
               "are written")
    if Decimal(payment["amount"]) <= 0:
        r.fail("amount", f"{payment['amount']} is not an amount received (a refund on account "
               "is not written to Holded)")
    treasury = _treasury(payment, r, mapping)
    method = mapping.payment_methods.get(payment.get("method") or "")
    if payment.get("treasury") is None and (method is None or method.treasury is None):
        if not payment.get("method"):
            r.fail("treasury", "a payment on account needs the treasury it was received in "
                   "(Holded's bankId): the payment names no treasury and no payment method")
        elif method is not None:  # an unknown method has its own reason (_treasury)
            r.fail("treasury", f"a payment on account needs the treasury it was received in "
                   f"(Holded's bankId): payment method {payment['method']!r} has no treasury "
                   f"in mapping v{mapping.version}")
    body: dict[str, Any] = {"bankId": treasury, "contactId": contact_id,
                            "amount": payment["amount"], "desc": _payment_desc(payment, entity_key),
                            "date": epoch_seconds(payment["date"])}
    r.raise_if_any()
    return HoldedRequest("POST", "/payments", body, mapping.version)


def _treasury(payment: MappingABC[str, Any], r: Resolver, mapping: Mapping) -> str | None:
    """The Holded treasury id of a payment: its own treasury, else its method's (mapped)."""
    treasury = payment.get("treasury")
    if treasury is None and payment.get("method"):
        method = mapping.payment_methods.get(payment["method"])
        if method is None:
            r.fail("method", f"canonical payment method {payment['method']!r} is not in "
                   f"mapping v{mapping.version}")
        treasury = method.treasury if method is not None else None
    return r.code("treasuries", treasury, "treasury") if treasury is not None else None


def _payment_desc(payment: MappingABC[str, Any], entity_key: str | None) -> str:
    """Reference and description joined, ending with the ``hs:`` marker (once) when keyed."""
    desc = " ".join(x for x in (payment.get("reference"), payment.get("description")) if x)
    if entity_key is not None and payment_marker(entity_key) not in desc.split():
        desc = " ".join(x for x in (desc, payment_marker(entity_key)) if x)
    return desc


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
