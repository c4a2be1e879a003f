"""Odoo records <-> canonical records, through the mapping document's ``odoo`` section.

Pure: Odoo ids that need a lookup (tax rates, account codes, payment-term days, journal and
country codes) come in a :class:`Catalog` the source or sink reads first. Tax ids map to
canonical tax codes; a negative-rate tax (Spanish IRPF) maps to the line's canonical
``withholding``; ``account.account`` codes map to canonical accounts; a payment term maps to
its due days (the longest ``nb_days`` of its lines) and back to the one term with exactly those
days. A record that cannot be mapped raises ``Unmappable`` with every reason at once.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping as MappingABC, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.mapping import Mapping, TaxKind
from app.mapping.errors import Unmappable
from app.mapping.inbound import InboundResolver
from app.mapping.totals import AppliedTax, TaxedLine, check_totals, compute_totals
from connectors.base import identifiers

__all__ = ["HELD_FIELDS", "Catalog", "as_reported", "contact_from_odoo", "entity_key", "invoice_from_odoo",
           "m2o_id", "on_account_vals", "partner_vals", "payment_from_odoo",
           "payment_register_vals",
           "product_from_odoo", "product_key"]

SYSTEM = "odoo"
CENT, Q4, Q6 = Decimal("0.01"), Decimal("0.0001"), Decimal("0.000001")

# Canonical fields Odoo stores (and the source reads back), per entity: the echo hash covers
# exactly these. Contact: no province (state_id not mapped), no default taxes (fiscal
# positions), no currency. Payment: ``ref`` carries the entity key, so no ``reference``.
HELD_FIELDS: dict[str, frozenset[str]] = {
    "contact": frozenset({"kind", "name", "tax_id", "is_person", "email", "phone", "mobile",
                          "iban", "address", "payment_due_days"}),
    # stock: the levels in the warehouses systems.odoo.warehouses maps (connectors/odoo/stock.py)
    "product": frozenset({"kind", "sku", "name", "description", "price", "cost", "sales_taxes",
                          "purchase_taxes", "sales_account", "barcode", "active", "stock"}),
    "invoice": frozenset({"doc_type", "number", "series", "issue_date", "due_date",
                          "customer_key", "currency", "lines", "totals", "status",
                          "payment_status", "amount_paid", "notes", "corrects"}),
    "payment": frozenset({"invoice_key", "date", "amount", "currency", "treasury"}),
}
DOC_TYPES = {"out_invoice": "invoice", "out_refund": "credit_note"}
STATUS = {"draft": "draft", "posted": "issued", "cancel": "cancelled"}
PAYMENT_STATUS = {"not_paid": "unpaid", "partial": "partial", "in_payment": "paid",
                  "paid": "paid", "reversed": "paid", "invoicing_legacy": "paid"}


@dataclass(frozen=True, slots=True)
class Catalog:
    """Odoo reference data by id, read once per run."""

    tax_rates: MappingABC[int, Decimal] = field(default_factory=dict)
    account_codes: MappingABC[int, str] = field(default_factory=dict)
    term_days: MappingABC[int, int] = field(default_factory=dict)
    journal_codes: MappingABC[int, str] = field(default_factory=dict)
    country_codes: MappingABC[int, str] = field(default_factory=dict)
    currency_names: MappingABC[int, str] = field(default_factory=dict)
    # product.product id -> (its product entity key, its default_code): the invoices' lines
    variants: MappingABC[int, tuple[str, str | None]] = field(default_factory=dict)
    # invoice / payment id -> the contact key of its commercial partner (as the source
    # reports that partner); without an entry, contact/odoo/<commercial partner id>
    partner_keys: MappingABC[int, str] = field(default_factory=dict)

    def term_for_days(self, days: int) -> int | None:
        matches = [tid for tid, d in self.term_days.items() if d == days]
        return min(matches) if matches else None

    def journal_for_code(self, code: str) -> int | None:
        return next((jid for jid, c in self.journal_codes.items() if c == code), None)

    def country_for_code(self, code: str) -> int | None:
        return next((cid for cid, c in self.country_codes.items() if c == code.upper()), None)


def entity_key(entity: str, odoo_id: int) -> str:
    return f"{entity}/{SYSTEM}/{odoo_id}"


def product_key(variant: MappingABC[str, Any]) -> str:
    """The entity key of a ``product.product``. A variant without attribute values is its
    template's one variant and keeps the key products had when they were read per template,
    ``product/odoo/<template id>``; a variant of a template with attributes is
    ``product/odoo/variant-<product.product id>`` (its own record, never a template id)."""
    if variant.get("product_template_attribute_value_ids"):
        return f"product/{SYSTEM}/variant-{variant['id']}"
    template = m2o_id(variant.get("product_tmpl_id"))
    if template is None:
        raise ValueError(f"product.product {variant.get('id')} read without its product_tmpl_id")
    return entity_key("product", template)


def m2o_id(value: Any) -> int | None:
    """A many2one as read (``[id, name]`` or ``False``) -> id."""
    if isinstance(value, list | tuple) and value:
        return int(value[0])
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _dec(value: Any, quantum: Decimal) -> Decimal:
    return Decimal(str(value or 0)).quantize(quantum)


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


class _Reasons(InboundResolver):
    """Every reason an Odoo record cannot be read into canonical terms."""

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping, SYSTEM)


def _taxes(r: _Reasons, tax_ids: list[int], catalog: Catalog, where: str
           ) -> tuple[list[str], str | None, list[AppliedTax]]:
    """Canonical (VAT/surcharge codes, withholding code, applied taxes) of Odoo tax ids."""
    codes, withholding, applied = [], None, []
    for tax_id in tax_ids:
        code = r.code("taxes", tax_id, where, "tax")
        if code is None:
            continue
        tax = r.mapping.taxes[code]
        entry = r.map.taxes.entry(tax_id) if r.map else None
        rate = catalog.tax_rates.get(tax_id)
        expected = entry.rate if entry is not None else None
        if rate is not None and expected is not None and rate != expected:
            r.fail(where, f"Odoo tax {tax_id} has rate {rate} in Odoo but {expected} in mapping "
                   f"v{r.mapping.version}")
        if tax.kind is TaxKind.WITHHOLDING:
            if withholding is not None:
                r.fail(where, f"more than one withholding ({withholding}, {code})")
            withholding = code
        else:
            codes.append(code)
        applied.append(AppliedTax(tax.code, tax.rate, tax.is_withholding))
    return codes, withholding, applied


def _account(r: _Reasons, value: Any, catalog: Catalog, where: str) -> str | None:
    account_id = m2o_id(value)
    if account_id is None:
        return None
    code = catalog.account_codes.get(account_id)
    if code is None:
        r.fail(where, f"Odoo account id {account_id} is unknown")
        return None
    return r.code("accounts", code, where, "account")


def contact_from_odoo(partner: MappingABC[str, Any], banks: list[MappingABC[str, Any]],
                      catalog: Catalog) -> dict[str, Any]:
    customer, supplier = (partner.get("customer_rank") or 0) > 0, (partner.get("supplier_rank") or 0) > 0
    kind = ("customer_and_supplier" if customer and supplier else "supplier" if supplier
            else "customer" if customer else "lead")
    country = catalog.country_codes.get(m2o_id(partner.get("country_id")) or 0)
    address = {"street": _s(partner.get("street")), "city": _s(partner.get("city")),
               "postal_code": _s(partner.get("zip")), "province": None, "country_code": country}
    term = m2o_id(partner.get("property_payment_term_id"))
    pricelist = partner.get("property_product_pricelist")
    lang = _s(partner.get("lang"))
    return {
        "kind": kind, "name": partner["name"], "trade_name": None,
        "tax_id": identifiers.tax_id(partner.get("vat")), "is_person": not partner.get("is_company"),
        "email": _s(partner.get("email")), "phone": _s(partner.get("phone")),
        "mobile": _s(partner.get("mobile")),
        "iban": next((identifiers.iban(b["acc_number"]) for b in banks if b.get("acc_number")), None),
        "swift": None,
        "address": address if any(address.values()) else None,
        "tax_regime": None, "payment_method": None,
        "payment_due_days": catalog.term_days.get(term) if term else None,
        "price_list": pricelist[1] if isinstance(pricelist, list) else None,
        "currency": "EUR", "language": lang.split("_")[0] if lang else None,
        "sales_account": None, "purchases_account": None, "default_taxes": [],
        "withholding": None, "tags": [],
    }


def as_reported(entity: str, record: MappingABC[str, Any]) -> dict[str, Any] | None:
    """What Odoo reports back, on its held fields, after we write canonical ``record``; None
    when that is the record itself. A contact's address comes back without its province
    (``state_id`` is not mapped), so the echo of a contact with one is still our echo."""
    if entity != "contact":
        return None
    # In the record's own order, never the set's: the order varies with the process's hash
    # seed, and the replicas it ends up in must encode alike in every worker and replay.
    held = HELD_FIELDS["contact"]
    out = {k: v for k, v in record.items() if k in held}
    out.update((k, None) for k in sorted(held - out.keys()))
    address = out["address"]
    if address:
        address = {**address, "province": None}
        out["address"] = address if any(address.values()) else None
    return out


def product_from_odoo(variant: MappingABC[str, Any], catalog: Catalog, mapping: Mapping,
                      stock: Sequence[MappingABC[str, Any]] = ()) -> dict[str, Any]:
    """A canonical Product of a ``product.product`` (a variant, read with its template's
    fields): its own SKU and barcode, its price ``lst_price`` (the template's ``list_price``
    plus the variant's ``price_extra``), the template's taxes and income account, and its
    ``stock`` levels as read from its quants (none for a service: Odoo keeps no stock of one)."""
    r = _Reasons(mapping)
    if not _s(variant.get("default_code")):
        r.fail("default_code", "the product has no internal reference (SKU)")
    sales, sales_wh, _ = _taxes(r, list(variant.get("taxes_id") or []), catalog, "taxes_id")
    purchases, purchases_wh, _ = _taxes(r, list(variant.get("supplier_taxes_id") or []),
                                        catalog, "supplier_taxes_id")
    account = _account(r, variant.get("property_account_income_id"), catalog,
                       "property_account_income_id")
    r.raise_if_any()
    cost = variant.get("standard_price")
    return {
        "kind": "service" if variant.get("type") == "service" else "product",
        "sku": variant["default_code"], "name": _variant_name(variant),
        "description": _s(variant.get("description_sale")),
        "price": _dec(variant.get("lst_price"), Q6),
        "cost": _dec(cost, Q6) if cost not in (None, False) else None, "currency": "EUR",
        "sales_taxes": sales + ([sales_wh] if sales_wh else []),
        "purchase_taxes": purchases + ([purchases_wh] if purchases_wh else []),
        "sales_account": account, "purchases_account": None,
        "barcode": _s(variant.get("barcode")),
        "stock": [] if variant.get("type") == "service" else [dict(level) for level in stock],
        "active": bool(variant.get("active", True)),
    }


def _variant_name(variant: MappingABC[str, Any]) -> str:
    """The template's name, and a variant's attribute values as Odoo shows them:
    ``Camiseta (Rojo, M)`` (the display name without its ``[code]``)."""
    shown = _s(variant.get("display_name"))
    if not variant.get("product_template_attribute_value_ids") or not shown:
        return variant["name"]
    prefix = f"[{variant.get('default_code')}] "
    return shown[len(prefix):] if shown.startswith(prefix) else shown


def invoice_from_odoo(move: MappingABC[str, Any], lines: list[MappingABC[str, Any]],
                      catalog: Catalog, mapping: Mapping) -> dict[str, Any]:
    """A canonical Invoice of an ``out_invoice`` / ``out_refund``; checks Odoo's totals."""
    r = _Reasons(mapping)
    doc_type = DOC_TYPES.get(move.get("move_type", ""))
    if doc_type is None:
        r.fail("move_type", f"{move.get('move_type')!r} is not a customer invoice or refund")
    posted = move.get("state") == "posted"
    name = _s(move.get("name")) if posted else None
    series = (r.code("series", name.split("/")[0], "name", "journal sequence")
              if name and "/" in name else None)
    canonical_lines, taxed = [], []
    product_lines = [ln for ln in lines if (ln.get("display_type") or "product") == "product"]
    for no, line in enumerate(product_lines, start=1):
        where = f"line {no}"
        codes, withholding, applied = _taxes(r, list(line.get("tax_ids") or []), catalog, where)
        variant = m2o_id(line.get("product_id"))
        key, sku = catalog.variants.get(variant, (None, None)) if variant else (None, None)
        product = line.get("product_id")
        if variant and key is None and isinstance(product, list) and str(product[1]).startswith("["):
            sku = str(product[1])[1:].split("]", 1)[0]  # no catalog entry: the display name
        quantity, price = _dec(line.get("quantity"), Q4), _dec(line.get("price_unit"), Q6)
        discount = _dec(line.get("discount"), Q4)
        canonical_lines.append({
            "line_no": no, "sku": sku, "product_key": key,
            "description": line.get("name") or "", "quantity": quantity, "unit_price": price,
            "discount_pct": discount, "taxes": codes, "withholding": withholding,
            "account": _account(r, line.get("account_id"), catalog, where)})
        taxed.append(TaxedLine(no, quantity, price, discount, tuple(applied)))
    currency = catalog.currency_names.get(m2o_id(move.get("currency_id")) or 0, "EUR")
    exchange_rate = None
    if currency != mapping.base_currency and _dec(move.get("amount_total"), CENT):
        # Units of the invoice currency per company-currency unit, as Odoo booked the total:
        # amount_total (invoice currency) over |amount_total_signed| (company currency).
        booked = abs(_dec(move.get("amount_total_signed"), CENT))
        if booked:
            exchange_rate = (_dec(move.get("amount_total"), CENT) / booked).quantize(
                Decimal("0.00000001"), rounding=ROUND_HALF_UP)
        else:
            r.fail("amount_total_signed", f"a {currency} invoice without its total in "
                   f"{mapping.base_currency}: its exchange rate is unknown")
    r.raise_if_any()
    rounding = mapping.systems[SYSTEM].rounding
    totals = compute_totals(taxed, rounding)
    odoo_tax = _dec(move.get("amount_tax"), CENT)
    check_totals({"subtotal": _dec(move.get("amount_untaxed"), CENT),
                  "tax_total": odoo_tax + totals.withholding_total,
                  "withholding_total": totals.withholding_total,
                  "total": _dec(move.get("amount_total"), CENT)}, totals,
                 mapping_version=mapping.version)
    total = totals.total
    residual = _dec(move.get("amount_residual"), CENT) if posted else total
    # The commercial partner: an invoice addressed to a company's delivery address or to one
    # of its people belongs to the company's contact.
    partner = m2o_id(move.get("commercial_partner_id")) or m2o_id(move.get("partner_id"))
    customer_key = catalog.partner_keys.get(move.get("id", 0)) or (
        entity_key("contact", partner) if partner else "")
    reversed_of = m2o_id(move.get("reversed_entry_id"))
    return {
        "doc_type": doc_type, "number": name, "series": series,
        "issue_date": _date(move.get("invoice_date")) or _date(move.get("date")) or dt.date.min,
        "due_date": _date(move.get("invoice_date_due")),
        "customer_key": customer_key,
        "customer_tax_id": None, "currency": currency, "exchange_rate": exchange_rate,
        "tax_regime": None, "lines": canonical_lines, "totals": totals.as_dict(),
        "payment_method": None,
        "corrects": entity_key("invoice", reversed_of) if reversed_of else None,
        "status": STATUS.get(move.get("state", ""), "draft"),
        "payment_status": PAYMENT_STATUS.get(move.get("payment_state") or "not_paid", "unpaid"),
        "amount_paid": (total - residual).quantize(CENT), "notes": _s(move.get("narration")),
    }


def payment_from_odoo(payment: MappingABC[str, Any], catalog: Catalog, mapping: Mapping
                      ) -> dict[str, Any] | None:
    """A canonical Payment of a posted customer payment: of the invoice it is reconciled
    with, or, reconciled with none, a **payment on account** of its partner (``invoice_key``
    None, docs/events.md): money received (``payment_type`` inbound) and matched to no
    invoice yet, an advance. None for a draft or cancelled payment, and for money paid out
    to a customer on account (an outbound refund: Holded's source does not read one either).
    """
    invoices = list(payment.get("reconciled_invoice_ids") or [])
    if payment.get("state") != "posted":
        return None
    if not invoices and payment.get("payment_type") != "inbound":
        return None
    r = _Reasons(mapping)
    journal = catalog.journal_codes.get(m2o_id(payment.get("journal_id")) or 0)
    treasury = r.code("treasuries", journal, "journal_id", "journal") if journal else None
    partner = m2o_id(payment.get("partner_id"))
    contact_key = catalog.partner_keys.get(payment.get("id", 0)) or (
        entity_key("contact", partner) if partner else None)
    amount = _dec(payment.get("amount"), CENT)
    if not invoices and contact_key is None:
        r.fail("partner_id", "a payment on account (reconciled with no invoice) names no "
               "customer: it lowers nobody's balance; set its partner in Odoo")
    if not invoices and amount <= 0:
        r.fail("amount", f"{amount} on account is not an amount received")
    r.raise_if_any()
    return {
        "invoice_key": entity_key("invoice", invoices[0]) if invoices else None,
        "contact_key": contact_key,
        "date": _date(payment.get("date")), "amount": amount,
        "currency": catalog.currency_names.get(m2o_id(payment.get("currency_id")) or 0, "EUR"),
        "method": None, "treasury": treasury, "reference": _s(payment.get("ref")),
        "description": None,
    }


def partner_vals(contact: MappingABC[str, Any], catalog: Catalog, mapping: Mapping
                 ) -> dict[str, Any]:
    """``res.partner`` values for the fields Odoo holds (the bank account is written apart)."""
    r = _Reasons(mapping)
    kind = contact["kind"]
    vals: dict[str, Any] = {
        "name": contact["name"], "vat": contact.get("tax_id") or False,
        "is_company": not contact.get("is_person"), "email": contact.get("email") or False,
        "phone": contact.get("phone") or False, "mobile": contact.get("mobile") or False,
        "customer_rank": 1 if kind in ("customer", "customer_and_supplier") else 0,
        "supplier_rank": 1 if kind in ("supplier", "customer_and_supplier") else 0,
    }
    address = contact.get("address") or {}
    vals.update(street=address.get("street") or False, city=address.get("city") or False,
                zip=address.get("postal_code") or False, country_id=False)
    if address.get("country_code"):
        country = catalog.country_for_code(address["country_code"])
        if country is None:
            r.fail("address.country_code", f"country {address['country_code']!r} is not in Odoo")
        vals["country_id"] = country or False
    days = contact.get("payment_due_days")
    vals["property_payment_term_id"] = False
    if days is not None:
        term = catalog.term_for_days(int(days))
        if term is None:
            r.fail("payment_due_days", f"Odoo has no payment term of exactly {days} days")
        vals["property_payment_term_id"] = term or False
    r.raise_if_any()
    return vals


def _payment_journal(payment: MappingABC[str, Any], catalog: Catalog, mapping: Mapping
                     ) -> int | None:
    """The Odoo journal of the payment's treasury (None: Odoo's default bank journal);
    Unmappable when the treasury has none or the currency is not EUR."""
    r = _Reasons(mapping)
    journal_id = None
    treasury = payment.get("treasury")
    if treasury:
        code_map = r.map.treasuries if r.map else None
        code = code_map.to_system(treasury) if code_map is not None else None
        journal_id = catalog.journal_for_code(str(code)) if code is not None else None
        if journal_id is None:
            r.fail("treasury", f"canonical treasury {treasury!r} has no Odoo journal in mapping "
                   f"v{mapping.version}")
    if payment.get("currency", "EUR") != "EUR":
        r.fail("currency", f"payments in {payment['currency']} are not supported yet")
    r.raise_if_any()
    return journal_id


def payment_register_vals(payment: MappingABC[str, Any], *, entity_key_: str, catalog: Catalog,
                          mapping: Mapping) -> dict[str, Any]:
    """``account.payment.register`` values; ``communication`` (-> payment ``ref``) carries the
    payment's entity key, so a lost response is found by searching ``ref``."""
    journal_id = _payment_journal(payment, catalog, mapping)
    vals: dict[str, Any] = {"amount": float(payment["amount"]),
                            "payment_date": payment["date"].isoformat(),
                            "communication": entity_key_}
    if journal_id is not None:
        vals["journal_id"] = journal_id
    return vals


def on_account_vals(payment: MappingABC[str, Any], *, entity_key_: str, partner_id: int,
                    catalog: Catalog, mapping: Mapping) -> dict[str, Any]:
    """``account.payment`` values of a customer payment on account (reconciled with nothing):
    received from ``partner_id``, ``ref`` = the entity key (found again by it)."""
    if Decimal(payment["amount"]) <= 0:
        raise Unmappable([f"amount: {payment['amount']} is not a positive payment"],
                         mapping_version=mapping.version)
    journal_id = _payment_journal(payment, catalog, mapping)
    vals: dict[str, Any] = {"payment_type": "inbound", "partner_type": "customer",
                            "partner_id": partner_id, "amount": float(payment["amount"]),
                            "date": payment["date"].isoformat(), "ref": entity_key_}
    if journal_id is not None:
        vals["journal_id"] = journal_id
    return vals
