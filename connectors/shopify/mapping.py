"""Shopify GraphQL records <-> canonical records, through the mapping document's ``shopify`` map.

Pure: no I/O. Codes go through the mapping's ``shopify`` section: tax lines are matched by
title AND rate (``"IVA 21%": {canonical: iva_21, title: IVA, rate: 21}``; Shopify's
``TaxLine.rate`` is a fraction, 0.21), gateways (``paymentGatewayNames``, a transaction's
``gateway``) are payment-method codes, ``sourceName`` a sales channel. A code that cannot be
mapped makes the record ``Unmappable`` with every reason at once; nothing is guessed.

Inbound: :func:`customer_to_contact`, :func:`variant_to_product`, :func:`order_to_invoice`
(invoice or sales receipt), :func:`refund_to_credit_note`, :func:`transaction_to_payment`.
Outbound: :func:`contact_to_customer_input` (a ``CustomerInput`` for ``customerUpdate``) and
:func:`invoice_tag` (the tag that marks an order with its Holded invoice number).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping as MappingABC
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app.mapping import Mapping, Tax, TaxKind, TaxScope, Unmappable
from app.mapping.decimals import net_of_tax
from app.mapping.inbound import InboundResolver
from connectors.base import identifiers
from connectors.shopify.client import numeric_id

__all__ = ["HELD_FIELDS", "PAID_STATUSES", "PRODUCT_TAX_METAFIELD", "SYSTEM", "TAX_ID_METAFIELD",
           "contact_to_customer_input", "customer_to_contact", "entity_key", "invoice_tag",
           "order_to_invoice",
           "parse_ts", "refund_to_credit_note", "shop_day", "transaction_to_payment", "variant_to_product"]

SYSTEM = "shopify"
TAX_ID_METAFIELD = ("holded_sync", "tax_id")
# A product's VAT: a key of the mapping's shopify.taxes (``"IVA 10%"``).
PRODUCT_TAX_METAFIELD = ("holded_sync", "tax")
INVOICE_TAG_PREFIX = "holded:"
# Orders that were paid (refunds later do not make them unpaid): these become documents.
PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})
_ZERO = Decimal(0)
_CENT = Decimal("0.01")
# Shopify stamps times in UTC; a document's day is the shop's calendar day (the VAT period an
# order made at 00:30 on 1 January in Madrid belongs to is January, not the previous year).
SHOP_ZONE = ZoneInfo("Europe/Madrid")

HELD_FIELDS: MappingABC[str, frozenset[str]] = {
    "contact": frozenset({"name", "tax_id", "email", "phone"}),
    "product": frozenset({"kind", "sku", "name", "price", "cost", "barcode", "active"}),
    "invoice": frozenset({"doc_type", "issue_date", "customer_key", "currency", "lines",
                          "totals", "payment_status", "amount_paid", "corrects"}),
    "payment": frozenset({"invoice_key", "date", "amount", "currency", "method"}),
}


def entity_key(entity: str, record_gid: str | int) -> str:
    return f"{entity}/{SYSTEM}/{numeric_id(record_gid)}"


def parse_ts(value: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {value!r}")
    return stamp


def shop_day(value: str, zone: dt.tzinfo = SHOP_ZONE) -> dt.date:
    """The shop's calendar day of a Shopify timestamp."""
    return parse_ts(value).astimezone(zone).date()


def _money(value: Any) -> Decimal:
    amount = (value.get("shopMoney") or {}).get("amount") if isinstance(value, dict) else value
    return _ZERO if amount in (None, "") else Decimal(str(amount))


def _text(value: Any) -> str | None:
    return (str(value).strip() or None) if value is not None else None


class _Inbound(InboundResolver):
    """Every reason a Shopify record cannot be read into canonical terms."""

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping, SYSTEM)

    def tax(self, title: str, rate: Any, where: str) -> str | None:
        percent = (Decimal(str(rate)) * 100).normalize()
        for entry in self.map.taxes.entries if self.map else ():
            if (entry.title or "").casefold() == title.casefold() and entry.rate is not None \
                    and entry.rate == percent and entry.canonical:
                return entry.canonical[0]
        if self.map is not None:
            self.fail(where, f"Shopify tax line {title!r} at {percent}% is not in the shopify "
                      f"section of mapping v{self.mapping.version}")
        return None


def _address(node: MappingABC[str, Any] | None) -> dict[str, Any] | None:
    if not node:
        return None
    street = ", ".join(p for p in (_text(node.get("address1")), _text(node.get("address2"))) if p)
    address = {"street": street or None, "city": _text(node.get("city")),
               "postal_code": _text(node.get("zip")), "province": _text(node.get("province")),
               "country_code": (_text(node.get("countryCodeV2")) or "").upper() or None}
    return address if any(address.values()) else None


def _company(customer: MappingABC[str, Any]) -> tuple[str | None, str | None]:
    """(company name, tax registration id) of the customer's first B2B company, if any."""
    for profile in customer.get("companyContactProfiles") or []:
        company = (profile or {}).get("company") or {}
        for location in ((company.get("locations") or {}).get("nodes") or []):
            tax_id = _text(((location or {}).get("taxSettings") or {}).get("taxRegistrationId"))
            return _text(company.get("name")), tax_id
        return _text(company.get("name")), None
    return None, None


def customer_to_contact(customer: MappingABC[str, Any], *, mapping: Mapping) -> dict[str, Any]:
    company, company_tax_id = _company(customer)
    metafield = _text((customer.get("metafield") or {}).get("value"))
    person = " ".join(p for p in (_text(customer.get("firstName")),
                                  _text(customer.get("lastName"))) if p)
    name = company or person or _text(customer.get("displayName")) or \
        _text(customer.get("email")) or ""
    return {
        "kind": "customer", "name": name, "trade_name": None,
        "tax_id": identifiers.tax_id(company_tax_id or metafield), "is_person": company is None,
        "email": _text(customer.get("email")), "phone": _text(customer.get("phone")),
        "mobile": None, "iban": None, "swift": None,
        "address": _address(customer.get("defaultAddress")),
        "tax_regime": "exempt" if customer.get("taxExempt") else None,
        "payment_method": None, "payment_due_days": None, "price_list": None,
        "currency": mapping.base_currency, "language": None, "sales_account": None,
        "purchases_account": None, "default_taxes": [], "withholding": None,
        "tags": sorted(str(t) for t in customer.get("tags") or []),
    }


def _product_vat(r: _Inbound, product: MappingABC[str, Any], where: str) -> Tax | None:
    """The canonical sales VAT of a product: its ``holded_sync.tax`` metafield if set, else the
    mapping's ``shopify.default_product_tax``; either is a key of the mapping's
    ``shopify.taxes`` (``"IVA 10%"``). Shopify's API carries no VAT rate per product (rates and
    collection overrides live in the shop's tax settings). A metafield that is set but not
    mapped is a reason, never replaced by the default."""
    value = _text((product.get("metafield") or {}).get("value"))
    source = f"metafield {'.'.join(PRODUCT_TAX_METAFIELD)}"
    if value is None:
        default = r.map.default_product_tax if r.map is not None else None
        if default is None:
            return None
        value, source = str(default), "shopify.default_product_tax"
    code = r.code("taxes", value, f"{where}: {source}", "tax")
    tax = r.mapping.taxes.get(code) if code is not None else None
    if tax is not None and (tax.kind is not TaxKind.VAT or tax.scope is not TaxScope.SALES):
        r.fail(where, f"{source} {value!r} maps to {tax.code!r}, which is not a sales VAT")
        return None
    return tax


def variant_to_product(product: MappingABC[str, Any], variant: MappingABC[str, Any], *,
                       mapping: Mapping, taxes_included: bool = False) -> dict[str, Any]:
    """One variant as a canonical product, identified by its SKU, its price net of VAT.

    ``taxes_included`` is the shop's ``taxesIncluded`` (prices shown with tax, the usual
    set-up in Spain): a taxable variant's price is then netted by the rate of the product's
    VAT (:func:`_product_vat`: its metafield, else the mapping's default), half up to the
    canonical unit-price scale; with no VAT code to net it by the variant is ``Unmappable``
    rather than priced gross."""
    sku = _text(variant.get("sku"))
    if sku is None:
        raise Unmappable([f"variant {numeric_id(variant['id'])} of {product.get('title')!r} "
                          "has no SKU; products are matched by SKU"],
                         mapping_version=mapping.version)
    title = str(product.get("title") or "")
    if variant.get("title") and variant["title"] != "Default Title":
        title = f"{title} - {variant['title']}"
    where = f"variant {sku} ({title!r})"
    r = _Inbound(mapping)
    # ``taxable`` is Boolean! in the API: only an explicit false exempts the variant.
    taxable = variant.get("taxable") is not False
    vat = _product_vat(r, product, where) if taxable else None
    price = Decimal(str(variant.get("price") or 0))
    if taxes_included and taxable:
        if vat is not None:
            price = net_of_tax(price, vat.rate)
        elif not r.reasons:
            keys = ", ".join(repr(e.code) for e in r.map.taxes.entries) if r.map else ""
            r.fail(where, "the shop's prices include VAT (taxesIncluded) and the product has "
                   f"no VAT code to take it out by; set the product metafield "
                   f"{'.'.join(PRODUCT_TAX_METAFIELD)} to a key of shopify.taxes in mapping "
                   f"v{mapping.version} ({keys}), or publish a mapping version whose shopify "
                   f"section has default_product_tax (the VAT of every product without "
                   f"the metafield)")
    cost = ((variant.get("inventoryItem") or {}).get("unitCost") or {}).get("amount")
    result = {
        "kind": "product", "sku": sku, "name": title,
        "description": _text(product.get("productType")),
        "price": price,
        "cost": Decimal(str(cost)) if cost not in (None, "") else None,
        "currency": mapping.base_currency, "sales_taxes": [vat.code] if vat else [],
        "purchase_taxes": [], "sales_account": None, "purchases_account": None,
        "barcode": _text(variant.get("barcode")), "stock": [],
        "active": product.get("status") == "ACTIVE",
    }
    if taxable and (taxes_included or (product.get("metafield") or {}).get("value")):
        r.raise_if_any()  # the mapping was consulted: a missing Shopify section parks as well
    return result


def _line_taxes(r: _Inbound, line: MappingABC[str, Any], where: str) -> tuple[list[str], Decimal]:
    taxes, rate_sum = [], _ZERO
    for tax_line in line.get("taxLines") or []:
        code = r.tax(str(tax_line.get("title") or ""), tax_line.get("rate") or 0, where)
        rate_sum += Decimal(str(tax_line.get("rate") or 0))
        if code is not None:
            taxes.append(code)
    return taxes, rate_sum


def _net(price: Decimal, rate_sum: Decimal, included: bool) -> Decimal:
    """The line's price without its tax lines (``rate_sum`` is Shopify's fraction, 0.21)."""
    if not (included and rate_sum):
        return price
    return net_of_tax(price, rate_sum * 100)


def _customer_key(r: _Inbound, order: MappingABC[str, Any]) -> str:
    customer = order.get("customer") or {}
    if not customer.get("id"):
        r.fail(f"order {order.get('name')}", "a guest order has no customer to invoice")
        return ""
    return entity_key("contact", customer["id"])


def order_to_invoice(order: MappingABC[str, Any], *, mapping: Mapping,
                     doc_type: str = "invoice", zone: dt.tzinfo = SHOP_ZONE) -> dict[str, Any]:
    """A paid order as an invoice (or ``sales_receipt``): product lines, then shipping lines,
    prices net of tax when the shop's prices include it; discounts allocated to a line
    (``totalDiscountSet``, order-level discounts included) become its ``discount_pct``."""
    if doc_type not in ("invoice", "sales_receipt"):
        raise ValueError("doc_type is invoice or sales_receipt")
    r = _Inbound(mapping)
    included = bool(order.get("taxesIncluded"))
    lines = []
    for number, line in enumerate((order.get("lineItems") or {}).get("nodes") or [], start=1):
        where = f"line {number} ({line.get('sku') or line.get('name')})"
        taxes, rate_sum = _line_taxes(r, line, where)
        quantity = Decimal(str(line.get("quantity") or 0))
        unit = _money(line.get("originalUnitPriceSet"))
        discount = _money(line.get("totalDiscountSet"))
        gross = unit * quantity
        pct = (discount * 100 / gross).quantize(Decimal("0.0001")) if gross and discount else _ZERO
        lines.append({
            "line_no": number, "sku": _text(line.get("sku")),
            "product_key": entity_key("product", line["variant"]["id"])
            if (line.get("variant") or {}).get("id") else None,
            "description": str(line.get("name") or ""), "quantity": quantity,
            "unit_price": _net(unit, rate_sum, included), "discount_pct": pct,
            "taxes": taxes, "withholding": None, "account": None,
        })
    for shipping in (order.get("shippingLines") or {}).get("nodes") or []:
        taxes, rate_sum = _line_taxes(r, shipping, f"shipping {shipping.get('title')!r}")
        price = _money(shipping.get("discountedPriceSet"))
        if price:
            lines.append({
                "line_no": len(lines) + 1, "sku": None, "product_key": None,
                "description": f"Envío: {shipping.get('title') or ''}".strip(),
                "quantity": Decimal(1), "unit_price": _net(price, rate_sum, included),
                "discount_pct": _ZERO, "taxes": taxes, "withholding": None, "account": None,
            })
    method = None
    gateways = order.get("paymentGatewayNames") or []
    if gateways:
        method = r.code("payment_methods", str(gateways[0]), "paymentGatewayNames", "gateway")
    total, tax = _money(order.get("totalPriceSet")), _money(order.get("totalTaxSet"))
    paid = sum((_money(t.get("amountSet")) for t in order.get("transactions") or []
                if t.get("status") == "SUCCESS" and t.get("kind") in ("SALE", "CAPTURE")), _ZERO)
    status = str(order.get("displayFinancialStatus") or "")
    invoice = {
        "doc_type": doc_type, "number": _text(order.get("name")), "series": None,
        "issue_date": shop_day(order.get("processedAt") or order["createdAt"], zone),
        "due_date": None, "customer_key": _customer_key(r, order), "customer_tax_id": None,
        "currency": str(order.get("currencyCode") or mapping.base_currency),
        "exchange_rate": None, "tax_regime": None, "lines": lines,
        "totals": {"subtotal": total - tax, "tax_total": tax, "withholding_total": _ZERO,
                   "total": total},
        "payment_method": method, "corrects": None,
        "status": "cancelled" if order.get("cancelledAt") else "issued",
        "payment_status": "paid" if status in PAID_STATUSES else
        "partial" if status == "PARTIALLY_PAID" else "unpaid",
        "amount_paid": paid.quantize(_CENT), "notes": _text(order.get("note")),
    }
    r.raise_if_any()
    return invoice


def refund_to_credit_note(order: MappingABC[str, Any], refund: MappingABC[str, Any], *,
                          mapping: Mapping, zone: dt.tzinfo = SHOP_ZONE) -> dict[str, Any]:
    """A refund as a credit note correcting the order's invoice (refunded lines only)."""
    r = _Inbound(mapping)
    by_id = {line["id"]: line for line in (order.get("lineItems") or {}).get("nodes") or []}
    lines, subtotal, tax = [], _ZERO, _ZERO
    items = (refund.get("refundLineItems") or {}).get("nodes") or []
    if not items:
        r.fail(f"refund {numeric_id(refund['id'])}", "an amount-only refund has no lines to "
               "split into taxes; enter it as a credit note by hand")
    for number, item in enumerate(items, start=1):
        original = by_id.get((item.get("lineItem") or {}).get("id"), {})
        where = f"refund line {number} ({original.get('sku') or original.get('name')})"
        taxes, _ = _line_taxes(r, original, where)
        quantity = Decimal(str(item.get("quantity") or 0))
        line_subtotal = _money(item.get("subtotalSet"))
        subtotal += line_subtotal
        tax += _money(item.get("totalTaxSet"))
        lines.append({
            "line_no": number, "sku": _text(original.get("sku")),
            "product_key": entity_key("product", original["variant"]["id"])
            if (original.get("variant") or {}).get("id") else None,
            "description": str(original.get("name") or "Devolución"), "quantity": quantity,
            "unit_price": (line_subtotal / quantity).quantize(Decimal("0.000001"))
            if quantity else line_subtotal,
            "discount_pct": _ZERO, "taxes": taxes, "withholding": None, "account": None,
        })
    refunded = _money(refund.get("totalRefundedSet"))
    if items and refunded != subtotal + tax:
        # Shipping refunds, order adjustments and amounts typed by hand are not in the refund's
        # lines: a credit note of the lines alone would not be what the customer got back.
        r.fail(f"refund {numeric_id(refund['id'])}", f"{refunded} was refunded but the refunded "
               f"lines come to {subtotal + tax} (a shipping refund, an adjustment or a changed "
               "amount); enter it as a credit note by hand")
    credit = {
        "doc_type": "credit_note", "number": None, "series": None,
        "issue_date": shop_day(refund["createdAt"], zone), "due_date": None,
        "customer_key": _customer_key(r, order), "customer_tax_id": None,
        "currency": str(order.get("currencyCode") or mapping.base_currency),
        "exchange_rate": None, "tax_regime": None, "lines": lines,
        "totals": {"subtotal": subtotal, "tax_total": tax, "withholding_total": _ZERO,
                   "total": subtotal + tax},
        "payment_method": None, "corrects": entity_key("invoice", order["id"]),
        "status": "issued", "payment_status": "paid",
        "amount_paid": refunded.quantize(_CENT),
        "notes": _text(refund.get("note")),
    }
    r.raise_if_any()
    return credit


def transaction_to_payment(order: MappingABC[str, Any], transaction: MappingABC[str, Any], *,
                           mapping: Mapping, zone: dt.tzinfo = SHOP_ZONE) -> dict[str, Any]:
    """A successful sale or capture as a payment of the order's invoice."""
    r = _Inbound(mapping)
    method = r.code("payment_methods", str(transaction.get("gateway") or ""), "gateway",
                    "gateway")
    customer = (order.get("customer") or {}).get("id")
    payment = {
        "invoice_key": entity_key("invoice", order["id"]),
        "contact_key": entity_key("contact", customer) if customer else None,
        "date": shop_day(transaction.get("processedAt") or order["createdAt"], zone),
        "amount": _money(transaction.get("amountSet")).quantize(_CENT),
        "currency": str(((transaction.get("amountSet") or {}).get("shopMoney") or {})
                        .get("currencyCode") or order.get("currencyCode")
                        or mapping.base_currency),
        "method": method, "treasury": None, "reference": numeric_id(transaction["id"]),
        "description": f"Shopify {order.get('name')}",
    }
    r.raise_if_any()
    return payment


def contact_to_customer_input(contact: MappingABC[str, Any], customer_gid: str
                              ) -> dict[str, Any]:
    """``CustomerInput`` holding the fields Shopify keeps of a contact (see HELD_FIELDS).

    The name is split at its first blank into first and last name, which the source joins
    back; the tax id goes to the ``holded_sync.tax_id`` metafield (Customer has no VAT field;
    a B2B company location's ``taxRegistrationId`` still wins when present). A metafield holds
    no blank value, so a contact without a tax id sends none: the sink deletes the metafield
    (``MetafieldsDelete``)."""
    first, _, last = (contact.get("name") or "").strip().partition(" ")
    namespace, key = TAX_ID_METAFIELD
    tax_id = (contact.get("tax_id") or "").strip()
    return {
        "id": customer_gid, "firstName": first, "lastName": last.strip(),
        "email": contact.get("email") or None, "phone": contact.get("phone") or None,
        **({"metafields": [{"namespace": namespace, "key": key, "type": "single_line_text_field",
                            "value": tax_id}]} if tax_id else {}),
    }


def invoice_tag(number: str) -> str:
    """The order tag carrying the Holded invoice number (Shopify tags: max 40 characters)."""
    tag = f"{INVOICE_TAG_PREFIX}{number.strip()}"
    if not number.strip() or len(tag) > 40 or "," in tag:
        raise ValueError(f"invoice number {number!r} does not fit a Shopify tag")
    return tag
