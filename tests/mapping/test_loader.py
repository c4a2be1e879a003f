from __future__ import annotations

from decimal import Decimal

import pytest

from app.mapping import (
    MappingInvalid, TaxKind, load_mapping, load_mapping_text, parse_mapping, read_mapping_text,
)
from tests.mapping.factories import EXAMPLE, example_data, small_data


def issues_of(data: object, source: str = "m.yaml") -> list[str]:
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(data, source=source)
    return [str(issue) for issue in caught.value.issues]


def paths_of(data: object) -> set[str]:
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(data, source="m.yaml")
    return {issue.path for issue in caught.value.issues}


def test_example_loads_with_exact_rates() -> None:
    mapping = load_mapping(EXAMPLE)
    assert mapping.version == 3
    assert mapping.taxes["rec_5_2"].rate == Decimal("5.2")
    assert str(mapping.taxes["rec_0_5"].rate) == "0.5"  # from YAML text, never via float
    assert mapping.taxes["irpf_15"].kind is TaxKind.WITHHOLDING  # from the withholdings section
    assert set(mapping.withholdings) == {"irpf_15", "irpf_7", "irpf_19", "irpf_15_compras"}
    holded = mapping.systems["holded"]
    assert holded.taxes.to_system("rec_5_2") == "s_rec_52"
    assert holded.taxes.to_canonical("s_iva_invsuj") == "iva_isp"
    assert mapping.systems["odoo"].taxes.to_system("irpf_15") == 13
    assert mapping.systems["business_central"].rounding == "document"
    assert holded.tax_regimes.to_system("reverse_charge") == "nosujeto"
    assert holded.tax_regimes.to_canonical("nosujeto") == "not_subject"
    assert mapping.systems["shopify"].payment_methods.to_system("tarjeta") == "shopify_payments"
    assert mapping.systems["shopify"].default_product_tax == "IVA 21%"


def test_small_document_is_valid() -> None:
    assert parse_mapping(small_data()).version == 1


def test_unknown_account_is_reported_with_file_path_and_expectation() -> None:
    data = small_data()
    data["taxes"]["iva_general"]["account"] = "477"
    [message] = issues_of(data, source="customer.yaml")
    assert message == ("customer.yaml: taxes.iva_general.account: unknown account '477' "
                       "(expected an account defined in the document)")


def test_treasury_and_channel_accounts_are_checked() -> None:
    data = small_data()
    data["treasuries"]["banco"]["account"] = "999"
    data["sales_channels"] = {"web": {"name": "Web", "account": "701"}}
    assert paths_of(data) == {"treasuries.banco.account", "sales_channels.web.account"}


def test_duplicate_yaml_key_is_reported_with_its_line() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  iva_0:", "  iva_4:      {name: IVA 4% again, rate: 4, kind: vat, scope: sales}\n  iva_0:")
    with pytest.raises(MappingInvalid) as caught:
        load_mapping_text(text, source="dup.yaml")
    [issue] = caught.value.issues
    assert issue.path == "taxes.iva_4"
    assert "duplicate code 'iva_4'" in issue.problem and "line" in issue.problem


def test_duplicate_code_across_taxes_and_withholdings() -> None:
    data = small_data()
    data["withholdings"] = {"irpf_15": {"rate": 15, "scope": "sales"}}
    assert paths_of(data) == {"withholdings.irpf_15"}


def test_duplicate_account_written_as_int_and_string() -> None:
    data = small_data()
    data["accounts"] = {**data["accounts"], 700: "Ventas otra vez"}
    assert "accounts.700" in paths_of(data)


def test_system_tax_rate_differing_from_canonical_rate() -> None:
    data = small_data()
    data["systems"]["holded"]["taxes"]["s_iva_21"]["rate"] = 10
    [message] = issues_of(data)
    assert "systems.holded.taxes.s_iva_21.rate" in message
    assert "rate 10 differs from canonical tax 'iva_general' at 21" in message


def test_negative_withholding_rate_in_a_system_matches_positive_canonical() -> None:
    data = small_data()
    data["systems"]["odoo"] = {"taxes": {13: {"canonical": "irpf_15", "rate": -15}}}
    assert parse_mapping(data).systems["odoo"].taxes.to_system("irpf_15") == 13


def test_canonical_tax_without_holded_key() -> None:
    data = small_data()
    data["taxes"]["iva_10"] = {"rate": 10, "kind": "vat", "scope": "sales"}
    [message] = issues_of(data)
    assert message.startswith("m.yaml: taxes.iva_10: canonical tax 'iva_10' has no Holded key")


def test_holded_section_is_required() -> None:
    data = small_data()
    data["systems"] = {"odoo": {"taxes": {1: "iva_general"}}}
    assert "systems.holded" in paths_of(data)


def test_unknown_canonical_codes_referenced_by_a_system_map() -> None:
    data = small_data()
    holded = data["systems"]["holded"]
    holded["taxes"]["s_iva_10"] = "iva_10"
    holded["accounts"]["acc999"] = "999"
    holded["series"]["serieX"] = "X"
    holded["payment_methods"]["pm9"] = "cheque"
    holded["tax_regimes"] = {"intra": "intracomunitario"}
    data["systems"]["odoo"] = {"currencies": {"1": "JPY"}}
    assert paths_of(data) == {
        "systems.holded.taxes.s_iva_10", "systems.holded.accounts.acc999",
        "systems.holded.series.serieX", "systems.holded.payment_methods.pm9",
        "systems.holded.tax_regimes.intra", "systems.odoo.currencies.1",
    }


def test_wrong_types_are_all_reported() -> None:
    data = small_data()
    data["version"] = "3"
    data["taxes"]["iva_general"]["kind"] = "iva"
    data["taxes"]["irpf_15"]["rate"] = [15]
    data["systems"]["holded"]["rounding"] = "cent"
    data["systems"]["odoo"] = {"taxes": {"one": "iva_general"}}
    data["series"]["F"]["doc_types"] = ["factura"]
    data["currencies"] = ["EUR", "usd"]
    assert {"version", "taxes.iva_general.kind", "taxes.irpf_15.rate",
            "systems.holded.rounding", "systems.odoo.taxes.one", "series.F.doc_types[0]",
            "currencies[1]"} <= paths_of(data)


def test_rounding_takes_line_exact_and_names_the_three_values() -> None:
    data = small_data()
    data["systems"]["holded"]["rounding"] = "line_exact"
    assert parse_mapping(data).systems["holded"].rounding == "line_exact"
    data["systems"]["holded"]["rounding"] = "exact"
    assert any("line, line_exact or document" in issue for issue in issues_of(data))


def test_unknown_keys_and_systems() -> None:
    data = small_data()
    data["taxes"]["iva_general"]["ratio"] = 21
    data["systems"]["xero"] = {}
    data["systems"]["holded"]["withholding"] = {}
    data["colour"] = "blue"
    assert paths_of(data) == {"taxes.iva_general.ratio", "systems.xero",
                              "systems.holded.withholding", "colour"}


@pytest.mark.parametrize("rate", [0.1 + 0.2, float("nan"), float("inf"), "21,0", True,
                                  Decimal("5.20000000000000001")])
def test_inexact_or_non_finite_rates_are_rejected(rate: object) -> None:
    data = small_data(rate=rate)
    assert "taxes.iva_general.rate" in paths_of(data)


@pytest.mark.parametrize("rate, expected", [(5.2, "5.2"), ("5.2", "5.2"), (21, "21"),
                                            (0.5, "0.5"), (Decimal("1.4"), "1.4")])
def test_exact_numbers_are_accepted_as_decimal(rate: object, expected: str) -> None:
    mapping = parse_mapping(small_data(rate=rate))
    assert str(mapping.taxes["iva_general"].rate) == expected


def test_yaml_nan_and_long_floats_are_rejected() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("rate: 5.2, kind", "rate: .nan, kind", 1)
    text = text.replace("rate: 1.4, kind", "rate: 1.40000000000000001, kind", 1)
    with pytest.raises(MappingInvalid) as caught:
        load_mapping_text(text)
    paths = {issue.path for issue in caught.value.issues}
    assert {"taxes.rec_5_2.rate", "taxes.rec_1_4.rate"} <= paths


def test_all_errors_are_collected_not_just_the_first() -> None:
    data = example_data()
    data["taxes"]["iva_21"]["account"] = "477"
    data["systems"]["holded"]["taxes"]["s_iva_10"]["rate"] = 12
    del data["systems"]["holded"]["taxes"]["s_iva_4"]
    data["systems"]["odoo"]["taxes"][99] = "iva_99"
    assert paths_of(data) == {"taxes.iva_21.account", "systems.holded.taxes.s_iva_10.rate",
                              "taxes.iva_4", "systems.odoo.taxes.99"}


def test_ambiguous_outbound_code_must_be_marked() -> None:
    data = small_data()
    data["systems"]["holded"]["accounts"]["acc700b"] = "700"
    assert paths_of(data) == {"systems.holded.accounts"}
    data["systems"]["holded"]["accounts"]["acc700b"] = {"canonical": "700", "outbound": True}
    assert parse_mapping(data).systems["holded"].accounts.to_system("700") == "acc700b"


def test_holded_key_scope_and_withholding_convention() -> None:
    data = small_data()
    data["systems"]["holded"]["taxes"] = {
        "p_iva_21": {"canonical": "iva_general", "rate": 21},
        "s_iva_15": {"canonical": "irpf_15", "rate": 15},
    }
    assert paths_of(data) == {"systems.holded.taxes.p_iva_21", "systems.holded.taxes.s_iva_15"}


def test_shopify_taxes_need_title_and_rate() -> None:
    data = small_data()
    data["systems"]["shopify"] = {"taxes": {"IVA": "iva_general"}}
    assert paths_of(data) == {"systems.shopify.taxes.IVA"}


def test_invalid_yaml_and_missing_file_are_issues(tmp_path) -> None:
    with pytest.raises(MappingInvalid) as caught:
        load_mapping_text("version: [1\n", source="broken.yaml")
    assert caught.value.issues[0].file == "broken.yaml"
    assert caught.value.issues[0].path.startswith("line ")
    with pytest.raises(MappingInvalid):
        load_mapping(tmp_path / "absent.yaml")


def test_root_must_be_a_mapping() -> None:
    assert paths_of(["version", 1]) == {""}


def test_a_latin1_file_is_one_issue_naming_the_first_byte_that_is_not_utf8(tmp_path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(EXAMPLE.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(MappingInvalid) as caught:
        load_mapping(path)
    [issue] = caught.value.issues
    data = path.read_bytes()
    offset = next(i for i, byte in enumerate(data) if byte >= 0x80)
    line = data.count(b"\n", 0, offset) + 1
    column = offset - data.rfind(b"\n", 0, offset)
    assert (issue.file, issue.path) == (str(path), f"line {line}, column {column}")
    assert issue.problem == (f"not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset}); "
                             "save the file as UTF-8")


def test_a_bad_byte_is_placed_by_characters_after_a_bom_and_earlier_utf8(tmp_path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: Caf\xc3\xa9 Ca\xe9\n")
    with pytest.raises(MappingInvalid) as caught:
        load_mapping(path)
    assert caught.value.issues[0].path == "line 1, column 14"  # what an editor shows
    assert "(byte 0xe9 at offset 17)" in caught.value.issues[0].problem


def test_a_utf8_bom_is_accepted_and_dropped(tmp_path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_mapping(path).version == 3
    assert read_mapping_text(path) == EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.parametrize("field, value", [("rate", "veintiuno"), ("scope", "venta"),
                                          ("rate", Decimal("21.00001")), ("rate", float("inf"))])
def test_a_tax_with_one_bad_field_is_reported_once(field: str, value: object) -> None:
    """The tax is left out of the model, but references to it are not 'unknown' errors."""
    data = small_data()
    data["taxes"]["iva_general"][field] = value
    data["systems"]["odoo"] = {"taxes": {1: "iva_general"}}
    assert paths_of(data) == {f"taxes.iva_general.{field}"}


def test_references_to_an_invalid_treasury_or_account_are_not_reported_again() -> None:
    data = small_data()
    del data["treasuries"]["banco"]["name"]
    data["accounts"]["4770"] = {"name": ""}
    assert paths_of(data) == {"treasuries.banco.name", "accounts.4770.name"}


@pytest.mark.parametrize("rate", [0, 100, Decimal("5.2")])
@pytest.mark.parametrize("tax", ["iva_general", "irpf_15"])
def test_rates_from_0_to_100_are_accepted(tax: str, rate: object) -> None:
    data = small_data()
    data["taxes"][tax]["rate"] = rate
    for entry in data["systems"]["holded"]["taxes"].values():
        if entry["canonical"] == tax:
            entry["rate"] = rate
    assert parse_mapping(data).taxes[tax].rate == Decimal(str(rate))


@pytest.mark.parametrize("rate, shown", [(121, "121"), ("1e30", "1E+30"),
                                         (Decimal("100.0001"), "100.0001"),
                                         ("1e400", "1E+400")])
@pytest.mark.parametrize("tax", ["iva_general", "irpf_15"])
def test_rates_above_100_are_rejected_and_shown_short(tax: str, rate: object,
                                                       shown: str) -> None:
    """A percentage above 100 is a typo (121 for 21), never a rate the law sets."""
    data = small_data()
    data["taxes"][tax]["rate"] = rate
    [message] = issues_of(data)
    assert message == (f"m.yaml: taxes.{tax}.rate: rate {shown} is above 100 "
                       "(expected a percentage between 0 and 100, e.g. 21 for 21 %)")


def test_recargo_rate_above_100_is_rejected_in_yaml() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("rate: 5.2, kind", "rate: 520, kind", 1)
    with pytest.raises(MappingInvalid) as caught:
        load_mapping_text(text)
    assert [i.path for i in caught.value.issues] == ["taxes.rec_5_2.rate"]



@pytest.mark.parametrize("value, shown", [("21.00", "21"), ("5.2", "5.2"), ("-15", "-15"),
                                          ("1e400", "1E+400"), ("1E+12", "1E+12"),
                                          ("999999999999", "999999999999")])
def test_numbers_in_messages_are_plain_unless_absurdly_large(value: str, shown: str) -> None:
    from app.mapping.decimals import show_number

    assert show_number(Decimal(value)) == shown


def test_series_treasuries_and_payment_methods_must_reach_holded() -> None:
    """Holded is the hub: a series it cannot receive would park every invoice of it."""
    data = small_data()
    for section in ("series", "treasuries", "payment_methods"):
        del data["systems"]["holded"][section]
    assert issues_of(data) == [
        "m.yaml: series.F: canonical series 'F' has no Holded series (expected an entry "
        "under systems.holded.series such as '<Holded series id>': F)",
        "m.yaml: treasuries.banco: canonical treasury 'banco' has no Holded treasury (expected "
        "an entry under systems.holded.treasuries such as '<Holded treasury id>': banco)",
        "m.yaml: payment_methods.transferencia: canonical payment method 'transferencia' has "
        "no Holded payment method (expected an entry under systems.holded.payment_methods "
        "such as '<Holded payment method id>': transferencia)",
    ]


def test_other_systems_need_not_map_every_series() -> None:
    data = small_data()
    data["series"]["W"] = {"name": "Web", "doc_types": ["invoice"]}
    data["systems"]["holded"]["series"]["serieW"] = "W"
    data["systems"]["odoo"] = {"series": {"INV": "F"}}
    assert parse_mapping(data).systems["odoo"].series.to_system("W") is None


def test_a_bad_holded_entry_does_not_also_leave_its_code_unreached() -> None:
    data = small_data()
    data["systems"]["holded"]["series"] = {123: "F"}
    data["systems"]["holded"]["taxes"]["s_iva_21"]["outbound"] = "yes"
    assert paths_of(data) == {"systems.holded.series.123",
                              "systems.holded.taxes.s_iva_21.outbound"}


def test_contact_tax_regimes_without_holded_operation_are_a_warning() -> None:
    """The seven regimes are Contact.tax_regime's, not the document's: many go unused."""
    data = small_data()
    data["systems"]["holded"]["tax_regimes"] = {"general": "general", "intra": "intra_eu"}
    [warning] = parse_mapping(data, source="m.yaml").warnings
    assert warning.path == "systems.holded.tax_regimes"
    assert warning.problem.startswith(
        "no Holded tax operation for export, reverse_charge, equivalence_surcharge, exempt, "
        "not_subject: a contact with one of these tax regimes parks")
    assert load_mapping(EXAMPLE).warnings == ()


def shopify_with_default(default: object) -> dict:
    """The small document with a Shopify section whose default product VAT is ``default``."""
    data = small_data()
    data["systems"]["shopify"] = {
        "taxes": {"IVA 21%": {"canonical": "iva_general", "title": "IVA", "rate": 21},
                  "IRPF": {"canonical": "irpf_15", "title": "IRPF", "rate": 15}},
        "default_product_tax": default}
    return data


def test_shopify_default_product_tax_is_a_key_of_its_taxes() -> None:
    shopify = parse_mapping(shopify_with_default("IVA 21%")).systems["shopify"]
    assert shopify.default_product_tax == "IVA 21%"
    assert shopify.taxes.to_canonical(shopify.default_product_tax) == "iva_general"
    data = shopify_with_default("IVA 21%")
    del data["systems"]["shopify"]["default_product_tax"]  # optional
    assert parse_mapping(data).systems["shopify"].default_product_tax is None


def test_shopify_default_product_tax_must_name_a_key_of_its_taxes() -> None:
    [issue] = issues_of(shopify_with_default("iva_general"))
    assert issue == ("m.yaml: systems.shopify.default_product_tax: 'iva_general' is not a key "
                     "of systems.shopify.taxes (expected one of 'IVA 21%', 'IRPF')")
    assert paths_of(shopify_with_default(["IVA 21%"])) == {
        "systems.shopify.default_product_tax"}


def test_shopify_default_product_tax_must_map_to_a_sales_vat() -> None:
    [issue] = issues_of(shopify_with_default("IRPF"))
    assert issue.startswith("m.yaml: systems.shopify.default_product_tax: 'IRPF' maps to "
                            "canonical 'irpf_15', a sales withholding tax, not a sales VAT")


def test_a_default_product_tax_naming_a_bad_entry_is_not_reported_again() -> None:
    data = shopify_with_default("IVA 21%")
    del data["systems"]["shopify"]["taxes"]["IVA 21%"]["title"]
    assert paths_of(data) == {"systems.shopify.taxes.IVA 21%"}


def test_default_product_tax_is_refused_outside_the_shopify_section() -> None:
    data = small_data()
    data["systems"]["holded"]["default_product_tax"] = "s_iva_21"
    [issue] = issues_of(data)
    assert issue == ("m.yaml: systems.holded.default_product_tax: 'default_product_tax' is a "
                     "setting of the shopify section only (expected default_product_tax under "
                     "systems.shopify)")


def test_holded_account_numbers_map_numbers_to_canonical_accounts() -> None:
    data = small_data()
    data["systems"]["holded"]["account_numbers"] = {70500000: "705", 70000000: "700"}
    holded = parse_mapping(data, source="m.yaml").systems["holded"]
    assert holded.account_numbers.to_system("705") == 70500000
    assert holded.account_numbers.to_canonical(70000000) == "700"
    assert holded.accounts.to_system("705") is None  # ids and numbers stay apart


def test_holded_account_numbers_are_integers_of_known_accounts() -> None:
    data = small_data()
    data["systems"]["holded"]["account_numbers"] = {"7050000x": "705", 70800000: "708"}
    assert issues_of(data) == [
        "m.yaml: systems.holded.account_numbers.7050000x: got str '7050000x' (expected an integer)",
        "m.yaml: systems.holded.account_numbers.70800000: unknown canonical account '708' "
        "(expected a code defined in the document's accounts)",
    ]


def test_account_numbers_are_refused_outside_the_holded_section() -> None:
    data = small_data()
    data["systems"]["odoo"] = {"account_numbers": {700000: "700"}}
    [issue] = issues_of(data)
    assert issue == ("m.yaml: systems.odoo.account_numbers: 'account_numbers' is a setting of "
                     "the holded section only (expected account_numbers under systems.holded)")
