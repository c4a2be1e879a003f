"""The comparison of a mapping document with what a tenant holds (app/mapping/tenant.py):
pure, so every kind of problem is shown here on hand-built tenants, without a server."""

from __future__ import annotations

from decimal import Decimal

from app.mapping import parse_mapping
from app.mapping.tenant import Held, Problem, Tenant, compare, not_covered
from tests.mapping.factories import example_data, example_mapping

MAPPING = example_mapping()
HOLDED = MAPPING.systems["holded"]


def holded_tenant(**overrides: dict[str, Held]) -> Tenant:
    """A Holded tenant holding exactly what the example maps; ``overrides`` replace sections."""
    codes: dict[str, dict[str, Held]] = {}
    for section in ("taxes", "accounts", "account_numbers", "payment_methods", "treasuries",
                    "series", "sales_channels", "warehouses"):
        held = {}
        for entry in HOLDED.section(section).entries:
            if section == "series":
                held[str(entry.code)] = Held("x", doc_types=frozenset(
                    MAPPING.series[entry.canonical[0]].doc_types))
            else:
                held[str(entry.code)] = Held("x", rate=entry.rate)
        codes[section] = held
    codes.update(overrides)
    return Tenant("holded", "Holded", codes)


def test_a_tenant_holding_every_code_at_its_rate_has_no_problem() -> None:
    report = compare(MAPPING, holded_tenant())
    assert report.problems == ()
    assert report.summary() == (
        "holded: 18 taxes, 3 accounts, 4 account numbers, 4 payment methods, 2 treasuries, "
        "4 series, 3 sales channels, 1 warehouse checked, 0 problems")


def test_a_tax_key_the_tenant_lacks_names_the_path_and_the_near_keys() -> None:
    taxes = dict(holded_tenant().codes["taxes"])
    del taxes["s_rec_52"]
    taxes["s_rec_5_2"] = Held("Recargo 5,2%", Decimal("5.2"))
    taxes.update({f"s_extra_{i}": Held("", Decimal(i)) for i in range(30, 40)})  # a long list
    [problem] = compare(MAPPING, holded_tenant(taxes=taxes)).problems
    assert problem.path == "systems.holded.taxes.s_rec_52"
    assert problem.problem == "Holded has no tax 's_rec_52'"
    # Close spellings, then the keys at the rate the mapping expects, with names and rates.
    assert problem.holds.startswith("near: s_rec_5_2 (Recargo 5,2%, 5.2 %)")
    assert str(problem).startswith("systems.holded.taxes.s_rec_52: Holded has no tax 's_rec_52'; near: ")


def test_a_rate_that_differs_from_the_mapped_rate_is_a_problem_with_the_keys_at_that_rate() -> None:
    taxes = dict(holded_tenant().codes["taxes"])
    taxes["s_iva_10"] = Held("IVA 10%", Decimal("11"))
    taxes["s_iva_10b"] = Held("IVA 10% bis", Decimal("10"))
    [problem] = compare(MAPPING, holded_tenant(taxes=taxes)).problems
    assert problem == Problem("systems.holded.taxes.s_iva_10.rate", "rate 11 in Holded, 10 in the mapping",
                              "at 10 % Holded holds s_iva_10b (IVA 10% bis, 10 %)")


def test_a_rate_written_differently_but_equal_is_no_problem() -> None:
    taxes = dict(holded_tenant().codes["taxes"])
    taxes["s_rec_52"] = Held("", Decimal("5.20"))
    taxes["s_iva_21"] = Held("", Decimal("21.0"))
    assert compare(MAPPING, holded_tenant(taxes=taxes)).problems == ()


def test_a_tax_whose_rate_the_system_does_not_report_is_checked_by_key_only() -> None:
    taxes = {code: Held("x") for code in holded_tenant().codes["taxes"]}
    assert compare(MAPPING, holded_tenant(taxes=taxes)).problems == ()


def test_without_a_rate_of_its_own_an_entry_expects_the_canonical_rate_or_its_negative_withholding() -> None:
    data = example_data()
    data["systems"]["odoo"]["taxes"] = {13: "irpf_15", 1: "iva_21", 2: "iva_10"}
    mapping = parse_mapping(data, source="m.yaml")
    tenant = Tenant("odoo", "Odoo", {"taxes": {
        "13": Held("IRPF", Decimal("-15")), "1": Held("IVA", Decimal("21")),
        "2": Held("IVA", Decimal("-10"))}})  # a VAT stored negative is not a VAT at 10
    [problem] = compare(mapping, tenant).problems
    assert problem.path == "systems.odoo.taxes.2.rate"


def test_an_odoo_withholding_mapped_at_minus_15_must_be_minus_15_in_odoo() -> None:
    odoo = MAPPING.systems["odoo"]
    taxes = {str(e.code): Held("", e.rate) for e in odoo.taxes.entries}
    taxes["13"] = Held("Retención IRPF 15%", Decimal("15"))  # the sign the connector would refuse
    [problem] = compare(MAPPING, Tenant("odoo", "Odoo", {"taxes": taxes})).problems
    assert str(problem).startswith("systems.odoo.taxes.13.rate: rate 15 in Odoo, -15 in the mapping")


def test_an_id_the_tenant_lacks_in_a_short_list_shows_the_whole_list() -> None:
    methods = {"64a1f0c2e4b0a10000000d01": Held("Transferencia"),
               "64a1f0c2e4b0a10000000d02": Held("Domiciliación"),
               "64a1f0c2e4b0a10000000d04": Held("Efectivo")}
    [problem] = compare(MAPPING, holded_tenant(payment_methods=methods)).problems
    assert problem.path == "systems.holded.payment_methods.64a1f0c2e4b0a10000000d03"
    assert problem.problem == "Holded has no payment method '64a1f0c2e4b0a10000000d03'"
    assert problem.holds == ("Holded holds 64a1f0c2e4b0a10000000d01 (Transferencia), "
                             "64a1f0c2e4b0a10000000d02 (Domiciliación), "
                             "64a1f0c2e4b0a10000000d04 (Efectivo)")


def test_every_section_reports_its_missing_codes() -> None:
    empty = {s: {} for s in ("accounts", "account_numbers", "treasuries", "series",
                             "sales_channels", "warehouses")}
    report = compare(MAPPING, holded_tenant(**empty))
    paths = [p.path for p in report.problems]
    assert "systems.holded.accounts.64a1f0c2e4b0a1000000700a" in paths
    assert "systems.holded.account_numbers.62300000" in paths
    assert "systems.holded.treasuries.64a1f0c2e4b0a10000000b02" in paths
    assert "systems.holded.series.64a1f0c2e4b0a10000000f04" in paths
    assert "systems.holded.sales_channels.64a1f0c2e4b0a10000000c03" in paths
    assert "systems.holded.warehouses.64a1f0c2e4b0a10000000e01" in paths
    assert len(paths) == 3 + 4 + 2 + 4 + 3 + 1
    assert {p.holds for p in report.problems if ".warehouses." in p.path} == {"Holded holds no warehouses"}
    assert report.summary().endswith("checked, 17 problems")


def test_a_series_of_another_document_type_is_a_problem() -> None:
    series = dict(holded_tenant().codes["series"])
    series["64a1f0c2e4b0a10000000f02"] = Held("Rectificativas", doc_types=frozenset({"invoice"}))
    [problem] = compare(MAPPING, holded_tenant(series=series)).problems
    assert problem == Problem("systems.holded.series.64a1f0c2e4b0a10000000f02",
                              "it numbers invoice in Holded, but series 'R' numbers credit_note")


def test_a_section_not_read_is_reported_not_checked_never_passed() -> None:
    tenant = holded_tenant()
    codes = {k: v for k, v in tenant.codes.items() if k != "series"}
    report = compare(MAPPING, Tenant("holded", "Holded", codes,
                                     {"series": "no numbering series route in Holded API v2"}))
    assert report.problems == ()
    assert ("series", "no numbering series route in Holded API v2") in report.unchecked
    assert report.summary().endswith(
        "0 problems; not checked: series (no numbering series route in Holded API v2)")


def test_a_section_the_reader_skipped_without_a_reason_is_still_not_checked() -> None:
    codes = {k: v for k, v in holded_tenant().codes.items() if k != "warehouses"}
    report = compare(MAPPING, Tenant("holded", "Holded", codes))
    assert report.unchecked == (("warehouses", "not read"),)


def test_notes_end_the_summary() -> None:
    tenant = Tenant("business_central", "Business Central",
                    {"taxes": {str(e.code): Held() for e in MAPPING.systems["business_central"].taxes.entries}},
                    {"accounts": "not read yet"}, ("tax rates not compared",))
    summary = compare(MAPPING, tenant).summary()
    assert summary.startswith("business_central: 15 taxes checked, 0 problems; not checked: ")
    assert "accounts (not read yet)" in summary and summary.endswith("; tax rates not compared")


def test_a_system_nothing_reads_says_so_once() -> None:
    report = not_covered(MAPPING, "sap_b1", "no tenant check for sap_b1 yet")
    assert report.checked == () and report.problems == ()
    assert report.summary() == "sap_b1: not checked (no tenant check for sap_b1 yet)"


def test_a_system_without_a_section_is_not_checked() -> None:
    data = example_data()
    del data["systems"]["shopify"]
    mapping = parse_mapping(data, source="m.yaml")
    report = compare(mapping, Tenant("shopify", "Shopify", {}))
    assert report.summary() == "shopify: not checked (the mapping has no systems.shopify section)"


def shopify_tenant(used_taxes: dict[str, Held]) -> Tenant:
    """A Shopify tenant whose products carry ``used_taxes`` (Shopify lists no taxes)."""
    return Tenant("shopify", "Shopify", used={"taxes": used_taxes})


def test_a_tax_the_tenants_records_use_that_the_mapping_lacks_is_a_problem() -> None:
    report = compare(MAPPING, shopify_tenant({
        "IVA 10%": Held("1 product: Aceite"), "IVA 5%": Held("2 products: Pan, Leche")}))
    [problem] = report.problems
    assert problem.path == "systems.shopify.taxes"
    assert problem.problem == ("Shopify uses tax 'IVA 5%' (2 products: Pan, Leche), which "
                               "systems.shopify.taxes does not map: those records park")
    assert problem.holds == "the mapping maps IVA 10%, IVA 21%, IVA 4%"
    assert report.checked == (("taxes", 3),)


def test_codes_in_use_that_the_mapping_maps_are_no_problem_and_count_as_checked() -> None:
    report = compare(MAPPING, shopify_tenant({"IVA 21%": Held("4 products")}))
    assert report.problems == ()
    assert report.summary().startswith("shopify: 3 taxes checked, 0 problems; not checked: ")


def test_no_record_using_a_code_is_no_problem_but_the_section_is_checked() -> None:
    report = compare(MAPPING, shopify_tenant({}))
    assert report.problems == () and ("taxes", 3) in report.checked
