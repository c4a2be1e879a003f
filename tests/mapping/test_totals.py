from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.mapping import TotalsMismatch, Unmappable
from app.mapping.decimals import InexactNumber, round_money, to_decimal
from app.mapping.totals import AppliedTax, TaxedLine, check_totals, compute_totals, line_base

IVA10 = AppliedTax("iva_10", D("10"))
IVA21 = AppliedTax("iva_21", D("21"))
REC52 = AppliedTax("rec_5_2", D("5.2"))
IRPF15 = AppliedTax("irpf_15", D("15"), withholding=True)


def tl(no: int, qty: str, price: str, *taxes: AppliedTax, discount: str = "0") -> TaxedLine:
    return TaxedLine(no, D(qty), D(price), D(discount), taxes)


def test_line_base_applies_discount_and_rounds_half_up() -> None:
    assert line_base(D("3"), D("19.99"), D("10")) == D("53.97")  # 53.973
    assert line_base(D("1"), D("0.125"), D("0")) == D("0.13")   # half up, not banker's
    assert line_base(D("-1"), D("0.125"), D("0")) == D("-0.13")


def test_line_and_document_rounding_differ_by_one_cent() -> None:
    lines = [tl(1, "1", "1.05", IVA10), tl(2, "1", "1.05", IVA10)]
    per_line = compute_totals(lines, "line")
    per_doc = compute_totals(lines, "document")
    assert (per_line.subtotal, per_line.tax_total, per_line.total) == (D("2.10"), D("0.22"), D("2.32"))
    assert (per_doc.subtotal, per_doc.tax_total, per_doc.total) == (D("2.10"), D("0.21"), D("2.31"))


def test_line_exact_taxes_the_unrounded_line_amount() -> None:
    # 10.00 at 21 % netted to 8.264463: 8.26 + 1.74 taxed exactly, 8.26 + 1.73 taxed on 8.26.
    lines = [tl(1, "1", "8.264463", IVA21)]
    exact = compute_totals(lines, "line_exact")
    rounded = compute_totals(lines, "line")
    assert (exact.subtotal, exact.tax_total, exact.total) == (D("8.26"), D("1.74"), D("10.00"))
    assert (rounded.subtotal, rounded.tax_total, rounded.total) == (D("8.26"), D("1.73"), D("9.99"))
    assert exact.taxes[0].base == D("8.26")  # the breakdown shows the bases as printed


def test_line_exact_rounds_each_line_not_the_document() -> None:
    # Whole cents per line: line_exact is line rounding (0.22), not the document's 0.21.
    lines = [tl(1, "1", "1.05", IVA10), tl(2, "1", "1.05", IVA10)]
    assert compute_totals(lines, "line_exact").tax_total == D("0.22")
    # Two netted lines: each line's tax is rounded on its own, then summed.
    netted = [tl(1, "1", "8.264463", IVA21), tl(2, "3", "0.826446", IVA21, discount="10")]
    totals = compute_totals(netted, "line_exact")
    # line 2: 3 x 0.826446 x 0.9 = 2.2314042 -> base 2.23, tax 0.46859... -> 0.47
    assert (totals.subtotal, totals.tax_total) == (D("10.49"), D("2.21"))


def test_surcharge_and_withholding() -> None:
    lines = [tl(1, "2", "100", IVA21, REC52, IRPF15), tl(2, "1", "33.33", IVA21, REC52)]
    totals = compute_totals(lines, "line")
    assert totals.subtotal == D("233.33")
    # IVA 42.00 + 7.00; recargo 10.40 + 1.73; IRPF 30.00
    assert totals.tax_total == D("61.13")
    assert totals.withholding_total == D("30.00")
    assert totals.total == D("264.46")
    by_code = {t.code: t for t in totals.taxes}
    assert by_code["rec_5_2"].amount == D("12.13") and by_code["rec_5_2"].base == D("233.33")


def test_amounts_are_decimal_cents() -> None:
    totals = compute_totals([tl(1, "3", "0.333333", IVA21)], "document")
    for amount in totals.as_dict().values():
        assert isinstance(amount, D) and amount.as_tuple().exponent == -2


def test_check_totals_passes_and_reports_both_sides_and_difference() -> None:
    computed = compute_totals([tl(1, "1", "1.05", IVA10), tl(2, "1", "1.05", IVA10)], "document")
    check_totals({"subtotal": D("2.10"), "tax_total": D("0.21"), "withholding_total": D("0"),
                  "total": D("2.31")}, computed)
    with pytest.raises(TotalsMismatch) as caught:
        check_totals({"subtotal": D("2.10"), "tax_total": D("0.22"), "withholding_total": D("0"),
                      "total": D("2.32")}, computed, mapping_version=7)
    error = caught.value
    assert isinstance(error, Unmappable) and error.mapping_version == 7
    assert error.differences == {"tax_total": (D("0.22"), D("0.21")), "total": (D("2.32"), D("2.31"))}
    assert "tax_total: source 0.22 != mapped 0.21 (document rounding), difference -0.01" in error.reasons


def test_to_decimal() -> None:
    assert to_decimal(5.2, places=4) == D("5.2")
    assert to_decimal("0.5", places=4) == D("0.5")
    for bad in (0.1 + 0.2, float("nan"), "inf", True, None, "abc", "1.00001"):
        with pytest.raises(InexactNumber):
            to_decimal(bad, places=4)
    assert round_money(D("2.675")) == D("2.68")


def test_a_price_including_vat_is_netted_half_up_and_grosses_back_to_the_cent() -> None:
    from decimal import Decimal

    from app.mapping.decimals import gross_of_tax, net_of_tax

    assert net_of_tax(Decimal("121.00"), Decimal(21)) == Decimal("100.000000")
    assert net_of_tax(Decimal("19.90"), Decimal(21)) == Decimal("16.446281")  # 16.4462809...
    assert net_of_tax(Decimal("8.95"), Decimal(10)) == Decimal("8.136364")    # 8.1363636...
    assert net_of_tax(Decimal("0.000001"), Decimal(0)) == Decimal("0.000001")
    assert net_of_tax(Decimal("0.0000025"), Decimal(0)) == Decimal("0.000003")  # half up
    for cents in range(1, 100_001, 7):
        gross = Decimal(cents) / 100
        for rate in (Decimal(21), Decimal(10), Decimal(4), Decimal("5.2"), Decimal(0)):
            assert gross_of_tax(net_of_tax(gross, rate), rate) == gross, (gross, rate)
