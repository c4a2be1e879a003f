"""PrestaShop records <-> canonical records, through the mapping document's ``prestashop`` maps.

Pure: reference data (countries and currencies by id) comes in a :class:`Catalog` that the
source read; no I/O here. Codes go through the ``prestashop`` section of the mapping document:
``taxes`` keyed by ``id_tax_rules_group``, ``payment_methods`` keyed by the payment module's
technical name (``ps_wirepayment``, ``redsys``), ``series`` keyed by the shop's invoice prefix.
A code that cannot be mapped makes the record ``Unmappable`` with every reason at once.

PrestaShop's JSON output gives every field as a string (``"price": "19.900000"``) except
``id``; multilang fields are ``[{"id": "1", "value": "..."}]``; an unset date is
``"0000-00-00 00:00:00"``. Dates are shop-local wall-clock times: the shop time zone is a
setting of the source, applied by :func:`parse_ps_datetime`.

Inbound: :func:`contact_from_ps`, :func:`product_from_ps`, :func:`invoice_from_ps`,
:func:`payment_from_ps`. Outbound: :func:`address_tax_fields` (the sink's customer tax data).
Stock read by SKU: :func:`stock_from_ps` (not wired yet); written: ``stock.py``.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from app.mapping import Mapping, Unmappable
from app.mapping.inbound import InboundResolver
from app.mapping.totals import AppliedTax, TaxedLine, check_totals, compute_totals
from connectors.base import identifiers

__all__ = ["HELD_FIELDS", "SYSTEM", "Catalog", "InvoiceParts", "address_tax_fields",
           "contact_from_ps", "entity_key", "int_or_none", "invoice_from_ps", "parse_ps_datetime",
           "payment_from_ps", "product_from_ps", "ps_datetime", "stock_from_ps",
           "tax_address"]

SYSTEM = "prestashop"
Record = dict[str, Any]
# Canonical fields PrestaShop stores and reports back, per entity (echo checks and merges).
HELD_FIELDS: MappingABC[str, frozenset[str]] = {
    "contact": frozenset({"name", "tax_id", "is_person", "email", "phone", "mobile",
                          "address"}),
    "product": frozenset({"sku", "name", "price", "cost", "sales_taxes", "barcode", "active"}),
    "invoice": frozenset({"doc_type", "number", "series", "issue_date", "customer_key",
                          "customer_tax_id", "currency", "lines", "totals", "payment_method",
                          "status", "payment_status", "amount_paid"}),
    "payment": frozenset({"invoice_key", "contact_key", "date", "amount", "currency", "method",
                          "treasury", "reference"}),
}
Q2, Q4, Q6 = Decimal("0.01"), Decimal("0.0001"), Decimal("0.000001")
Q8 = Decimal("0.00000001")  # the canonical scale of exchange rates
ZERO_DATE = "0000-00-00"
DNI_MAX = 16  # PrestaShop Address::$dni (docs: max 16)
# Address::$dni's Validate::isDniLite: letters, digits, '-' and '.' only (else 400 code 85).
_DNI_LITE = re.compile(r"[0-9A-Za-z.-]+")
VAT_MAX = 32
# PS_ROUND_TYPE: 1 round each item, 2 round each line, 3 round the total. Per line PrestaShop
# rounds quantity x unit price without tax and, separately, with tax, the taxed price computed
# from the unrounded one (Cart::getProducts, ROUND_LINE): the tax of the line's exact amount,
# line_exact. Per item it rounds one unit the same way, times the quantity: line_exact for one
# unit; for more units of a price with more than two decimals no setting models it, and the
# totals check parks the order rather than guess.
_ROUND_TYPE = {"1": "line_exact", "2": "line_exact", "3": "document"}


@dataclass(frozen=True, slots=True)
class Catalog:
    """PrestaShop reference data by id, read once per run."""

    country_codes: MappingABC[int, str] = field(default_factory=dict)
    currency_codes: MappingABC[int, str] = field(default_factory=dict)
    language_id: int = 1

    def currency(self, value: Any, default: str) -> str:
        return self.currency_codes.get(int_or_none(value) or 0, default)


def entity_key(entity: str, ps_id: int | str) -> str:
    return f"{entity}/{SYSTEM}/{ps_id}"


def parse_ps_datetime(value: Any, tz: ZoneInfo) -> dt.datetime | None:
    """A shop-local ``YYYY-MM-DD HH:MM:SS`` as an aware datetime; None when unset."""
    if not isinstance(value, str) or not value or value.startswith(ZERO_DATE):
        return None
    return dt.datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)


def ps_datetime(value: dt.datetime, tz: ZoneInfo) -> str:
    """An aware datetime as the shop's wall-clock text (for ``filter[date_upd]``)."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _s(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _dec(value: Any, quantum: Decimal) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0)).quantize(quantum)
    except InvalidOperation:
        raise Unmappable([f"{value!r} is not a number"]) from None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not value or value.startswith(ZERO_DATE):
        return None
    return dt.date.fromisoformat(value[:10])


def _lang(value: Any, language_id: int) -> str:
    """A multilang field's text in ``language_id`` (else the first language)."""
    if isinstance(value, list):
        chosen = next((v for v in value if int_or_none(v.get("id")) == language_id), None)
        chosen = chosen or (value[0] if value else {})
        return str(chosen.get("value") or "")
    return str(value or "")


class _Reasons(InboundResolver):
    """Every reason a PrestaShop record cannot be read into canonical terms."""

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping, SYSTEM)

    def tax_group(self, value: Any, where: str) -> list[AppliedTax]:
        group = int_or_none(value) or 0
        if group == 0:
            return []  # "no tax" in PrestaShop
        code = self.code("taxes", group, where, "tax rule group")
        if code is None:
            return []
        tax = self.mapping.taxes[code]
        return [AppliedTax(tax.code, tax.rate, tax.is_withholding)]

    def tax_by_rate(self, rate: Decimal, where: str) -> list[AppliedTax]:
        if rate == 0:
            return []
        for entry in self.map.taxes.entries if self.map else ():
            if entry.rate is not None and entry.rate == rate and entry.canonical:
                tax = self.mapping.taxes[entry.canonical[0]]
                return [AppliedTax(tax.code, tax.rate, tax.is_withholding)]
        self.fail(where, f"no tax rule group of rate {rate}% in the prestashop section of "
                  f"mapping v{self.mapping.version}")
        return []


# ---- contacts ------------------------------------------------------------------------------
def tax_address(addresses: Sequence[MappingABC[str, Any]]) -> MappingABC[str, Any] | None:
    """The address that carries a customer's tax data: the oldest one not deleted."""
    live = [a for a in addresses if str(a.get("deleted", "0")) != "1"]
    return min(live, key=lambda a: int(a["id"])) if live else None


def contact_from_ps(customer: MappingABC[str, Any], addresses: Sequence[MappingABC[str, Any]],
                    catalog: Catalog, mapping: Mapping) -> Record:
    """A canonical Contact of a customer and its addresses (tax data lives on the address)."""
    address = tax_address(addresses) or {}
    company = _s(customer.get("company")) or _s(address.get("company"))
    person = " ".join(p for p in (_s(customer.get("firstname")), _s(customer.get("lastname")))
                      if p)
    street = ", ".join(p for p in (_s(address.get("address1")), _s(address.get("address2")))
                       if p) or None
    postal = {"street": street, "city": _s(address.get("city")),
              "postal_code": _s(address.get("postcode")), "province": None,
              "country_code": catalog.country_codes.get(int_or_none(address.get("id_country")) or 0)}
    return {
        "kind": "customer", "name": company or person or str(customer.get("email") or ""),
        "trade_name": None,
        "tax_id": identifiers.tax_id(_s(address.get("vat_number")) or _s(address.get("dni"))),
        "is_person": company is None, "email": _s(customer.get("email")),
        "phone": _s(address.get("phone")), "mobile": _s(address.get("phone_mobile")),
        "iban": None, "swift": None, "address": postal if any(postal.values()) else None,
        "tax_regime": None, "payment_method": None, "payment_due_days": None,
        "price_list": None, "currency": mapping.base_currency, "language": None,
        "sales_account": None, "purchases_account": None, "default_taxes": [],
        "withholding": None, "tags": [],
    }


def address_tax_fields(contact: MappingABC[str, Any], address: MappingABC[str, Any],
                       mapping: Mapping) -> dict[str, str]:
    """The address fields to change so PrestaShop holds ``contact``'s tax id.

    Companies (and addresses that already use it) keep it in ``vat_number``, people in ``dni``;
    the inbound side reads ``vat_number`` first, so what is written reads back the same.
    """
    tax_id = (contact.get("tax_id") or "").strip()
    field_name = ("vat_number" if not contact.get("is_person") or _s(address.get("vat_number"))
                  else "dni")
    limit = VAT_MAX if field_name == "vat_number" else DNI_MAX
    if len(tax_id) > limit:
        raise Unmappable([f"tax_id: {tax_id!r} is longer than PrestaShop's {limit} characters "
                          f"for {field_name}"], mapping_version=mapping.version)
    if field_name == "dni" and tax_id and not _DNI_LITE.fullmatch(tax_id):
        raise Unmappable([f"tax_id: {tax_id!r} has characters PrestaShop refuses in dni "
                          "(isDniLite: letters, digits, '-' and '.' only)"],
                         mapping_version=mapping.version)
    if (address.get(field_name) or "") == tax_id:
        return {}
    return {field_name: tax_id}


# ---- products ------------------------------------------------------------------------------
def product_from_ps(product: MappingABC[str, Any], catalog: Catalog, mapping: Mapping) -> Record:
    r = _Reasons(mapping)
    sku = _s(product.get("reference"))
    if sku is None:
        r.fail("reference", "the product has no reference (the SKU products are matched by)")
    taxes = r.tax_group(product.get("id_tax_rules_group"), "id_tax_rules_group")
    r.raise_if_any()
    cost = _dec(product.get("wholesale_price"), Q6)
    return {
        "kind": "service" if str(product.get("is_virtual", "0")) == "1" else "product",
        "sku": sku, "name": _lang(product.get("name"), catalog.language_id), "description": None,
        "price": _dec(product.get("price"), Q6), "cost": cost if cost else None,
        "currency": mapping.base_currency, "sales_taxes": [t.code for t in taxes],
        "purchase_taxes": [], "sales_account": None, "purchases_account": None,
        "barcode": _s(product.get("ean13")), "stock": [],
        "active": str(product.get("active", "1")) == "1",
    }


# ---- invoices ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InvoiceParts:
    """What an invoice is made of in PrestaShop, read by the source."""

    order: MappingABC[str, Any]
    invoice: MappingABC[str, Any]  # the order_invoices record
    details: Sequence[MappingABC[str, Any]]  # its order_details
    address: MappingABC[str, Any] | None = None  # the order's invoice address


def invoice_from_ps(parts: InvoiceParts, catalog: Catalog, mapping: Mapping, *,
                    invoice_prefix: str, shipping_label: str = "Transporte") -> Record:
    """A canonical Invoice of an invoiced order; PrestaShop's totals are checked to the cent."""
    r = _Reasons(mapping)
    order, invoice = parts.order, parts.invoice
    lines: list[Record] = []
    taxed: list[TaxedLine] = []
    for detail in sorted(parts.details, key=lambda d: int(d["id"])):
        no = len(lines) + 1
        applied = r.tax_group(detail.get("id_tax_rules_group"), f"line {no}")
        quantity = _dec(detail.get("product_quantity"), Q4)
        # unit_price_tax_excl is after the product's own reductions: no discount on top.
        price = _dec(detail.get("unit_price_tax_excl"), Q6)
        product_id = int_or_none(detail.get("product_id"))
        lines.append({"line_no": no, "sku": _s(detail.get("product_reference")),
                      "product_key": entity_key("product", product_id) if product_id else None,
                      "description": str(detail.get("product_name") or ""),
                      "quantity": quantity, "unit_price": price, "discount_pct": Decimal("0"),
                      "taxes": [t.code for t in applied], "withholding": None, "account": None})
        taxed.append(TaxedLine(no, quantity, price, Decimal(0), tuple(applied)))
    shipping = _dec(invoice.get("total_shipping_tax_excl", order.get("total_shipping_tax_excl")),
                    Q6)
    if shipping:
        no = len(lines) + 1
        applied = r.tax_by_rate(_dec(order.get("carrier_tax_rate"), Q4).normalize(),
                                f"line {no} (shipping)")
        lines.append({"line_no": no, "sku": None, "product_key": None,
                      "description": shipping_label, "quantity": Decimal("1.0000"),
                      "unit_price": shipping, "discount_pct": Decimal("0"),
                      "taxes": [t.code for t in applied], "withholding": None, "account": None})
        taxed.append(TaxedLine(no, Decimal(1), shipping, Decimal(0), tuple(applied)))
    if _dec(invoice.get("total_discount_tax_excl", order.get("total_discounts_tax_excl")), Q2):
        r.fail("total_discount_tax_excl", "order-level discounts (cart rules) are not mapped yet")
    module = _s(order.get("module"))
    method = r.code("payment_methods", module, "module", "payment module") if module else None
    number = int_or_none(invoice.get("number"))
    series = r.code("series", invoice_prefix, "invoice prefix", "invoice prefix")
    currency = catalog.currency(order.get("id_currency"), mapping.base_currency)
    exchange_rate = None
    if currency != mapping.base_currency:
        # Order.conversion_rate: units of the order's currency per unit of the shop's default
        # currency (taken to be the mapping's base currency) when the order was placed.
        exchange_rate = _dec(order.get("conversion_rate"), Q8)
        if exchange_rate <= 0:
            r.fail("conversion_rate", f"a {currency} order without a conversion rate to "
                   f"{mapping.base_currency}")
        elif exchange_rate == 1:  # the order is in the shop's default currency, not the base
            r.fail("conversion_rate", f"a {currency} order at conversion rate 1: the shop's "
                   f"default currency is not {mapping.base_currency}, so its rates are not "
                   f"{currency} per {mapping.base_currency}")
    r.raise_if_any()
    rounding = _ROUND_TYPE.get(str(order.get("round_type") or ""),
                               mapping.systems[SYSTEM].rounding)
    totals = compute_totals(taxed, rounding)  # type: ignore[arg-type]
    excl = _dec(invoice.get("total_paid_tax_excl"), Q2)
    incl = _dec(invoice.get("total_paid_tax_incl"), Q2)
    check_totals({"subtotal": excl, "tax_total": incl - excl, "withholding_total": Decimal(0),
                  "total": incl}, totals, mapping_version=mapping.version)
    paid = min(_dec(order.get("total_paid_real"), Q2), totals.total).quantize(Q2)
    address = parts.address or {}
    customer = int_or_none(order.get("id_customer"))
    return {
        "doc_type": "invoice",
        "number": f"{invoice_prefix}{number:06d}" if number else None, "series": series,
        "issue_date": _date(invoice.get("date_add")) or _date(order.get("invoice_date"))
        or dt.date.min,
        "due_date": None, "customer_key": entity_key("contact", customer) if customer else "",
        "customer_tax_id": _s(address.get("vat_number")) or _s(address.get("dni")),
        "currency": currency,
        "exchange_rate": exchange_rate, "tax_regime": None, "lines": lines,
        "totals": totals.as_dict(),
        "payment_method": method, "corrects": None, "status": "issued",
        "payment_status": "paid" if paid >= totals.total else "partial" if paid > 0 else "unpaid",
        "amount_paid": paid, "notes": _s(invoice.get("note")),
    }


# ---- payments ------------------------------------------------------------------------------
def payment_from_ps(payment: MappingABC[str, Any], order: MappingABC[str, Any],
                    invoice_key: str, catalog: Catalog, mapping: Mapping) -> Record:
    """A canonical Payment of an ``order_payments`` record on the order's invoice.

    The treasury comes from the order's payment module: module -> canonical payment method
    (the ``payment_methods`` map) -> that method's treasury in the mapping document.
    """
    r = _Reasons(mapping)
    module = _s(order.get("module"))
    method = r.code("payment_methods", module, "module", "payment module") if module else None
    if module is None:
        r.fail("module", "the order has no payment module")
    amount = _dec(payment.get("amount"), Q2)
    if amount <= 0:
        r.fail("amount", f"{amount} is not a positive payment (refunds are not mapped)")
    r.raise_if_any()
    customer = int_or_none(order.get("id_customer"))
    return {
        "invoice_key": invoice_key,
        "contact_key": entity_key("contact", customer) if customer else None,
        "date": _date(payment.get("date_add")) or dt.date.min, "amount": amount,
        "currency": catalog.currency(payment.get("id_currency"), mapping.base_currency),
        "method": method,
        "treasury": mapping.payment_methods[method].treasury if method else None,
        "reference": _s(payment.get("transaction_id")),
        "description": _s(payment.get("payment_method")),
    }


# ---- stock by SKU (read) ------------------------------------------------------------------
def stock_from_ps(products: Sequence[MappingABC[str, Any]],
                  stock_availables: Sequence[MappingABC[str, Any]], *,
                  warehouse: str = "prestashop") -> dict[str, Record]:
    """``{sku: StockLevel}`` of the products' own stock (combinations are not SKUs here)."""
    sku_of = {int(p["id"]): _s(p.get("reference")) for p in products}
    out: dict[str, Record] = {}
    for stock in stock_availables:
        if int_or_none(stock.get("id_product_attribute")) not in (0, None):
            continue
        sku = sku_of.get(int_or_none(stock.get("id_product")) or 0)
        if sku:
            out[sku] = {"warehouse": warehouse, "quantity": _dec(stock.get("quantity"), Q4)}
    return out
