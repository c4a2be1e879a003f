"""Shopify <-> canonical mapping: tax lines by title and rate, gateways, refunds, B2B."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.avro import codec
from app.mapping import Unmappable
from connectors.shopify import mapping as shmap
from connectors.shopify.sandbox_seed import customer, line, money, order, transaction
from tests.connectors.shopify.support import MAPPING, mapping_with

CUSTOMER = "gid://shopify/Customer/11"


def paid_order(**changes: object) -> dict:
    record = order("#1001", CUSTOMER, "PAID",
                   [line(21, "AOVE-500", "Aceite 500 ml", 2, "8.95", 0.1, "1.63",
                         "gid://shopify/ProductVariant/31")],
                   "17.90", "1.63", "shopify_payments",
                   [transaction(41, "SALE", "shopify_payments", "17.90", "2026-11-20T10:15:00Z")])
    record.update(id="gid://shopify/Order/51", createdAt="2026-11-20T10:00:00Z",
                  updatedAt="2026-11-20T10:16:00Z")
    record.update(changes)
    return record


def test_a_paid_order_becomes_an_invoice_with_net_prices_and_mapped_taxes() -> None:
    invoice = shmap.order_to_invoice(paid_order(), mapping=MAPPING)
    codec("Invoice").dumps(invoice)
    assert invoice["doc_type"] == "invoice" and invoice["number"] == "#1001"
    assert invoice["customer_key"] == "contact/shopify/11"
    [first] = invoice["lines"]
    assert first["taxes"] == ["iva_10"] and first["sku"] == "AOVE-500"
    assert first["unit_price"] == Decimal("8.136364")  # 8.95 / 1.10: prices include VAT
    assert first["product_key"] == "product/shopify/31"
    assert invoice["totals"]["total"] == Decimal("17.90")
    assert invoice["totals"]["subtotal"] == Decimal("16.27")
    assert invoice["payment_method"] == "tarjeta"
    assert invoice["payment_status"] == "paid" and invoice["amount_paid"] == Decimal("17.90")


def test_sales_receipts_are_configurable() -> None:
    receipt = shmap.order_to_invoice(paid_order(), mapping=MAPPING, doc_type="sales_receipt")
    assert receipt["doc_type"] == "sales_receipt"
    with pytest.raises(ValueError):
        shmap.order_to_invoice(paid_order(), mapping=MAPPING, doc_type="quote")


def test_tax_lines_match_on_title_and_rate_and_every_reason_is_reported() -> None:
    record = paid_order(paymentGatewayNames=["bizum_gateway"])
    record["lineItems"]["nodes"][0]["taxLines"] = [
        {"title": "VAT", "rate": 0.21, "priceSet": money("1.00")},
        {"title": "IVA", "rate": 0.05, "priceSet": money("1.00")}]
    with pytest.raises(Unmappable) as caught:
        shmap.order_to_invoice(record, mapping=MAPPING)
    text = " ".join(caught.value.reasons)
    assert "'VAT' at 21%" in text and "'IVA' at 5%" in text and "'bizum_gateway'" in text
    assert len(caught.value.reasons) == 3


def test_a_guest_order_cannot_be_invoiced() -> None:
    with pytest.raises(Unmappable, match="guest order"):
        shmap.order_to_invoice(paid_order(customer=None), mapping=MAPPING)


def test_a_refund_becomes_a_credit_note_correcting_the_invoice() -> None:
    record = paid_order()
    refund = {"id": "gid://shopify/Refund/61", "createdAt": "2026-11-22T09:00:00Z",
              "note": "Roto", "totalRefundedSet": money("8.95"),
              "refundLineItems": {"nodes": [{"quantity": 1,
                                             "lineItem": {"id": "gid://shopify/LineItem/21"},
                                             "subtotalSet": money("8.14"),
                                             "totalTaxSet": money("0.81")}]}}
    credit = shmap.refund_to_credit_note(record, refund, mapping=MAPPING)
    codec("Invoice").dumps(credit)
    assert credit["doc_type"] == "credit_note" and credit["corrects"] == "invoice/shopify/51"
    assert credit["lines"][0]["taxes"] == ["iva_10"]
    assert credit["lines"][0]["unit_price"] == Decimal("8.14")
    assert credit["totals"]["total"] == Decimal("8.95")
    refund["refundLineItems"]["nodes"] = []
    with pytest.raises(Unmappable, match="amount-only refund"):
        shmap.refund_to_credit_note(record, refund, mapping=MAPPING)


def test_a_refund_of_more_than_its_lines_is_parked_not_written_short() -> None:
    # 8.95 of goods plus 4.95 of shipping refunded: a credit note of the goods line alone
    # (8.95) would say the customer got back less than they did.
    record = paid_order()
    refund = {"id": "gid://shopify/Refund/62", "createdAt": "2026-11-22T09:00:00Z",
              "note": None, "totalRefundedSet": money("13.90"),
              "refundLineItems": {"nodes": [{"quantity": 1,
                                             "lineItem": {"id": "gid://shopify/LineItem/21"},
                                             "subtotalSet": money("8.14"),
                                             "totalTaxSet": money("0.81")}]}}
    with pytest.raises(Unmappable, match="13.90 was refunded but the refunded lines come to 8.95"):
        shmap.refund_to_credit_note(record, refund, mapping=MAPPING)
    refund["totalRefundedSet"] = money("8.95")
    assert shmap.refund_to_credit_note(record, refund, mapping=MAPPING)["totals"]["total"] == \
        Decimal("8.95")


def test_documents_are_dated_by_the_shop_calendar_day_not_utc() -> None:
    # 23:30 UTC on 31 December is 00:30 on 1 January in Madrid: the sale, its refund and its
    # payment belong to January (and to the next year's VAT return), not to December.
    late = "2026-12-31T23:30:00Z"
    record = paid_order(processedAt=late)
    record["transactions"][0]["processedAt"] = late
    assert shmap.order_to_invoice(record, mapping=MAPPING)["issue_date"] == dt.date(2027, 1, 1)
    payment = shmap.transaction_to_payment(record, record["transactions"][0], mapping=MAPPING)
    assert payment["date"] == dt.date(2027, 1, 1)
    refund = {"id": "gid://shopify/Refund/61", "createdAt": late, "note": None,
              "totalRefundedSet": money("8.95"),
              "refundLineItems": {"nodes": [{"quantity": 1,
                                             "lineItem": {"id": "gid://shopify/LineItem/21"},
                                             "subtotalSet": money("8.14"),
                                             "totalTaxSet": money("0.81")}]}}
    credit = shmap.refund_to_credit_note(record, refund, mapping=MAPPING)
    assert credit["issue_date"] == dt.date(2027, 1, 1)
    # A shop elsewhere names its zone (ShopifySource zone=, SHOPIFY_SHOP_TIMEZONE).
    canary = shmap.order_to_invoice(record, mapping=MAPPING, zone=ZoneInfo("Atlantic/Canary"))
    assert canary["issue_date"] == dt.date(2026, 12, 31)


def test_a_transaction_becomes_a_payment_through_the_gateway_map() -> None:
    record = paid_order()
    payment = shmap.transaction_to_payment(record, record["transactions"][0], mapping=MAPPING)
    codec("Payment").dumps(payment)
    assert payment["invoice_key"] == "invoice/shopify/51"
    assert payment["method"] == "tarjeta" and payment["amount"] == Decimal("17.90")
    assert payment["reference"] == "41"
    with pytest.raises(Unmappable, match="'cash_on_delivery'"):
        shmap.transaction_to_payment(record, {**record["transactions"][0],
                                              "gateway": "cash_on_delivery"}, mapping=MAPPING)


def test_a_b2b_customer_takes_the_company_name_and_tax_registration() -> None:
    company = {"id": "gid://shopify/Company/1", "name": "Distribuciones Levante S.L.",
               "locations": {"nodes": [{"id": "gid://shopify/CompanyLocation/2",
                                        "taxSettings": {"taxRegistrationId": "ESB46123456"}}]}}
    node = {"id": CUSTOMER, **customer("Marta", "Ruiz", "m@levante.es", None, None,
                                       tax_id="ignored", company=company)}
    contact = shmap.customer_to_contact(node, mapping=MAPPING)
    codec("Contact").dumps(contact)
    assert contact["name"] == "Distribuciones Levante S.L."
    assert contact["tax_id"] == "ESB46123456" and contact["is_person"] is False
    person = shmap.customer_to_contact({"id": CUSTOMER, **customer(
        "Lucía", "Fernández", "l@x.es", None, None, tax_id="12345678Z")}, mapping=MAPPING)
    assert person["tax_id"] == "12345678Z" and person["is_person"] is True


def test_variants_are_products_by_sku() -> None:
    product = {"id": "gid://shopify/Product/1", "title": "Camiseta", "status": "ACTIVE",
               "productType": "Ropa"}
    variant = {"id": "gid://shopify/ProductVariant/2", "sku": "CAM-001-M", "title": "M",
               "price": "19.90", "barcode": None, "inventoryItem": {"unitCost": {"amount": "6"}}}
    found = shmap.variant_to_product(product, variant, mapping=MAPPING)
    codec("Product").dumps(found)
    assert (found["sku"], found["name"], found["price"], found["cost"]) == (
        "CAM-001-M", "Camiseta - M", Decimal("19.90"), Decimal("6"))
    with pytest.raises(Unmappable, match="no SKU"):
        shmap.variant_to_product(product, {**variant, "sku": ""}, mapping=MAPPING)


def test_outbound_customer_input_round_trips_the_held_fields() -> None:
    contact = {"name": "Lucía Fernández Gómez", "email": "l@x.es", "phone": "+34600",
               "tax_id": "12345678Z"}
    data = shmap.contact_to_customer_input(contact, CUSTOMER)
    assert (data["firstName"], data["lastName"]) == ("Lucía", "Fernández Gómez")
    node = {"id": CUSTOMER, "firstName": data["firstName"], "lastName": data["lastName"],
            "email": data["email"], "phone": data["phone"],
            "metafield": {"value": data["metafields"][0]["value"]}}
    back = shmap.customer_to_contact(node, mapping=MAPPING)
    assert {k: back[k] for k in shmap.HELD_FIELDS["contact"]} == contact


def test_invoice_tags_fit_shopify() -> None:
    assert shmap.invoice_tag("F2026-0042") == "holded:F2026-0042"
    for bad in ("", "x" * 40, "A,B"):
        with pytest.raises(ValueError):
            shmap.invoice_tag(bad)


def _recomputed(invoice: dict) -> tuple[Decimal, Decimal]:
    from app.mapping.totals import AppliedTax, TaxedLine, compute_totals
    lines = [TaxedLine(line["line_no"], line["quantity"], line["unit_price"],
                       line["discount_pct"],
                       tuple(AppliedTax(c, MAPPING.taxes[c].rate) for c in line["taxes"]))
             for line in invoice["lines"]]
    totals = compute_totals(lines, "line")
    return totals.tax_total, totals.total


async def test_seeded_orders_with_shipping_add_up_as_holded_would_compute_them() -> None:
    from connectors.shopify.sandbox_seed import seed
    from connectors.shopify.sandbox_store import SandboxStore
    store = await SandboxStore.open()
    try:
        seeded = await seed(store)
    finally:
        await store.close()
    for name in ("order_paid", "order_refunded", "order_b2b"):
        invoice = shmap.order_to_invoice(seeded[name], mapping=MAPPING)
        assert _recomputed(invoice) == (invoice["totals"]["tax_total"],
                                        invoice["totals"]["total"]), name
    shipping = shmap.order_to_invoice(seeded["order_b2b"], mapping=MAPPING)["lines"][-1]
    assert shipping["description"] == "Envío: Envío estándar"
    assert shipping["taxes"] == ["iva_21"] and shipping["unit_price"] == Decimal("4.090909")


def test_an_order_line_netted_on_a_tie_rounds_half_up() -> None:
    # 1.210000605 with 21 % VAT is 1.0000005 net, a tie at the sixth place (a price in cents
    # never ties at the Spanish rates; the longer price pins the rule). Half up, as
    # app.mapping.decimals.net_of_tax rounds: 1.000001, where half-even gave 1.000000.
    record = paid_order(lineItems={"nodes": [
        line(21, "AOVE-500", "Aceite 500 ml", 1, "1.210000605", 0.21, "0.21",
             "gid://shopify/ProductVariant/31")]})
    [mapped] = shmap.order_to_invoice(record, mapping=MAPPING)["lines"]
    assert (mapped["unit_price"], mapped["taxes"]) == (Decimal("1.000001"), ["iva_21"])


SHIRT = {"id": "gid://shopify/Product/1", "title": "Camiseta", "status": "ACTIVE",
         "productType": "Ropa", "metafield": {"value": "IVA 21%"}}
SHIRT_M = {"id": "gid://shopify/ProductVariant/2", "sku": "CAM-001-M", "title": "M",
           "price": "121.00", "barcode": None, "taxable": True,
           "inventoryItem": {"unitCost": None}}


def test_a_price_including_vat_becomes_the_net_price_of_the_mapped_vat() -> None:
    found = shmap.variant_to_product(SHIRT, SHIRT_M, mapping=MAPPING, taxes_included=True)
    codec("Product").dumps(found)
    assert (found["price"], found["sales_taxes"]) == (Decimal("100.000000"), ["iva_21"])
    oil = shmap.variant_to_product({**SHIRT, "metafield": {"value": "IVA 10%"}},
                                   {**SHIRT_M, "price": "8.95"}, mapping=MAPPING,
                                   taxes_included=True)
    assert (oil["price"], oil["sales_taxes"]) == (Decimal("8.136364"), ["iva_10"])


def test_a_price_without_vat_is_kept_and_still_carries_its_vat_code() -> None:
    found = shmap.variant_to_product(SHIRT, SHIRT_M, mapping=MAPPING, taxes_included=False)
    assert (found["price"], found["sales_taxes"]) == (Decimal("121.00"), ["iva_21"])


def test_a_variant_that_is_not_taxable_is_not_netted() -> None:
    found = shmap.variant_to_product(SHIRT, {**SHIRT_M, "taxable": False}, mapping=MAPPING,
                                     taxes_included=True)
    assert (found["price"], found["sales_taxes"]) == (Decimal("121.00"), [])


def test_a_price_including_vat_of_no_known_rate_is_parked_not_written_gross() -> None:
    with pytest.raises(Unmappable, match="include VAT.*holded_sync.tax") as parked:
        shmap.variant_to_product({**SHIRT, "metafield": None}, SHIRT_M,
                                 mapping=mapping_with(default_product_tax=None),
                                 taxes_included=True)
    assert "CAM-001-M" in str(parked.value)
    assert "default_product_tax" in str(parked.value)  # both ways out are named
    with pytest.raises(Unmappable, match="'IVA 7%' is not in the shopify section"):
        shmap.variant_to_product({**SHIRT, "metafield": {"value": "IVA 7%"}}, SHIRT_M,
                                 mapping=MAPPING, taxes_included=True)


def test_an_unmapped_vat_metafield_parks_even_when_prices_exclude_vat() -> None:
    with pytest.raises(Unmappable, match="'IVA 7%' is not in the shopify section"):
        shmap.variant_to_product({**SHIRT, "metafield": {"value": "IVA 7%"}}, SHIRT_M,
                                 mapping=MAPPING, taxes_included=False)


def test_a_product_without_its_metafield_takes_the_mappings_default_vat() -> None:
    mapping = mapping_with(default_product_tax="IVA 21%")
    found = shmap.variant_to_product({**SHIRT, "metafield": None}, SHIRT_M, mapping=mapping,
                                     taxes_included=True)
    assert (found["price"], found["sales_taxes"]) == (Decimal("100.000000"), ["iva_21"])
    # the default is the product's VAT whatever the shop's setting: a net price is kept
    found = shmap.variant_to_product({**SHIRT, "metafield": {"value": "  "}}, SHIRT_M,
                                     mapping=mapping, taxes_included=False)
    assert (found["price"], found["sales_taxes"]) == (Decimal("121.00"), ["iva_21"])
    untaxed = shmap.variant_to_product({**SHIRT, "metafield": None},
                                       {**SHIRT_M, "taxable": False}, mapping=mapping,
                                       taxes_included=True)
    assert (untaxed["price"], untaxed["sales_taxes"]) == (Decimal("121.00"), [])


def test_a_products_own_metafield_wins_over_the_default_even_when_it_is_wrong() -> None:
    mapping = mapping_with(default_product_tax="IVA 21%")
    oil = shmap.variant_to_product({**SHIRT, "metafield": {"value": "IVA 10%"}},
                                   {**SHIRT_M, "price": "8.95"}, mapping=mapping,
                                   taxes_included=True)
    assert (oil["price"], oil["sales_taxes"]) == (Decimal("8.136364"), ["iva_10"])
    # never replaced by 21 %
    with pytest.raises(Unmappable, match="'IVA 7%' is not in the shopify section"):
        shmap.variant_to_product({**SHIRT, "metafield": {"value": "IVA 7%"}}, SHIRT_M,
                                 mapping=mapping, taxes_included=True)
