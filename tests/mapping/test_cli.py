from __future__ import annotations

from click.testing import CliRunner

from app.mapping.cli import mappings
from tests.mapping.factories import EXAMPLE


def test_validate_ok() -> None:
    result = CliRunner().invoke(mappings, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0
    assert result.output == "OK: mapping v3, 18 taxes, 13 accounts\n"


def test_validate_prints_every_error_and_exits_1(tmp_path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('account: "4730"}', 'account: "473"}')  # 3 withholdings use it
    text = text.replace("s_iva_10:     {canonical: iva_10, rate: 10}",
                        "s_iva_10:     {canonical: iva_10, rate: 11}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(mappings, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == "4 error(s)"
    assert f"{bad}: withholdings.irpf_15.account: unknown account '473'" in result.output
    assert "systems.holded.taxes.s_iva_10.rate" in result.output


def test_validate_of_a_file_that_is_not_utf8_is_one_error_and_exit_1(tmp_path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(EXAMPLE.read_text(encoding="utf-8").encode("latin-1"))
    result = CliRunner().invoke(mappings, ["validate", str(bad)])
    assert result.exit_code == 1
    [issue, summary] = result.output.strip().splitlines()
    assert issue.startswith(f"{bad}: line ") and "not UTF-8 text (byte 0x" in issue
    assert summary == "1 error(s)"


def test_validate_refuses_a_series_holded_cannot_receive(tmp_path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '      "64a1f0c2e4b0a10000000f04": W\n', "")
    path = tmp_path / "no-w.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(mappings, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}: series.W: canonical series 'W' has no Holded series" in result.output


def test_validate_prints_warnings_and_still_exits_0(tmp_path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("      exento: exempt\n", "")
    path = tmp_path / "no-exempt.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(mappings, ["validate", str(path)])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"warning: {path}: systems.holded.tax_regimes: no Holded tax operation for exempt: a "
        "contact with one of these tax regimes parks until a mapping version maps it (expected "
        "an entry for each regime your contacts use, e.g. general: general)",
        "OK: mapping v3, 18 taxes, 13 accounts",
    ]


def test_validate_refuses_a_shopify_default_product_tax_not_in_its_taxes(tmp_path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert 'default_product_tax: "IVA 21%"' in text  # the example sets it: 21 % unless told
    path = tmp_path / "default.yaml"
    path.write_text(text.replace('default_product_tax: "IVA 21%"',
                                 'default_product_tax: "IVA 7%"'), encoding="utf-8")
    result = CliRunner().invoke(mappings, ["validate", str(path)])
    assert result.exit_code == 1
    assert (f"{path}: systems.shopify.default_product_tax: 'IVA 7%' is not a key of "
            "systems.shopify.taxes (expected one of 'IVA 21%', 'IVA 10%', 'IVA 4%')"
            in result.output)
