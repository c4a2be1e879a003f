from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from app.mapping import TaxKind, TaxScope, TotalsMismatch, Unmappable
from app.mapping.resolve import Resolver
from connectors.holded.mapping import (
    DocumentRefs, PaymentRefs, epoch_seconds, map_contact, map_invoice, map_payment, map_product,
)
from tests.mapping.factories import example_mapping, invoice, line, small_mapping

REFS = DocumentRefs("contact-1", {"SKU-1": "prod-1"})


def test_epoch_seconds_is_noon_utc_of_the_day() -> None:
    assert epoch_seconds(dt.date(2026, 3, 2)) == 1772452800  # 2026-03-02T12:00:00Z


def test_invoice_payload() -> None:
    doc = invoice([line(sku="SKU-1", quantity="2", unit_price="50.00", account="700",
                        withholding="irpf_15")],
                  ("100.00", "21.00", "15.00", "106.00"), series="F",
                  payment_method="transferencia", notes="Gracias")
    request = map_invoice(doc, entity_key="invoice/odoo/9", mapping=small_mapping(), refs=REFS)
    assert (request.method, request.path, request.mapping_version) == ("POST", "/documents/invoice", 1)
    assert request.body == {
        "contactId": "contact-1", "date": 1772452800, "currency": "eur",
        "customFields": [{"field": "holded_sync_key", "value": "invoice/odoo/9"}],
        "numSerieId": "serieF", "paymentMethodId": "pm1", "notes": "Gracias",
        "items": [{"name": "Item", "desc": "", "units": D("2"), "subtotal": D("50.00"),
                   "discount": D("0"), "taxes": ["s_iva_21", "s_ret_15"], "sku": "SKU-1",
                   "accountingAccountId": "acc700"}],
    }
    assert request.totals is not None and request.totals.total == D("106.00")


def test_a_service_line_carries_service_id_and_no_sku() -> None:
    """Holded matches catalogue lines by sku (products) or serviceId (services) only."""
    doc = invoice([line(1, sku="SKU-1", unit_price="50.00"), line(2, sku="CONS-H", unit_price="50.00")],
                  ("100.00", "21.00", "0.00", "121.00"))
    refs = DocumentRefs("contact-1", {"SKU-1": "prod-1"}, {"CONS-H": "serv-1"})
    product_item, service_item = map_invoice(doc, entity_key="invoice/odoo/9",
                                             mapping=small_mapping(), refs=refs).body["items"]
    assert product_item["sku"] == "SKU-1" and "serviceId" not in product_item
    assert service_item["serviceId"] == "serv-1" and "sku" not in service_item
    assert (service_item["subtotal"], service_item["taxes"]) == (D("50.00"), ["s_iva_21"])


def test_every_unmappable_reason_is_collected() -> None:
    doc = invoice(
        [line(1, taxes=("iva_21",), account="705"),
         line(2, taxes=("iva_general", "irpf_15")),
         line(3, sku="NOPE"),
         line(4, withholding="iva_general"),
         line(5, taxes=())],
        ("400.00", "84.00", "0.00", "484.00"),
        series="R", payment_method="cheque", currency="GBP")
    with pytest.raises(Unmappable) as caught:
        map_invoice(doc, entity_key="k", mapping=small_mapping(), refs=DocumentRefs(None))
    error = caught.value
    assert not isinstance(error, TotalsMismatch)
    assert error.mapping_version == 1
    assert error.reasons == [
        "customer: contact 'contact/odoo/7' has no Holded id yet",
        "currency: currency 'GBP' is not in mapping v1 (currencies: EUR, USD)",
        "series: canonical series 'R' is not in mapping v1",
        "payment_method: canonical payment method 'cheque' is not in mapping v1",
        "line 1: canonical tax 'iva_21' is not in mapping v1",
        "line 1: canonical account '705' has no Holded account in mapping v1",
        "line 2: canonical tax 'irpf_15' is a sales withholding tax, expected a sales vat or "
        "equivalence_surcharge",
        "line 3: product sku 'NOPE' has no Holded product or service yet",
        "line 4: canonical tax 'iva_general' is a sales vat tax, expected a sales withholding",
        "line 5: has 0 VAT taxes (none), expected exactly one (use the exempt / 0 % tax for "
        "lines without VAT)",
    ]


def test_a_canonical_tax_without_a_key_in_the_target_system_is_unmappable() -> None:
    # Holded keys are guaranteed by validation; other systems may map only what they sell.
    resolver = Resolver(example_mapping(), "prestashop")
    assert resolver.tax("iva_21", "line 1", kinds=(TaxKind.VAT,), scope=TaxScope.SALES) == (
        example_mapping().taxes["iva_21"], 1)
    assert resolver.tax("rec_5_2", "line 2", kinds=(TaxKind.EQUIVALENCE_SURCHARGE,),
                        scope=TaxScope.SALES) is None
    with pytest.raises(Unmappable) as caught:
        resolver.raise_if_any()
    assert caught.value.reasons == [
        "line 2: canonical tax 'rec_5_2' has no PrestaShop key in mapping v3"]


def test_series_for_another_doc_type_is_unmappable() -> None:
    doc = invoice([line()], ("100.00", "21.00", "0.00", "121.00"), doc_type="credit_note",
                  series="F")
    with pytest.raises(Unmappable, match="series 'F' is for invoice, not credit_note"):
        map_invoice(doc, entity_key="k", mapping=small_mapping(), refs=REFS)


def test_totals_mismatch_is_raised_after_mapping() -> None:
    doc = invoice([line()], ("100.00", "21.01", "0.00", "121.01"))
    with pytest.raises(TotalsMismatch) as caught:
        map_invoice(doc, entity_key="k", mapping=small_mapping(), refs=REFS)
    assert caught.value.differences["total"] == (D("121.01"), D("121.00"))


def test_rounding_setting_of_the_target_system_decides() -> None:
    doc = invoice([line(1, unit_price="0.50"), line(2, unit_price="0.50")],
                  ("1.00", "0.22", "0.00", "1.22"))  # 2 x 0.105 -> 0.22; 1.00 x 21 % -> 0.21
    by_line = map_invoice(doc, entity_key="k", mapping=small_mapping(rounding="line"), refs=REFS)
    assert by_line.totals is not None and by_line.totals.tax_total == D("0.22")
    with pytest.raises(TotalsMismatch, match="tax_total: source 0.22 != mapped 0.21"):
        map_invoice(doc, entity_key="k", mapping=small_mapping(rounding="document"), refs=REFS)


def test_new_mapping_version_with_a_new_rate_changes_the_next_payload() -> None:
    v1 = small_mapping(version=1, rate=21, holded_key="s_iva_21")
    v2 = small_mapping(version=2, rate=22, holded_key="s_iva_22")
    lines = [line(unit_price="100.00")]
    old = map_invoice(invoice(lines, ("100.00", "21.00", "0.00", "121.00")),
                      entity_key="k", mapping=v1, refs=REFS)
    new = map_invoice(invoice(lines, ("100.00", "22.00", "0.00", "122.00")),
                      entity_key="k", mapping=v2, refs=REFS)
    assert old.body["items"][0]["taxes"] == ["s_iva_21"] and old.mapping_version == 1
    assert new.body["items"][0]["taxes"] == ["s_iva_22"] and new.mapping_version == 2
    assert new.totals is not None and new.totals.total == D("122.00")
    with pytest.raises(TotalsMismatch):  # a document computed at the old rate no longer fits
        map_invoice(invoice(lines, ("100.00", "21.00", "0.00", "121.00")),
                    entity_key="k", mapping=v2, refs=REFS)


def contact(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "customer", "name": "Ferretería Pérez S.L.", "trade_name": None,
        "tax_id": "B12345678", "is_person": False, "email": "admin@ferreteria.example",
        "phone": None, "mobile": None, "iban": "ES9121000418450200051332", "swift": "CAIXESBBXXX",
        "address": {"street": "C/ Mayor 1", "city": "Valencia", "postal_code": "46001",
                    "province": "Valencia", "country_code": "ES"},
        "tax_regime": "equivalence_surcharge", "payment_method": "transferencia",
        "payment_due_days": 30, "price_list": None, "currency": "EUR", "language": "es",
        "sales_account": None, "purchases_account": None,
        "default_taxes": ["iva_21", "rec_5_2"], "withholding": None, "tags": [],
    }
    base.update(fields)
    return base


def test_contact_payload() -> None:
    request = map_contact(contact(), entity_key="contact/odoo/7", mapping=example_mapping())
    assert request.path == "/contacts"
    assert request.body == {
        "CustomId": "contact/odoo/7", "name": "Ferretería Pérez S.L.", "code": "B12345678",
        "email": "admin@ferreteria.example", "iban": "ES9121000418450200051332",
        "swift": "CAIXESBBXXX", "type": "client", "isperson": False,
        "billAddress": {"address": "C/ Mayor 1", "city": "Valencia", "postalCode": "46001",
                        "province": "Valencia", "country": "ES"},
        "taxOperation": "receq",
        "defaults": {"currency": "eur", "language": "es", "dueDays": 30,
                     "paymentMethod": "64a1f0c2e4b0a10000000d01", "salesTax": "s_iva_21",
                     "salesTaxes": ["s_iva_21", "s_rec_52"]},
    }


@pytest.mark.parametrize(("erp", "holded"), [
    ("ESB12345678", "B12345678"),        # Odoo stores Spanish NIFs with the VAT prefix
    ("es b-1234567.8", "B12345678"),
    (" 12345678z ", "12345678Z"),
    ("ES X1234567L", "X1234567L"),       # NIE
    ("fr 12 345678901", "FR12345678901"),  # a foreign VAT id keeps its prefix
    ("ES1234", "ES1234"),                 # not a Spanish NIF after the prefix: left as it is
])
def test_contact_tax_id_is_written_as_holded_holds_a_nif(erp: str, holded: str) -> None:
    request = map_contact(contact(tax_id=erp), entity_key="k", mapping=example_mapping())
    assert request.body["code"] == holded


def test_contact_iban_is_written_in_electronic_form() -> None:
    request = map_contact(contact(iban="es91 2100 0418 4502 0005 1332"), entity_key="k",
                          mapping=example_mapping())
    assert request.body["iban"] == "ES9121000418450200051332"


def test_contact_language_holded_does_not_have_is_left_to_holded() -> None:
    """Odoo's gl_ES reaches the canonical contact as gl: Holded documents es/en/fr/de/it/ca/eu
    only, so the contact goes without a language (Holded's es) instead of being refused."""
    request = map_contact(contact(language="gl"), entity_key="k", mapping=example_mapping())
    assert "language" not in request.body["defaults"]
    from connectors.holded.inbound import as_held
    assert as_held("contact", contact(language="gl"), example_mapping())["language"] == "es"


def test_contact_with_unmapped_codes() -> None:
    with pytest.raises(Unmappable) as caught:
        map_contact(contact(payment_method="bizum", default_taxes=["iva_99"], currency="JPY"),
                    entity_key="k", mapping=example_mapping())
    assert len(caught.value.reasons) == 3


@pytest.mark.parametrize("name", ["", "   "])
def test_a_contact_without_a_name_is_parked_before_holded_refuses_it(name: str) -> None:
    with pytest.raises(Unmappable, match="name: Holded needs a contact name"):
        map_contact(contact(name=name), entity_key="k", mapping=example_mapping())


def test_contact_accounts_are_sent_as_holded_account_numbers() -> None:
    request = map_contact(contact(sales_account="705", purchases_account="600"),
                          entity_key="k", mapping=example_mapping())
    defaults = request.body["defaults"]
    # Holded documents both as integers: the number from account_numbers, never the
    # accountingAccountId the ``accounts`` map holds for document lines.
    assert defaults["salesAccountRecord"] == 70500000
    assert defaults["expensesAccountRecord"] == 60000000
    assert type(defaults["salesAccountRecord"]) is int


def test_a_contact_account_without_a_holded_number_parks_with_what_to_add() -> None:
    # 708 has a Holded id for document lines but no Holded account number.
    with pytest.raises(Unmappable) as caught:
        map_contact(contact(sales_account="708", purchases_account="999"),
                    entity_key="k", mapping=example_mapping())
    assert caught.value.reasons == [
        "sales_account: canonical account '708' has no Holded account number in mapping v3 "
        "(expected an entry under systems.holded.account_numbers, e.g. "
        "<Holded account number>: '708')",
        "purchases_account: canonical account '999' is not in mapping v3 (expected an account "
        "of the document's accounts)",
    ]


def test_a_contact_price_list_is_not_sent_to_holded() -> None:
    # Holded's contact create/update documents no price-list field (docs/holded.md, 7).
    plain = map_contact(contact(), entity_key="k", mapping=example_mapping())
    priced = map_contact(contact(price_list="Mayoristas"), entity_key="k",
                         mapping=example_mapping())
    assert priced.body == plain.body


def test_product_payload_and_unmappable_tax() -> None:
    product = {"kind": "product", "sku": "SKU-1", "name": "Silla", "description": "Roble",
               "price": D("49.900000"), "cost": D("20.000000"), "currency": "EUR",
               "sales_taxes": ["iva_10"], "purchase_taxes": [], "sales_account": None,
               "purchases_account": None, "barcode": "8400000000001", "stock": [],
               "active": True}
    request = map_product(product, mapping=example_mapping())
    assert request.body == {"kind": "simple", "name": "Silla", "desc": "Roble", "sku": "SKU-1",
                            "price": D("49.900000"), "tax": 10, "taxes": ["s_iva_10"],
                            "cost": D("20.000000"), "barcode": "8400000000001"}
    with pytest.raises(Unmappable, match="canonical tax 'iva_7' is not in mapping v3"):
        map_product({**product, "sales_taxes": ["iva_7"]}, mapping=example_mapping())


def test_a_product_withholding_stays_on_the_document_lines() -> None:
    """Odoo lists IRPF among a service's taxes; a Holded product only carries its VAT."""
    service = {"kind": "service", "sku": "CONS-H", "name": "Consultoría", "description": None,
               "price": D("60.000000"), "cost": None, "currency": "EUR",
               "sales_taxes": ["iva_21", "irpf_15"], "purchase_taxes": [], "sales_account": None,
               "purchases_account": None, "barcode": None, "stock": [], "active": True}
    request = map_product(service, mapping=example_mapping())
    assert request.body["tax"] == 21 and request.body["taxes"] == ["s_iva_21"]


def test_payment_payload_uses_the_method_treasury() -> None:
    payment = {"invoice_key": "invoice/odoo/9", "contact_key": None, "date": dt.date(2026, 3, 5),
               "amount": D("121.00"), "currency": "EUR", "method": "efectivo", "treasury": None,
               "reference": "TPV-1", "description": None}
    request = map_payment(payment, mapping=example_mapping(), refs=PaymentRefs("doc-1"))
    assert request.path == "/documents/invoice/doc-1/pay"
    assert request.body == {"date": 1772712000, "amount": D("121.00"),
                            "treasury": "64a1f0c2e4b0a10000000b02", "desc": "TPV-1"}
    with pytest.raises(Unmappable, match="canonical treasury 'hucha' is not in mapping v3"):
        map_payment({**payment, "treasury": "hucha"}, mapping=example_mapping(),
                    refs=PaymentRefs("doc-1"))
