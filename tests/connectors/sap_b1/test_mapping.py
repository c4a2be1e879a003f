"""SAP <-> canonical mapping through the example document's sap_b1 section (pure)."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from app.avro import codec
from app.mapping import Unmappable
from app.mapping.totals import AppliedTax, TaxedLine, check_totals, compute_totals
from connectors.sap_b1 import mapping as sapmap
from tests.connectors.sap_b1.support import MAPPING, payment_payload

LOOKUPS = sapmap.Lookups.build([
    {"GroupNumber": 1, "NumberOfAdditionalDays": 0},
    {"GroupNumber": 2, "NumberOfAdditionalDays": 60},
    {"GroupNumber": 4, "NumberOfAdditionalMonths": 1, "NumberOfAdditionalDays": 0}])

PARTNER = {"CardCode": "C0001", "CardName": "Ferretería Martínez S.L.", "CardType": "cCustomer",
           "FederalTaxID": "B12345678", "EmailAddress": "pagos@ferreteria-martinez.es",
           "Phone1": "+34 960 111 222", "Address": "Calle Mayor 1", "ZipCode": "46001",
           "City": "Valencia", "County": "", "Country": "es", "Currency": "##",
           "PayTermsGrpCode": 2, "PriceListNum": 1, "VatGroup": "R3",
           "SubjectToWithholdingTax": "tYES", "WTCode": "IR15", "IBAN": None,
           "BPBankAccounts": [{"IBAN": "ES9121000418450200051332"}]}

INVOICE = {"DocEntry": 7, "DocNum": 1007, "Series": 1, "DocDate": "2026-11-05",
           "DocDueDate": "2026-12-05T00:00:00Z", "CardCode": "C0002",
           "FederalTaxID": "B87654321", "DocCurrency": "EUR", "DocRate": 1,
           "DocTotal": Decimal("636.00"), "VatSum": Decimal("126.00"),
           "WTAmount": Decimal("90.00"), "PaidToDate": Decimal("100"), "Cancelled": "tNO",
           "Comments": None,
           "DocumentLines": [{"LineNum": 0, "ItemCode": "S0001", "ItemDescription": "Consultoría",
                              "Quantity": 10, "Price": Decimal("60.00"), "DiscountPercent": 0,
                              "VatGroup": "R3", "AccountCode": "70500000", "WTLiable": "tYES"}],
           "WithholdingTaxDataCollection": [{"WTCode": "IR15", "WTAmount": Decimal("90.00")}]}


def test_partner_reads_terms_iban_taxes_and_withholding() -> None:
    contact = sapmap.partner_to_contact(PARTNER, mapping=MAPPING, lookups=LOOKUPS)
    assert contact["kind"] == "customer" and contact["payment_due_days"] == 60
    assert contact["iban"] == "ES9121000418450200051332"
    assert contact["default_taxes"] == ["iva_21"] and contact["withholding"] == "irpf_15"
    assert contact["currency"] == "EUR" and contact["price_list"] == "1"
    assert contact["address"] == {"street": "Calle Mayor 1", "city": "Valencia",
                                  "postal_code": "46001", "province": None,
                                  "country_code": "ES"}
    codec("Contact").dumps(contact)


def test_partner_with_unmapped_codes_lists_every_reason() -> None:
    bad = {**PARTNER, "VatGroup": "ZZ", "PayTermsGrpCode": 4, "CardType": "cOther"}
    with pytest.raises(Unmappable) as caught:
        sapmap.partner_to_contact(bad, mapping=MAPPING, lookups=LOOKUPS)
    text = " ".join(caught.value.reasons)
    assert "'ZZ'" in text and "PayTermsGrpCode" in text and "cOther" in text


def test_item_price_from_the_price_list_and_income_account() -> None:
    item = {"ItemCode": "S0001", "ItemName": "Hora de consultoría", "SalesVATGroup": "R3",
            "InventoryItem": "tNO", "IncomeAccount": "70500000", "Valid": "tYES",
            "Frozen": "tNO", "ItemPrices": [{"PriceList": 2, "Price": 50},
                                            {"PriceList": 1, "Price": Decimal("60.5")}]}
    product = sapmap.item_to_product(item, mapping=MAPPING)
    assert product["kind"] == "service" and product["price"] == Decimal("60.5")
    assert product["sales_taxes"] == ["iva_21"] and product["sales_account"] == "705"
    assert sapmap.item_to_product(item, mapping=MAPPING, price_list=2)["price"] == 50
    codec("Product").dumps(product)


def test_invoice_lines_taxes_withholding_and_totals() -> None:
    invoice = sapmap.document_to_invoice(INVOICE, mapping=MAPPING)
    assert invoice["series"] == "F" and invoice["number"] == "1007"
    assert invoice["due_date"] == dt.date(2026, 12, 5)
    assert invoice["customer_key"] == "contact/sap_b1/C0002"
    line = invoice["lines"][0]
    assert line["taxes"] == ["iva_21"] and line["withholding"] == "irpf_15"
    assert line["account"] == "705" and line["product_key"] == "product/sap_b1/S0001"
    assert invoice["totals"] == {"subtotal": Decimal("600.00"), "tax_total": Decimal("126.00"),
                                 "withholding_total": Decimal("90.00"),
                                 "total": Decimal("636.00")}
    assert invoice["payment_status"] == "partial" and invoice["amount_paid"] == Decimal("100")
    codec("Invoice").dumps(invoice)


def test_discounted_line_takes_the_price_before_discount() -> None:
    # The Service Layer reads a line back with UnitPrice (before the line discount) and Price
    # (after it): 12 x 8.50 less 5 % is 96.90, VAT 10 % 9.69. Taking Price as the unit price
    # took the discount twice (12 x 8.075 less 5 % = 92.06), so Holded refused the totals.
    line = {"LineNum": 0, "ItemCode": "A0002", "ItemDescription": "Tornillo", "Quantity": 12,
            "UnitPrice": Decimal("8.50"), "Price": Decimal("8.075"), "DiscountPercent": 5,
            "LineTotal": Decimal("96.90"), "VatGroup": "R2", "WTLiable": "tNO"}
    doc = {**INVOICE, "DocumentLines": [line], "DocTotal": Decimal("106.59"),
           "VatSum": Decimal("9.69"), "WTAmount": 0, "WithholdingTaxDataCollection": []}
    invoice = sapmap.document_to_invoice(doc, mapping=MAPPING)
    got = invoice["lines"][0]
    assert got["unit_price"] == Decimal("8.50") and got["discount_pct"] == 5
    taxed = [TaxedLine(1, got["quantity"], got["unit_price"], got["discount_pct"],
                       (AppliedTax("iva_10", Decimal(10)),))]
    check_totals(invoice["totals"], compute_totals(taxed, "document"))
    # Without UnitPrice, Price is already discounted: no discount on top of it.
    bare = {k: v for k, v in line.items() if k != "UnitPrice"}
    got = sapmap.document_to_invoice({**doc, "DocumentLines": [bare]},
                                     mapping=MAPPING)["lines"][0]
    assert got["unit_price"] == Decimal("8.075") and got["discount_pct"] == 0


def test_exchange_rate_is_foreign_units_per_euro() -> None:
    # SAP quotes rates directly by default: 1 USD = 0.92 EUR gives DocRate 0.92. The canonical
    # rate (Holded's currencyChange) is USD per EUR, 1.08695652; passing DocRate through valued
    # a USD invoice 15 % low in euros.
    doc = {**INVOICE, "DocCurrency": "USD", "DocRate": Decimal("0.92")}
    invoice = sapmap.document_to_invoice(doc, mapping=MAPPING)
    assert invoice["currency"] == "USD" and invoice["exchange_rate"] == Decimal("1.08695652")
    indirect = sapmap.document_to_invoice({**doc, "DocRate": Decimal("1.0870")},
                                          mapping=MAPPING, direct_rate=False)
    assert indirect["exchange_rate"] == Decimal("1.0870")
    assert sapmap.document_to_invoice(INVOICE, mapping=MAPPING)["exchange_rate"] is None
    assert not sapmap.Lookups.build([], direct_rate=False).direct_rate
    codec("Invoice").dumps(invoice)


def test_two_withholding_codes_on_one_document_are_unmappable() -> None:
    # IRPF 15 % on the professional fee and 19 % on a rent line: every WTLiable line used to
    # get the first code, putting the rent's withholding under IRPF 15 %.
    doc = {**INVOICE, "WithholdingTaxDataCollection": [
        {"WTCode": "IR15", "WTAmount": Decimal("90.00")},
        {"WTCode": "IR19", "WTAmount": Decimal("19.00")}]}
    with pytest.raises(Unmappable, match="withholding codes IR15, IR19"):
        sapmap.document_to_invoice(doc, mapping=MAPPING)
    same = {**INVOICE, "WithholdingTaxDataCollection": INVOICE["WithholdingTaxDataCollection"] * 2}
    assert sapmap.document_to_invoice(same, mapping=MAPPING)["lines"][0]["withholding"] == "irpf_15"


def test_credit_note_and_unmapped_line_tax() -> None:
    note = sapmap.document_to_invoice({**INVOICE, "Series": 2}, mapping=MAPPING,
                                      credit_note=True)
    assert note["doc_type"] == "credit_note" and note["series"] == "R"
    lines = [{**INVOICE["DocumentLines"][0], "VatGroup": "X9"}]
    with pytest.raises(Unmappable, match="X9"):
        sapmap.document_to_invoice({**INVOICE, "DocumentLines": lines}, mapping=MAPPING)
    with pytest.raises(ValueError, match="DocumentLines"):
        sapmap.document_to_invoice({k: v for k, v in INVOICE.items() if k != "DocumentLines"},
                                   mapping=MAPPING)


def test_incoming_payment_must_pay_exactly_one_invoice() -> None:
    payment = {"DocEntry": 5, "CardCode": "C0003", "DocDate": "2026-11-06", "DocCurrency": "EUR",
               "TransferSum": Decimal("935"), "TransferReference": "TRF-1",
               "PaymentInvoices": [{"DocEntry": 3, "SumApplied": Decimal("935"),
                                    "InvoiceType": "it_Invoice"}]}
    canonical = sapmap.payment_to_canonical(payment, mapping=MAPPING)
    assert canonical["invoice_key"] == "invoice/sap_b1/3" and canonical["method"] == "transferencia"
    assert canonical["amount"] == Decimal("935.00") and canonical["reference"] == "TRF-1"
    codec("Payment").dumps(canonical)
    two = {**payment, "PaymentInvoices": payment["PaymentInvoices"] * 2}
    with pytest.raises(Unmappable, match="2 invoices"):
        sapmap.payment_to_canonical(two, mapping=MAPPING)


ON_ACCOUNT = {"DocEntry": 9, "DocType": "rCustomer", "CardCode": "C0003",
              "DocDate": "2026-11-06", "DocCurrency": "EUR", "TransferSum": Decimal("300"),
              "TransferReference": "ANTICIPO-12", "JournalRemarks": "Anticipo pedido 12",
              "PaymentInvoices": []}


def test_an_incoming_payment_applied_to_no_invoice_is_a_payment_on_account() -> None:
    canonical = sapmap.payment_to_canonical(ON_ACCOUNT, mapping=MAPPING)
    assert canonical == {
        "invoice_key": None, "contact_key": "contact/sap_b1/C0003",
        "date": dt.date(2026, 11, 6), "amount": Decimal("300.00"), "currency": "EUR",
        "method": "transferencia", "treasury": None, "reference": "ANTICIPO-12",
        "description": "Anticipo pedido 12"}
    codec("Payment").dumps(canonical)
    cash = {**ON_ACCOUNT, "TransferSum": 0, "CashSum": Decimal("40.5")}
    assert sapmap.payment_to_canonical(cash, mapping=MAPPING)["amount"] == Decimal("40.50")


@pytest.mark.parametrize("doc_type", ["rSupplier", "rAccount"])
def test_a_receipt_on_account_that_is_not_a_customers_is_no_payment(doc_type: str) -> None:
    assert sapmap.payment_to_canonical({**ON_ACCOUNT, "DocType": doc_type},
                                       mapping=MAPPING) is None


@pytest.mark.parametrize(("change", "reason"), [
    ({"DocType": None}, "is not a customer's receipt"),  # cannot tell: parked, not guessed
    ({"CardCode": None}, "names no customer"),
    ({"TransferSum": 0}, "needs the amount the customer paid"),  # a means not read
])
def test_a_payment_on_account_that_cannot_be_read_is_unmappable(change: dict, reason: str
                                                                 ) -> None:
    with pytest.raises(Unmappable, match=reason):
        sapmap.payment_to_canonical({**ON_ACCOUNT, **change}, mapping=MAPPING)


@pytest.mark.parametrize(("means", "amount"), [
    ({"TransferSum": Decimal("950")}, "950.00"),  # 15 left on account: the customer paid 950
    ({"CashSum": Decimal("900"), "PaymentChecks": [{"CheckSum": Decimal("40")}],
      "PaymentCreditCards": [{"CreditSum": Decimal("10")}]}, "950.00"),
    ({"TransferSum": Decimal("0")}, "935.00"),  # paid by a means not read (bill of exchange)
])
def test_a_payment_with_money_on_account_reads_back_as_what_was_received(
        means: dict, amount: str) -> None:
    payment = {"DocEntry": 5, "CardCode": "C0003", "DocDate": "2026-11-06",
               "DocCurrency": "EUR", **means,
               "PaymentInvoices": [{"DocEntry": 3, "SumApplied": Decimal("935"),
                                    "InvoiceType": "it_Invoice"}]}
    assert sapmap.payment_to_canonical(payment, mapping=MAPPING)["amount"] == Decimal(amount)


def test_payment_to_incoming_can_apply_less_than_it_receives() -> None:
    invoice = {"DocEntry": 1, "DocNum": 1001, "CardCode": "C0001", "DocCurrency": "EUR"}
    body = sapmap.payment_to_incoming(payment_payload(1, "750.00"), key="payment/holded/p1",
                                      mapping=MAPPING, invoice=invoice,
                                      transfer_account="57200000", applied=Decimal("711.59"))
    assert body["TransferSum"] == Decimal("750.00")
    assert body["PaymentInvoices"][0]["SumApplied"] == Decimal("711.59")


def test_contact_to_partner_terms_and_withholding() -> None:
    from tests.connectors.sap_b1.support import contact_payload

    body = sapmap.contact_to_partner(contact_payload(payment_due_days=60, withholding="irpf_15"),
                                     mapping=MAPPING, lookups=LOOKUPS)
    assert body["PayTermsGrpCode"] == 2 and body["WTCode"] == "IR15"
    assert body["SubjectToWithholdingTax"] == "tYES" and body["FederalTaxID"] == "B12345679"
    with pytest.raises(Unmappable, match="45 days"):
        sapmap.contact_to_partner(contact_payload(payment_due_days=45), mapping=MAPPING,
                                  lookups=LOOKUPS)


@pytest.mark.parametrize("changes, reason", [
    ({"phone": "+34 600 123 456 / 7890"}, "phone: '+34 600 123 456 / 7890' is longer than "
                                          "SAP's 20 characters"),
    ({"tax_id": "X" * 33}, "longer than SAP's 32 characters"),
    ({"name": "N" * 101}, "name: 'NNN"),
    ({"address": {"street": "C" * 101, "postal_code": "46001"}}, "address.street: "),
    ({"address": {"street": "Calle Mayor 1", "postal_code": "4" * 21}}, "address.postal_code: "),
])
def test_a_contact_longer_than_sap_takes_is_parked_with_the_reason(changes, reason) -> None:
    """SAP refuses a value longer than its OCRD column (the sandbox does too): parked first."""
    from tests.connectors.sap_b1.support import contact_payload

    with pytest.raises(Unmappable, match=re.escape(reason)):
        sapmap.contact_to_partner(contact_payload(**changes), mapping=MAPPING, lookups=LOOKUPS)


def test_payment_to_incoming_applies_to_the_invoice_and_carries_the_key() -> None:
    invoice = {"DocEntry": 1, "DocNum": 1001, "CardCode": "C0001", "DocCurrency": "EUR"}
    body = sapmap.payment_to_incoming(payment_payload(1, "100.00"), key="payment/holded/p1",
                                      mapping=MAPPING, invoice=invoice,
                                      transfer_account="57200000", reference_field="U_HSyncKey")
    assert body["U_HSyncKey"] == "payment/holded/p1" and "Remarks" not in body
    assert body["PaymentInvoices"] == [{"DocEntry": 1, "SumApplied": Decimal("100.00"),
                                        "InvoiceType": "it_Invoice"}]
    assert body["TransferSum"] == Decimal("100.00") and body["DocDate"] == "2026-11-20"
    with pytest.raises(Unmappable) as caught:
        sapmap.payment_to_incoming({**payment_payload(1, "-1", currency="USD"), "method": "efectivo"}, key="k",
                                   mapping=MAPPING, invoice=invoice, transfer_account=None)
    text = " ".join(caught.value.reasons)
    assert "USD" in text and "positive" in text and "transfer_account" in text
