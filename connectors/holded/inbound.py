"""Holded v1 records -> canonical records: the inverse of :mod:`connectors.holded.mapping`.

Pure: every code goes back through the customer's mapping document (``app.mapping``) to its
canonical code, and every key the record points at (the document's contact, the document a
payment pays) is handed in by the caller, so this module does no I/O. A Holded code the mapping
does not know makes the record ``Unmappable`` with every reason, never a guess.

Which fields Holded really stores and returns is :data:`HELD_FIELDS`; the engine compares and
merges only those for system ``holded``. :func:`as_held` is what a Holded read-back of a canonical
record looks like on those fields (Holded fills some blanks with its own defaults), so echo
suppression can compare like with like.

Amounts: the client decodes JSON numbers as floats; ``Decimal(repr(x))`` gives back the exact
JSON text for every number of up to 15 significant digits (all of Holded's money), then the
value is rounded half-up to the scale of its canonical field. A ``Decimal`` (a client decoding
with ``parse_float=Decimal``) or a numeric string is taken as it is.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping as MappingABC
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from app.core.keys import EntityKey, KeyError_
from app.mapping import Mapping, TaxKind, Unmappable
from app.mapping.totals import AppliedTax, TaxedLine, compute_totals
from connectors.holded.mapping import SYNC_KEY_FIELD, holded_iban, holded_language, holded_tax_id

__all__ = [
    "HELD_FIELDS", "SYSTEM", "PAYMENT_MARKER", "CONTACT_KINDS", "DOC_TYPES_IN",
    "contact_key", "document_key", "payment_key", "marker_of",
    "contact_from_holded", "invoice_from_holded", "payment_from_holded",
    "as_held", "project", "held_contact_hash", "holded_date", "to_decimal", "clean_text",
]

SYSTEM = "holded"
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")  # Holded keeps document days in Spanish time

HELD_FIELDS: dict[str, frozenset[str]] = {
    # kind is not held: Holded's single ``type`` cannot say customer_and_supplier (it is written
    # as "client"), so reading it back would silently drop the supplier side.
    # default_taxes / withholding / accounts are not held: the read shape of ``defaults`` keeps
    # one sales tax and no withholding; the accounts are written (defaults.salesAccountRecord /
    # expensesAccountRecord, as numbers) but the read shape has no sales account and what its
    # ``expensesAccount`` holds is undocumented. price_list is not written at all (Holded
    # documents no contact field for it).
    "contact": frozenset({
        "name", "trade_name", "tax_id", "is_person", "email", "phone", "mobile", "iban",
        "swift", "address", "tax_regime", "payment_method", "payment_due_days", "currency",
        "language",
    }),
    # What Holded owns on a document: its number (given on approval), whether it is approved or
    # cancelled, and what has been paid. Lines and totals are the ERP's.
    # Documents go to Holded as drafts (no number, status draft): Holded is trusted only for
    # the payment state it owns, so its draft view never overwrites the ERP's number/status.
    "invoice": frozenset({"payment_status", "amount_paid"}),
    # method is not held (Holded stores the treasury only); reference and description are
    # written joined into one ``desc`` and cannot be split back apart; contact_key is always
    # the document's contact in Holded.
    "payment": frozenset({"invoice_key", "date", "amount", "currency", "treasury"}),
}

CONTACT_KINDS = {"client": "customer", "debtor": "customer", "supplier": "supplier",
                 "creditor": "supplier", "lead": "lead"}
DOC_TYPES_IN = {"invoice": "invoice", "creditnote": "credit_note", "salesreceipt": "sales_receipt"}
# A payment our sink wrote for a payment born elsewhere carries ``hs:<entity key>`` in desc.
PAYMENT_MARKER = re.compile(r"(?:^|\s)hs:(\S+)")
_BLANK = (None, "", 0, "0")

# Holded's read defaults for fields written empty (UNVERIFIED beyond the sandbox).
_CONTACT_READ_DEFAULTS = {"language": "es", "payment_due_days": 0}
_DEFAULT_TAX_OPERATION = "general"


# -- entity keys ----------------------------------------------------------------------------

def _key_of(value: Any, entity: str) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        key = EntityKey.parse(value)
    except KeyError_:
        return None
    return str(key) if key.entity == entity else None


def contact_key(record: MappingABC[str, Any]) -> str:
    """``customId`` when it is a contact entity key (ours), else ``contact/holded/<id>``.

    A customId the customer typed for their own use ("C-001") is not an entity key and does
    not make the contact foreign-born.
    """
    return (_key_of(record.get("customId") or record.get("custom_id"), "contact")
            or f"contact/{SYSTEM}/{record['id']}")


def document_key(record: MappingABC[str, Any]) -> str:
    """The ``holded_sync_key`` custom field when it is an invoice key, else ``invoice/holded/<id>``."""
    fields = record.get("customFields", record.get("custom_fields")) or []
    if isinstance(fields, MappingABC):
        fields = [{"field": k, "value": v} for k, v in fields.items()]
    for item in fields:
        if isinstance(item, MappingABC) and item.get("field") == SYNC_KEY_FIELD:
            key = _key_of(item.get("value"), "invoice")
            if key:
                return key
    return f"invoice/{SYSTEM}/{record['id']}"


def marker_of(desc: Any) -> str | None:
    """The payment entity key in a ``hs:<key>`` marker of ``desc``, if any."""
    if not isinstance(desc, str):
        return None
    for found in PAYMENT_MARKER.finditer(desc):
        key = _key_of(found.group(1), "payment")
        if key:
            return key
    return None


def payment_key(record: MappingABC[str, Any]) -> str:
    """The ``hs:`` marker's key (a payment born elsewhere), else ``payment/holded/<id>``."""
    pid = record.get("id") or record.get("paymentId")
    return marker_of(record.get("desc")) or f"payment/{SYSTEM}/{pid}"


# -- values ---------------------------------------------------------------------------------

def to_decimal(value: Any, places: int) -> Decimal:
    """A JSON number (float via its shortest repr, int, str, Decimal) at ``places`` decimals."""
    if value is None or value == "":
        value = 0
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def holded_date(epoch: Any) -> dt.date | None:
    """Epoch seconds -> the calendar day in Madrid (Holded's day), None when absent."""
    if epoch in (None, "", 0) or isinstance(epoch, bool):
        return None
    return dt.datetime.fromtimestamp(int(epoch), MADRID).date()


def clean_text(value: Any) -> str | None:
    """Trimmed text, None when empty (Holded returns "" for fields never set)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class _Codes:
    """Holded code -> canonical code for one record, collecting every failure."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.system = mapping.system(SYSTEM)
        self.reasons: list[str] = []
        if self.system is None:
            self.reasons.append(f"mapping v{mapping.version} has no section for Holded")

    def code(self, section: str, value: Any, where: str) -> str | None:
        if value in _BLANK or self.system is None:
            return None
        code_map = self.system.section(section)
        found = code_map.to_canonical(value) if code_map is not None else None
        if found is None and isinstance(value, str) and value.isdigit():
            found = code_map.to_canonical(int(value)) if code_map is not None else None
        if found is None:
            self.reasons.append(f"{where}: Holded {section.replace('_', ' ')} {value!r} is not "
                                f"in mapping v{self.mapping.version}")
        return found

    def currency(self, value: Any, where: str) -> str:
        text = str(value or self.mapping.base_currency)
        iso: str | None = text.upper()
        if self.system is not None and self.system.currencies is not None:
            iso = self.system.currencies.to_canonical(text) or self.system.currencies.to_canonical(iso)
        if iso is None or iso not in self.mapping.currencies:
            self.reasons.append(f"{where}: currency {text!r} is not in mapping "
                                f"v{self.mapping.version}")
            return self.mapping.base_currency
        return iso

    def raise_if_any(self) -> None:
        if self.reasons:
            raise Unmappable(self.reasons, mapping_version=self.mapping.version)


# -- contacts -------------------------------------------------------------------------------

def contact_from_holded(record: MappingABC[str, Any], *, mapping: Mapping) -> dict[str, Any]:
    """A Holded contact (v1 read shape) -> canonical Contact; raises Unmappable."""
    c = _Codes(mapping)
    defaults = record.get("defaults") or {}
    due = defaults.get("dueDays")
    out: dict[str, Any] = {
        "kind": CONTACT_KINDS.get(str(record.get("type") or "client"), "customer"),
        "name": str(record.get("name") or ""),
        "trade_name": clean_text(record.get("tradeName")),
        "tax_id": holded_tax_id(clean_text(record.get("code"))),  # as the sink writes it
        "is_person": bool(record.get("isperson")),
        "email": clean_text(record.get("email")),
        "phone": clean_text(record.get("phone")),
        "mobile": clean_text(record.get("mobile")),
        "iban": holded_iban(clean_text(record.get("iban"))),  # Holded may show it grouped
        "swift": clean_text(record.get("swift")),
        "address": _address(record.get("billAddress")),
        "tax_regime": c.code("tax_regimes", record.get("taxOperation"), "taxOperation"),
        "payment_method": c.code("payment_methods", defaults.get("paymentMethod"),
                                 "defaults.paymentMethod"),
        "payment_due_days": None if due in (None, "") else int(due),
        "price_list": None,
        "currency": c.currency(defaults.get("currency"), "defaults.currency"),
        "language": clean_text(defaults.get("language")),
        "sales_account": None,
        "purchases_account": None,
        "default_taxes": [],
        "withholding": None,
        "tags": [str(t) for t in record.get("tags") or []],
    }
    for key in _default_tax_keys(defaults):
        code = c.code("taxes", key, "defaults.tax")
        if code is None:
            continue
        tax = mapping.taxes.get(code)
        if tax is not None and tax.kind is TaxKind.WITHHOLDING:
            out["withholding"] = out["withholding"] or code
        elif code not in out["default_taxes"]:
            out["default_taxes"].append(code)
    c.raise_if_any()
    return out


def _default_tax_keys(defaults: MappingABC[str, Any]) -> list[Any]:
    keys = list(defaults.get("salesTaxes") or [])  # the write shape, should Holded return it
    keys += [defaults.get("tax"), defaults.get("salesTax"), defaults.get("retention")]
    return [k for k in dict.fromkeys(keys) if isinstance(k, str) and k not in _BLANK]


def _address(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, MappingABC):
        return None
    country = clean_text(raw.get("countryCode")) or clean_text(raw.get("country"))
    address = {
        "street": clean_text(raw.get("address")), "city": clean_text(raw.get("city")),
        "postal_code": clean_text(raw.get("postalCode")), "province": clean_text(raw.get("province")),
        "country_code": country.upper() if country else None,
    }
    return address if any(address.values()) else None


# -- documents ------------------------------------------------------------------------------

def invoice_from_holded(record: MappingABC[str, Any], *, doc_type: str, mapping: Mapping,
                        customer_key: str | None, customer_tax_id: str | None = None
                        ) -> dict[str, Any]:
    """A Holded document (v1 read shape) of ``doc_type`` -> canonical Invoice.

    ``customer_key`` is the entity key of the document's contact, resolved by the caller.
    Raises Unmappable for an unknown tax, account, series, payment method or currency.
    """
    c = _Codes(mapping)
    canonical_type = DOC_TYPES_IN.get(doc_type)
    if canonical_type is None:
        c.reasons.append(f"docType {doc_type!r} is not an issued sales document")
    if not customer_key:
        c.reasons.append(f"document {record.get('id')} has no contact")
    currency = c.currency(record.get("currency"), "currency")
    lines, taxed = [], []
    for index, raw in enumerate(record.get("products") or [], start=1):
        line, applied = _line(c, raw, index)
        lines.append(line)
        taxed.append(TaxedLine(index, line["quantity"], line["unit_price"], line["discount_pct"],
                               applied))
    rate = record.get("currencyChange")
    paid = to_decimal(record.get("paymentsTotal"), 2)
    out: dict[str, Any] = {
        "doc_type": canonical_type or "invoice",
        "number": clean_text(record.get("docNumber")),
        "series": c.code("series", record.get("numSerieId"), "numSerieId"),
        "issue_date": holded_date(record.get("date")),
        "due_date": holded_date(record.get("dueDate")),
        "customer_key": customer_key or "",
        "customer_tax_id": customer_tax_id,
        "currency": currency,
        "exchange_rate": (None if currency == mapping.base_currency or rate in (None, "", 0, 1)
                          else to_decimal(rate, 8)),
        "tax_regime": None,
        "lines": lines,
        "totals": _totals(record, taxed, mapping),
        "payment_method": c.code("payment_methods", record.get("paymentMethodId"),
                                 "paymentMethodId"),
        "corrects": None,
        "status": _status(record),
        "payment_status": _payment_status(paid, record.get("paymentsPending")),
        "amount_paid": paid,
        "notes": clean_text(record.get("notes")),
    }
    if out["issue_date"] is None:
        c.reasons.append(f"document {record.get('id')} has no date")
    c.raise_if_any()
    return out


def _line(c: _Codes, raw: MappingABC[str, Any], index: int) -> tuple[dict[str, Any], tuple]:
    where = f"line {index}"
    taxes: list[str] = []
    withholding: str | None = None
    applied: list[AppliedTax] = []
    keys = raw.get("taxes") or []
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    for key in keys:
        code = c.code("taxes", key, where)
        tax = c.mapping.taxes.get(code) if code else None
        if tax is None:
            continue
        applied.append(AppliedTax(tax.code, tax.rate, tax.is_withholding))
        if tax.is_withholding:
            withholding = withholding or code
        elif code not in taxes:
            taxes.append(code)
    name, desc = clean_text(raw.get("name")) or "", clean_text(raw.get("desc"))
    sku = raw.get("sku")
    line = {
        "line_no": index,
        "sku": None if sku in _BLANK else str(sku),
        "product_key": None,
        "description": f"{name}\n{desc}" if desc else name,
        "quantity": to_decimal(raw.get("units"), 4),
        "unit_price": to_decimal(raw.get("price"), 6),
        "discount_pct": to_decimal(raw.get("discount"), 4),
        "taxes": taxes,
        "withholding": withholding,
        "account": c.code("accounts", raw.get("account"), where),
    }
    return line, tuple(applied)


def _totals(record: MappingABC[str, Any], taxed: list[TaxedLine], mapping: Mapping
            ) -> dict[str, Decimal]:
    # v1 reads carry subtotal, total and a net ``tax`` (VAT + surcharge - withholding) but no
    # withholding total: that one is recomputed from the lines the way Holded rounds.
    subtotal, total = to_decimal(record.get("subtotal"), 2), to_decimal(record.get("total"), 2)
    system = mapping.system(SYSTEM)
    rounding = system.rounding if system is not None else "line"
    withheld = compute_totals(taxed, rounding).withholding_total if taxed else Decimal("0.00")
    return {"subtotal": subtotal, "tax_total": total - subtotal + withheld,
            "withholding_total": withheld, "total": total}


def _status(record: MappingABC[str, Any]) -> str:
    if record.get("status") == 5:  # UNVERIFIED status table: 5 = cancelled
        return "cancelled"
    if record.get("draft") or (record.get("docNumber") in (None, "")
                               and record.get("approvedAt") in (None, "", 0)):
        return "draft"
    return "issued"


def _payment_status(paid: Decimal, pending: Any) -> str:
    if paid <= 0:
        return "unpaid"
    return "paid" if to_decimal(pending, 2) <= 0 else "partial"


# -- payments -------------------------------------------------------------------------------

def payment_from_holded(record: MappingABC[str, Any], *, mapping: Mapping,
                        invoice_key: str | None, contact_key: str | None = None,
                        currency: str | None = None) -> dict[str, Any]:
    """A Holded payment (``GET /payments`` item or a document's pay record) -> canonical Payment.

    ``invoice_key`` is the entity key of the paid document and ``currency`` its currency (a
    Holded payment has none of its own). ``invoice_key`` None: a payment on account of
    ``contact_key``, in the base currency. The ``hs:`` marker is taken out of the description.
    """
    c = _Codes(mapping)
    desc = record.get("desc")
    if isinstance(desc, str) and PAYMENT_MARKER.search(desc):
        desc = " ".join(PAYMENT_MARKER.sub(" ", desc).split())
    treasury = record.get("bankId", record.get("treasury"))
    out = {
        "invoice_key": invoice_key,
        "contact_key": contact_key,
        "date": holded_date(record.get("date")),
        "amount": to_decimal(record.get("amount"), 2),
        "currency": c.currency(currency, "currency"),
        "method": None,
        "treasury": c.code("treasuries", treasury, "treasury"),
        "reference": None,
        "description": clean_text(desc),
    }
    if out["date"] is None:
        c.reasons.append(f"payment {record.get('id')} has no date")
    if invoice_key is None and out["amount"] <= 0:
        c.reasons.append(f"payment {record.get('id')} on account: {out['amount']} is not an "
                         "amount received (a payment made to the contact is not synced)")
    c.raise_if_any()
    return out


# -- what Holded holds ----------------------------------------------------------------------

def project(entity: str, record: MappingABC[str, Any]) -> dict[str, Any]:
    """The fields of ``record`` that Holded holds."""
    return {k: record.get(k) for k in sorted(HELD_FIELDS[entity])}


def held_contact_hash(record: MappingABC[str, Any], mapping: Mapping) -> str | None:
    """The content hash the engine gives a Holded contact (v1 read shape) when the poller
    reports it: its canonical form on the held fields. None when the mapping cannot read it."""
    from app.core.hashing import Fingerprint

    try:
        contact = contact_from_holded(record, mapping=mapping)
    except Unmappable:
        return None
    return Fingerprint(contact).view(HELD_FIELDS["contact"]).content_hash()


def as_held(entity: str, record: MappingABC[str, Any], mapping: Mapping) -> dict[str, Any]:
    """What a Holded read-back of canonical ``record`` shows on the held fields.

    Holded fills blanks with its defaults (language "es", 0 due days, the "general" tax
    operation), holds the tax id and IBAN as the sink normalised them, maps several
    canonical codes to one of its own (``nosujeto`` is both
    not_subject and reverse_charge) and derives a payment's treasury from its method. Compare
    ``as_held(x)`` with ``project(inbound record)`` to recognise an echo.
    """
    out = project(entity, record)
    system = mapping.system(SYSTEM)
    if system is None:
        return out

    def round_trip(section: str, code: str | None) -> str | None:
        code_map = system.section(section)
        if code is None or code_map is None:
            return code
        back = code_map.to_system(code)
        return code_map.to_canonical(back) if back is not None else code

    if entity == "contact":
        out["tax_id"] = holded_tax_id(out["tax_id"])  # written normalised (map_contact)
        out["iban"] = holded_iban(out["iban"])
        out["language"] = holded_language(out["language"])  # one Holded has not: its default
        for name, default in _CONTACT_READ_DEFAULTS.items():
            if out[name] is None:
                out[name] = default
        regime = out["tax_regime"]
        out["tax_regime"] = (round_trip("tax_regimes", regime) if regime is not None
                             else system.tax_regimes.to_canonical(_DEFAULT_TAX_OPERATION))
        out["payment_method"] = round_trip("payment_methods", out["payment_method"])
        address = out["address"]
        if address is not None:
            address = {k: (v or None) for k, v in address.items()}
            if address.get("country_code"):
                address["country_code"] = address["country_code"].upper()
            out["address"] = address if any(address.values()) else None
    elif entity == "payment":
        treasury = out["treasury"]
        if treasury is None and record.get("method"):
            method = mapping.payment_methods.get(record["method"])
            treasury = method.treasury if method is not None else None
        out["treasury"] = round_trip("treasuries", treasury)
    return out

