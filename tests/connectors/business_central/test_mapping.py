"""Business Central <-> canonical mapping, pure (no I/O)."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from app.avro import codec
from app.mapping import Unmappable
from connectors.business_central import mapping as bcmap
from tests.connectors.business_central.support import MAPPING, contact_payload, payment_payload

TERMS = {"t30": {"id": "t30", "code": "30D", "dueDateCalculation": "30D"},
         "t60": {"id": "t60", "code": "60D", "dueDateCalculation": "60D"},
         "tcm": {"id": "tcm", "code": "FINMES", "dueDateCalculation": "CM+30D"}}
METHODS = {"m1": {"id": "m1", "code": "TRANSF"}, "m9": {"id": "m9", "code": "PAGARE"}}
LOOKUPS = bcmap.Lookups(TERMS, METHODS)
CUSTOMER = {"id": "c1", "number": "C00001", "displayName": "Ferretería Martínez S.L.",
            "type": "Company", "addressLine1": "Calle Mayor 1", "addressLine2": "Local 2",
            "city": "Valencia", "state": "", "country": "es", "postalCode": "46001",
            "phoneNumber": "+34 960", "email": "a@b.es", "taxRegistrationNumber": "B12345678",
            "currencyCode": "", "paymentTermsId": "t30", "paymentMethodId": "m1"}


def invoice(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "i1", "number": "V-FAC00001", "invoiceDate": "2026-11-02", "dueDate": "2026-12-02",
        "customerId": "c1", "currencyCode": "", "pricesIncludeTax": False, "status": "Open",
        "totalAmountExcludingTax": Decimal("244.30"), "totalTaxAmount": Decimal("51.30"),
        "totalAmountIncludingTax": Decimal("295.60"), "remainingAmount": Decimal("195.60"),
        "salesInvoiceLines": [
            {"sequence": 20000, "lineType": "Item", "itemId": "it2", "lineObjectNumber": "ART-002",
             "description": "Tornillos", "quantity": 10, "unitPrice": Decimal("6.45"),
             "discountPercent": 0, "taxCode": "IVA21", "taxPercent": 21},
            {"sequence": 10000, "lineType": "Item", "itemId": "it1", "lineObjectNumber": "ART-001",
             "description": "Taladro", "quantity": 2, "unitPrice": Decimal("89.90"),
             "discountPercent": 0, "taxCode": "IVA21", "taxPercent": 21},
            {"sequence": 30000, "lineType": "Comment", "description": "Gracias"},
        ]}
    record.update(changes)
    return record


def test_customer_to_contact_maps_codes_terms_and_address() -> None:
    contact = bcmap.customer_to_contact(CUSTOMER, mapping=MAPPING, lookups=LOOKUPS)
    assert contact["payment_due_days"] == 30 and contact["payment_method"] == "transferencia"
    assert contact["currency"] == "EUR" and contact["tax_id"] == "B12345678"
    assert contact["address"] == {"street": "Calle Mayor 1, Local 2", "city": "Valencia",
                                  "postal_code": "46001", "province": None, "country_code": "ES"}
    codec("Contact").dumps(contact)


def test_unmapped_codes_are_all_reported_at_once() -> None:
    record = {**CUSTOMER, "paymentTermsId": "tcm", "paymentMethodId": "m9"}
    with pytest.raises(Unmappable) as caught:
        bcmap.customer_to_contact(record, mapping=MAPPING, lookups=LOOKUPS)
    assert len(caught.value.reasons) == 2
    assert "CM+30D" in caught.value.reasons[0] and "'PAGARE'" in caught.value.reasons[1]


def test_invoice_lines_in_sequence_without_comments_and_paid_amount() -> None:
    canonical = bcmap.invoice_to_canonical(invoice(), mapping=MAPPING)
    assert [line["sku"] for line in canonical["lines"]] == ["ART-001", "ART-002"]
    assert [line["line_no"] for line in canonical["lines"]] == [1, 2]
    assert canonical["lines"][0]["taxes"] == ["iva_21"]
    assert canonical["lines"][0]["product_key"] == "product/business_central/it1"
    assert canonical["customer_key"] == "contact/business_central/c1"
    assert canonical["issue_date"] == dt.date(2026, 11, 2)
    assert canonical["payment_status"] == "partial" and canonical["amount_paid"] == Decimal("100.00")
    assert canonical["totals"]["total"] == Decimal("295.60")
    codec("Invoice").dumps(canonical)


def test_five_decimal_quantities_and_discounts_fit_the_canonical_scales() -> None:
    # 10 EUR off a 30 EUR line is a Line Discount % of 33.33333 in BC (5 decimals), and BC
    # quantities have 5 decimals too: the canonical scales are 4, and an invoice that cannot
    # be encoded failed the whole poll run, every run.
    record = invoice(totalAmountExcludingTax=Decimal("199.80"),
                     totalTaxAmount=Decimal("41.96"), totalAmountIncludingTax=Decimal("241.76"))
    record["salesInvoiceLines"][0].update(  # type: ignore[index]
        quantity=Decimal("1.00005"), unitPrice=Decimal("30"), discountPercent=Decimal("33.33333"))
    canonical = bcmap.invoice_to_canonical(record, mapping=MAPPING)
    line = canonical["lines"][1]
    assert line["discount_pct"] == Decimal("33.3333") and line["quantity"] == Decimal("1.0001")
    codec("Invoice").dumps(canonical)


def test_draft_and_paid_status() -> None:
    draft = bcmap.invoice_to_canonical(invoice(status="Draft", remainingAmount=0), mapping=MAPPING)
    assert draft["status"] == "draft" and draft["payment_status"] == "unpaid"
    paid = bcmap.invoice_to_canonical(invoice(status="Paid", remainingAmount=0), mapping=MAPPING)
    assert paid["payment_status"] == "paid" and paid["amount_paid"] == Decimal("295.60")


def test_invoice_with_an_unknown_tax_code_is_unmappable() -> None:
    record = invoice()
    record["salesInvoiceLines"][0]["taxCode"] = "IVA7"  # type: ignore[index]
    with pytest.raises(Unmappable, match="'IVA7'"):
        bcmap.invoice_to_canonical(record, mapping=MAPPING)


def test_invoice_without_expanded_lines_is_refused() -> None:
    record = invoice()
    del record["salesInvoiceLines"]
    with pytest.raises(ValueError, match="expand"):
        bcmap.invoice_to_canonical(record, mapping=MAPPING)


def test_credit_memo_points_at_the_invoice_it_corrects() -> None:
    record = invoice(creditMemoDate="2026-11-05", invoiceId="i0", status="Corrective",
                     salesCreditMemoLines=invoice()["salesInvoiceLines"])
    memo = bcmap.invoice_to_canonical(record, mapping=MAPPING, credit_memo=True)
    assert memo["doc_type"] == "credit_note" and memo["corrects"] == "invoice/business_central/i0"


def test_item_price_including_tax_is_stored_without_it() -> None:
    item = {"number": "ART-9", "displayName": "X", "type": "Inventory", "unitPrice": Decimal("121"),
            "priceIncludesTax": True, "taxGroupCode": "IVA21", "unitCost": 50, "gtin": "",
            "blocked": False}
    product = bcmap.item_to_product(item, mapping=MAPPING)
    assert product["price"] == Decimal("100") and product["sales_taxes"] == ["iva_21"]
    assert product["barcode"] is None and product["active"] is True
    codec("Product").dumps(product)


# 1.210000605 with 21 % VAT is 1.0000005 net: a tie at the sixth place. Half up (the project's
# rule, app.mapping.decimals.net_of_tax) gives 1.000001; Python's default half-even 1.000000.
TIE_GROSS, TIE_NET = Decimal("1.210000605"), Decimal("1.000001")


def test_an_item_price_netted_on_a_tie_rounds_half_up() -> None:
    item = {"number": "ART-9", "displayName": "X", "type": "Inventory", "unitPrice": TIE_GROSS,
            "priceIncludesTax": True, "taxGroupCode": "IVA21", "blocked": False}
    assert bcmap.item_to_product(item, mapping=MAPPING)["price"] == TIE_NET


def test_an_invoice_line_netted_on_a_tie_rounds_half_up() -> None:
    line = {"sequence": 10000, "lineType": "Item", "itemId": "it1", "lineObjectNumber": "ART-001",
            "description": "Taladro", "quantity": 1, "unitPrice": TIE_GROSS,
            "discountPercent": 0, "taxCode": "IVA21", "taxPercent": 21}
    record = invoice(pricesIncludeTax=True, salesInvoiceLines=[line])
    [mapped] = bcmap.invoice_to_canonical(record, mapping=MAPPING)["lines"]
    assert mapped["unit_price"] == TIE_NET


def test_contact_to_customer_resolves_terms_and_methods_or_parks() -> None:
    body = bcmap.contact_to_customer(contact_payload(), mapping=MAPPING, lookups=LOOKUPS)
    assert body["paymentTermsId"] == "t60" and body["paymentMethodId"] == "m1"
    assert body["currencyCode"] == "" and body["type"] == "Company"
    with pytest.raises(Unmappable) as caught:
        bcmap.contact_to_customer(contact_payload(payment_due_days=45, payment_method="tarjeta"),
                                  mapping=MAPPING, lookups=LOOKUPS)
    assert len(caught.value.reasons) == 2


@pytest.mark.parametrize("changes, reason", [
    ({"phone": "600 123 ext 4"}, "phone: '600 123 ext 4': BC's Phone No. must not contain letters"),
    ({"phone": "6" * 31}, "longer than BC's 30 characters"),
    ({"name": "N" * 101}, "longer than BC's 100 characters"),
    ({"email": "ventas"}, "email: 'ventas' is no e-mail address BC takes"),
    ({"email": "a@b.es, c@d.es"}, "is no e-mail address BC takes"),
    ({"email": "x" * 75 + "@b.es.es"}, "longer than BC's 80 characters"),
])
def test_a_contact_bc_would_refuse_is_parked_with_the_reason(changes, reason) -> None:
    """BC's Customer table refuses these (the sandbox does too): parked before any call."""
    with pytest.raises(Unmappable, match=re.escape(reason)):
        bcmap.contact_to_customer(contact_payload(**changes), mapping=MAPPING, lookups=LOOKUPS)
    fine = contact_payload(phone="+34 600 123 456", email="a@b.es; c@d.es")
    assert bcmap.contact_to_customer(fine, mapping=MAPPING, lookups=LOOKUPS)["email"] == \
        "a@b.es; c@d.es"


def test_payment_line_carries_the_sync_code_and_checks_currency() -> None:
    key = "payment/holded/64a1f0c2e4b0a1000000aa01"
    refs = bcmap.PaymentRefs("i1", "V-FAC00001", "c1", "EUR")
    line = bcmap.payment_to_line(payment_payload("i1", "100.00"), key=key, mapping=MAPPING,
                                 refs=refs)
    assert line["documentNumber"] == bcmap.sync_code(key) and len(line["documentNumber"]) == 20
    assert line["description"] == key and line["amount"] == Decimal("100.00")
    assert line["appliesToInvoiceId"] == "i1" and line["postingDate"] == "2026-11-20"
    with pytest.raises(Unmappable, match="USD"):
        bcmap.payment_to_line(payment_payload("i1", "10", currency="USD"), key=key,
                              mapping=MAPPING, refs=refs)


def test_held_fields_are_canonical_field_names() -> None:
    import json
    from pathlib import Path
    schemas = Path(__file__).resolve().parents[3] / "schemas"
    for entity, record in (("contact", "Contact"), ("product", "Product"),
                           ("invoice", "Invoice"), ("payment", "Payment")):
        names = {f["name"] for f in json.loads((schemas / f"{record}.avsc").read_text())["fields"]}
        assert bcmap.HELD_FIELDS[entity] <= names


def test_an_item_inventory_total_is_counted_in_the_configured_warehouse_only() -> None:
    from app.mapping import parse_mapping
    from tests.mapping.factories import example_data

    item = {"number": "ART-9", "displayName": "X", "type": "Inventory", "unitPrice": 10,
            "inventory": 4.5, "taxGroupCode": "IVA21", "blocked": False}
    assert bcmap.item_to_product(item, mapping=MAPPING)["stock"] == []  # no stock_warehouse
    data = example_data()
    data["systems"]["business_central"]["stock_warehouse"] = "central"
    with_stock = parse_mapping(data)
    product = bcmap.item_to_product(item, mapping=with_stock)
    assert product["stock"] == [{"warehouse": "central", "quantity": Decimal("4.5")}]
    codec("Product").dumps(product)
    for kind in ("Service", "Non-Inventory"):  # BC keeps no stock of them
        assert bcmap.item_to_product({**item, "type": kind}, mapping=with_stock)["stock"] == []
