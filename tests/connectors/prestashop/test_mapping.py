"""PrestaShop <-> canonical mapping: pure functions, no I/O."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.mapping import TotalsMismatch, Unmappable
from connectors.prestashop.mapping import (
    Catalog, InvoiceParts, address_tax_fields, contact_from_ps, invoice_from_ps,
    parse_ps_datetime, payment_from_ps, product_from_ps, ps_datetime, stock_from_ps,
)
from tests.connectors.prestashop.support import MAPPING, levante, lucia

CATALOG = Catalog({6: "ES"}, {1: "EUR"})
MADRID = ZoneInfo("Europe/Madrid")


def order(**over: str) -> dict[str, str]:
    base = {"id": 7, "id_customer": "4", "id_currency": "1", "module": "ps_wirepayment",
            "reference": "ABC", "invoice_number": "12", "total_shipping_tax_excl": "5.00",
            "carrier_tax_rate": "21.000", "total_discounts_tax_excl": "0.00",
            "total_paid_real": "0.00", "round_type": "2", "id_address_invoice": "3"}
    return {**base, **over}


def detail(did: int, qty: str, price: str, group: str) -> dict[str, object]:
    return {"id": did, "id_order": "7", "product_id": str(did), "product_reference": f"SKU{did}",
            "product_name": f"P{did}", "product_quantity": qty, "unit_price_tax_excl": price,
            "id_tax_rules_group": group, "id_order_invoice": "3"}


def invoice(excl: str, incl: str, **over: str) -> dict[str, object]:
    return {"id": 3, "id_order": "7", "number": "12", "date_add": "2026-03-02 10:00:00",
            "total_paid_tax_excl": excl, "total_paid_tax_incl": incl,
            "total_shipping_tax_excl": "5.00", "total_discount_tax_excl": "0.00", **over}


@pytest.mark.parametrize("round_type", ["1", "2"])
def test_a_tax_included_price_keeps_the_shops_totals(round_type: str) -> None:
    # 10.00 with 21 % VAT is stored as 8.264463 without it; PrestaShop rounds the line without
    # tax (8.26) and with tax (8.264463 x 1.21 = 10.00) separately: the tax is 1.74, the tax of
    # the exact amount, where 8.26 x 21 % would give 1.73 and park the order.
    parts = InvoiceParts(order(total_shipping_tax_excl="0.00", round_type=round_type),
                         invoice("8.26", "10.00", total_shipping_tax_excl="0.00"),
                         [detail(1, "1", "8.264463", "1")], {"vat_number": "ESB12345678"})
    mapped = invoice_from_ps(parts, CATALOG, MAPPING, invoice_prefix="WEB")
    assert mapped["totals"] == {"subtotal": Decimal("8.26"), "tax_total": Decimal("1.74"),
                                "withholding_total": Decimal("0.00"), "total": Decimal("10.00")}
    assert mapped["lines"][0]["unit_price"] == Decimal("8.264463")


def test_shop_local_dates_become_aware_and_back() -> None:
    summer = parse_ps_datetime("2026-07-01 10:00:00", MADRID)
    assert summer is not None and summer.astimezone(dt.UTC).hour == 8
    assert parse_ps_datetime("0000-00-00 00:00:00", MADRID) is None
    assert ps_datetime(dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC), MADRID) == "2026-01-01 10:00:00"


def test_contact_reads_tax_data_from_the_oldest_live_address() -> None:
    customer = {"id": 4, "firstname": "Ana", "lastname": "Ruiz", "email": "ana@x.es",
                "company": ""}
    addresses = [{"id": 9, "deleted": "1", "vat_number": "OLD"},
                 {"id": 12, "dni": "11111111H", "vat_number": "", "id_country": "6",
                  "address1": "C/ Sol 1", "city": "Sevilla", "postcode": "41001"},
                 {"id": 15, "vat_number": "ESB99999999", "company": "Otra S.L."}]
    contact = contact_from_ps(customer, addresses, CATALOG, MAPPING)
    assert contact["name"] == "Ana Ruiz" and contact["is_person"] is True
    assert contact["tax_id"] == "11111111H" and contact["address"]["country_code"] == "ES"


def test_tax_id_goes_to_vat_number_for_companies_and_dni_for_people() -> None:
    assert address_tax_fields(levante(tax_id="ESB1"), {"vat_number": "ESB0"}, MAPPING) == {
        "vat_number": "ESB1"}
    assert address_tax_fields(lucia(tax_id="X1"), {"dni": "Z", "vat_number": ""}, MAPPING) == {
        "dni": "X1"}
    assert address_tax_fields(lucia(tax_id="X1"), {"vat_number": "FR1"}, MAPPING) == {
        "vat_number": "X1"}  # a person whose address already uses vat_number
    assert address_tax_fields(lucia(tax_id="X1"), {"dni": "X1"}, MAPPING) == {}
    with pytest.raises(Unmappable, match="16 characters"):
        address_tax_fields(lucia(tax_id="X" * 17), {}, MAPPING)
    # PrestaShop refuses such a dni (isDniLite): parked with the reason, not a failed write
    with pytest.raises(Unmappable, match="isDniLite"):
        address_tax_fields(lucia(tax_id="12345678/Z"), {}, MAPPING)
    assert address_tax_fields(lucia(tax_id="X-1.2"), {}, MAPPING) == {"dni": "X-1.2"}
    assert address_tax_fields(levante(tax_id="ESB1/2"), {}, MAPPING) == {"vat_number": "ESB1/2"}


def test_product_needs_a_reference_and_a_mapped_tax_rule_group() -> None:
    product = {"id": 1, "reference": "TAL-001", "price": "100.000000", "id_tax_rules_group": "1",
               "name": [{"id": "2", "value": "Drill"}, {"id": "1", "value": "Taladro"}],
               "wholesale_price": "0.000000", "active": "1", "ean13": ""}
    mapped = product_from_ps(product, CATALOG, MAPPING)
    assert mapped["sku"] == "TAL-001" and mapped["name"] == "Taladro"
    assert mapped["sales_taxes"] == ["iva_21"] and mapped["price"] == Decimal("100")
    assert mapped["cost"] is None and mapped["barcode"] is None
    with pytest.raises(Unmappable) as caught:
        product_from_ps({**product, "reference": "", "id_tax_rules_group": "9"}, CATALOG, MAPPING)
    assert len(caught.value.reasons) == 2 and "tax rule group 9" in str(caught.value)


def test_invoice_lines_shipping_totals_and_method() -> None:
    parts = InvoiceParts(order(total_paid_real="100.00"),
                         invoice("230.50", "276.10"),
                         [detail(1, "2", "100.000000", "1"), detail(2, "3", "8.500000", "2")],
                         {"vat_number": "ESB12345678"})
    mapped = invoice_from_ps(parts, CATALOG, MAPPING, invoice_prefix="WEB")
    assert [line["taxes"] for line in mapped["lines"]] == [["iva_21"], ["iva_10"], ["iva_21"]]
    assert mapped["lines"][2]["description"] == "Transporte"
    assert mapped["totals"]["total"] == Decimal("276.10")
    assert mapped["number"] == "WEB000012" and mapped["series"] == "W"
    assert mapped["payment_method"] == "transferencia" and mapped["payment_status"] == "partial"
    assert mapped["customer_key"] == "contact/prestashop/4"
    assert mapped["customer_tax_id"] == "ESB12345678"
    assert mapped["issue_date"] == dt.date(2026, 3, 2)


def test_foreign_currency_invoice_carries_the_order_conversion_rate() -> None:
    # A USD order: the rate the shop converted at must reach Holded (currencyChange), not be
    # dropped so that Holded values the invoice at some other rate.
    catalog = Catalog({6: "ES"}, {1: "EUR", 2: "USD"})
    parts = InvoiceParts(order(id_currency="2", conversion_rate="1.087000"),
                         invoice("230.50", "276.10"),
                         [detail(1, "2", "100.000000", "1"), detail(2, "3", "8.500000", "2")])
    mapped = invoice_from_ps(parts, catalog, MAPPING, invoice_prefix="WEB")
    assert mapped["currency"] == "USD" and mapped["exchange_rate"] == Decimal("1.087")
    euro = dataclasses.replace(parts, order=order(conversion_rate="1.000000"))
    assert invoice_from_ps(euro, catalog, MAPPING, invoice_prefix="WEB")["exchange_rate"] is None
    with pytest.raises(Unmappable, match="conversion rate"):
        invoice_from_ps(dataclasses.replace(parts, order=order(id_currency="2")), catalog,
                        MAPPING, invoice_prefix="WEB")
    # A USD order at rate 1 is in a USD shop's default currency: its rate is not USD per EUR.
    with pytest.raises(Unmappable, match="default currency is not EUR"):
        invoice_from_ps(dataclasses.replace(parts, order=order(id_currency="2",
                                                               conversion_rate="1.000000")),
                        catalog, MAPPING, invoice_prefix="WEB")


def test_invoice_totals_that_disagree_are_unmappable() -> None:
    parts = InvoiceParts(order(), invoice("230.50", "276.11"),
                         [detail(1, "2", "100.000000", "1"), detail(2, "3", "8.500000", "2")])
    with pytest.raises(TotalsMismatch):
        invoice_from_ps(parts, CATALOG, MAPPING, invoice_prefix="WEB")


def test_round_type_total_rounds_the_document() -> None:
    # 3 lines of 0.05 at 21%: per line 0.01 x 3 = 0.03; on the total 0.15 * 21% = 0.03 (0.0315)
    lines = [detail(i, "1", "0.050000", "1") for i in (1, 2, 3)]
    line = InvoiceParts(order(total_shipping_tax_excl="0"),
                        invoice("0.15", "0.18", total_shipping_tax_excl="0"), lines)
    assert invoice_from_ps(line, CATALOG, MAPPING, invoice_prefix="WEB")["totals"][
        "tax_total"] == Decimal("0.03")
    lines = [detail(i, "1", "0.020000", "1") for i in (1, 2, 3)]  # 0.0042 each; 0.06 -> 0.0126
    doc = InvoiceParts(order(total_shipping_tax_excl="0", round_type="3"),
                       invoice("0.06", "0.07", total_shipping_tax_excl="0"), lines)
    assert invoice_from_ps(doc, CATALOG, MAPPING, invoice_prefix="WEB")["totals"][
        "tax_total"] == Decimal("0.01")
    with pytest.raises(TotalsMismatch):  # the same invoice rounded per line gives 0.00
        invoice_from_ps(InvoiceParts(order(total_shipping_tax_excl="0"), doc.invoice, lines),
                        CATALOG, MAPPING, invoice_prefix="WEB")


def test_cart_rule_discounts_and_unknown_modules_are_reported_together() -> None:
    parts = InvoiceParts(order(module="paypal"), invoice("205.00", "248.05",
                                                         total_discount_tax_excl="10.00"),
                         [detail(1, "2", "100.000000", "1")])
    with pytest.raises(Unmappable) as caught:
        invoice_from_ps(parts, CATALOG, MAPPING, invoice_prefix="WEB")
    assert len(caught.value.reasons) == 2 and "'paypal'" in str(caught.value)


def test_payment_treasury_comes_from_the_payment_module() -> None:
    payment = {"id": 5, "amount": "50.00", "id_currency": "1", "date_add": "2026-03-03 12:00:00",
               "transaction_id": "RDS-1", "payment_method": "Tarjeta"}
    mapped = payment_from_ps(payment, order(module="redsys"), "invoice/prestashop/3", CATALOG,
                             MAPPING)
    assert (mapped["method"], mapped["treasury"], mapped["amount"]) == ("tarjeta", "banco",
                                                                        Decimal("50.00"))
    assert mapped["date"] == dt.date(2026, 3, 3) and mapped["reference"] == "RDS-1"
    with pytest.raises(Unmappable, match="payment module 'cheque'"):
        payment_from_ps(payment, order(module="cheque"), "invoice/prestashop/3", CATALOG, MAPPING)


def test_stock_read_by_sku() -> None:
    products = [{"id": 1, "reference": "A"}, {"id": 2, "reference": "B"}]
    stocks = [{"id": 10, "id_product": "1", "id_product_attribute": "0", "quantity": "4"},
              {"id": 11, "id_product": "2", "id_product_attribute": "0", "quantity": "7"},
              {"id": 12, "id_product": "2", "id_product_attribute": "5", "quantity": "1"}]
    assert stock_from_ps(products, stocks) == {
        "A": {"warehouse": "prestashop", "quantity": Decimal("4")},
        "B": {"warehouse": "prestashop", "quantity": Decimal("7")}}
