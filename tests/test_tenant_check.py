"""`holded-sync mappings check FILE` against the real sandboxes, started in process: the example
mapping passes against the seeded ones, a wrong key, rate or id is one line with its path, and
a system that cannot be read is exit 2 with the reason."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from app.cli import cli
from app.devrun.sandboxes import start_erp_sandbox, worker_env
from connectors.holded.sandbox import SandboxServer, start_sandbox
from tests.mapping.factories import EXAMPLE


@pytest.fixture
async def holded() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(port=0, rate_limit=None)
    try:
        yield server
    finally:
        await server.stop()


def holded_env(server: SandboxServer, key: str = "sandbox-key") -> dict[str, str]:
    return {"HOLDED_API_URL": server.url, "HOLDED_API_KEY": key, "HOLDED_SYNC_SYSTEMS": "holded"}


async def check(*args: str, env: dict[str, str]) -> Result:
    """The command in a thread: it runs its own event loop, the sandboxes serve from this one."""
    return await asyncio.to_thread(CliRunner().invoke, cli, ["mappings", "check", *args], env=env)


def edited(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_the_example_mapping_passes_against_the_seeded_holded_sandbox(holded) -> None:
    result = await check(str(EXAMPLE), env=holded_env(holded))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "holded: 18 taxes, 3 accounts, 4 account numbers, 4 payment methods, 2 treasuries, "
        "4 series, 3 sales channels, 1 warehouse checked, 0 problems"]
    # Progress, one line per list read, on stderr; and only reads.
    assert "reading holded taxes..." in result.stderr.splitlines()
    assert {r.method for r in holded.requests} == {"GET"}


async def test_a_wrong_key_rate_and_id_are_one_line_each_and_exit_1(holded, tmp_path) -> None:
    path = edited(tmp_path,
                  ("s_rec_14:     {canonical: rec_1_4, rate: 1.4}", "s_rec_1_4:    {canonical: rec_1_4, rate: 1.4}"),
                  ('"64a1f0c2e4b0a10000000f02": R', '"64a1f0c2e4b0a10000000f03": R\n      "64a1f0c2e4b0a10000000f0a": T'),
                  ('      "64a1f0c2e4b0a10000000f03": T\n', ""),
                  ("70500000: \"705\"", "70500001: \"705\""))
    result = await check(str(path), env=holded_env(holded))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("systems.holded.taxes.s_rec_1_4: Holded has no tax 's_rec_1_4'; near: s_rec_14 ")
    assert "s_rec_14 (Recargo de equivalencia 1,4%, 1.4 %)" in lines[0]
    assert lines[1].startswith("systems.holded.account_numbers.70500001: Holded has no account number "
                               "'70500001'; near: 70500000 (Prestaciones de servicios)")
    assert lines[2] == ("systems.holded.series.64a1f0c2e4b0a10000000f03: it numbers sales_receipt in "
                        "Holded, but series 'R' numbers credit_note")
    assert lines[3].startswith("systems.holded.series.64a1f0c2e4b0a10000000f0a: Holded has no series "
                               "'64a1f0c2e4b0a10000000f0a'; Holded holds 64a1f0c2e4b0a10000000f01 (Facturas), ")
    assert lines[-1].endswith("4 series, 3 sales channels, 1 warehouse checked, 4 problems")


async def test_tax_keys_swapped_are_two_rate_problems_naming_the_right_keys(holded, tmp_path) -> None:
    path = edited(tmp_path,
                  ("s_rec_52:     {canonical: rec_5_2, rate: 5.2}", "s_rec_14:     {canonical: rec_5_2, rate: 5.2}"),
                  ("s_rec_14:     {canonical: rec_1_4, rate: 1.4}", "s_rec_52:     {canonical: rec_1_4, rate: 1.4}"))
    result = await check(str(path), env=holded_env(holded))
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[:2] == [
        "systems.holded.taxes.s_rec_14.rate: rate 1.4 in Holded, 5.2 in the mapping; "
        "at 5.2 % Holded holds s_rec_52 (Recargo de equivalencia 5,2%, 5.2 %)",
        "systems.holded.taxes.s_rec_52.rate: rate 5.2 in Holded, 1.4 in the mapping; "
        "at 1.4 % Holded holds s_rec_14 (Recargo de equivalencia 1,4%, 1.4 %)"]


async def test_a_bad_api_key_is_exit_2_naming_the_credentials(holded) -> None:
    result = await check(str(EXAMPLE), env=holded_env(holded, key="wrong-key"))
    assert result.exit_code == 2, result.output
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith("error: holded: cannot be reached: ")
    assert error.endswith("(check its credentials and URL)")
    assert "wrong-key" not in result.stderr
    assert result.stdout == ""


async def test_a_system_without_its_credential_is_exit_2(holded) -> None:
    env = {**holded_env(holded), "HOLDED_SYNC_SYSTEMS": "holded,odoo"}
    result = await check(str(EXAMPLE), env=env)
    assert result.exit_code == 2, result.output
    assert "error: odoo: cannot be reached: ODOO_API_KEY is not set" in result.stderr
    assert result.stdout.startswith("holded: 18 taxes")  # the others are still checked


async def check_sandbox(system: str, *args: str, path: Path = EXAMPLE,
                        prepare: Callable[[Any], Awaitable[None]] | None = None
                        ) -> tuple[Result, Any]:
    """``mappings check PATH --system SYSTEM`` against that system's seeded sandbox."""
    sandbox, _ = await start_erp_sandbox(system)
    try:
        if prepare is not None:
            await prepare(sandbox)
        env = dict(pair.split("=", 1) for pair in worker_env(system, sandbox).split())
        return await check(str(path), "--system", system, *args, env=env), sandbox
    finally:
        await sandbox.stop()


# The example against each seeded sandbox: every code it maps is there (BC: see below).
EXAMPLE_SUMMARIES = {
    "odoo": "odoo: 18 taxes, 5 accounts, 2 treasuries, 4 series, 1 warehouse checked, 0 problems; "
            "not checked: payment methods (the Odoo connector reads and writes none, so nothing "
            "to check them against); sales channels (the Odoo connector reads and writes none, "
            "so nothing to check them against)",
    "sap_b1": "sap_b1: 15 taxes, 4 accounts, 2 series, 1 warehouse checked, 0 problems; not "
              "checked: payment methods (the SAP B1 connector's payment method codes are its "
              "own names, TRANSF for an incoming payment's TransferSum, not an SAP list)",
    "prestashop": "prestashop: 3 taxes, 2 payment methods checked, 0 problems; not checked: "
                  "series (the key is the connector's invoice_prefix setting, PrestaShop's "
                  "PS_INVOICE_PREFIX per language, which this check does not read); sales "
                  "channels (the PrestaShop connector reads and writes none, so nothing to check "
                  "them against)",
    "shopify": "shopify: 3 taxes checked, 0 problems; not checked: payment methods (the Shopify "
               "Admin API lists no payment gateways; a gateway the map lacks parks its order "
               "when read); sales channels (the Shopify connector reads and writes none, so "
               "nothing to check them against); taxes checked against the holded_sync.tax "
               "values products carry, Shopify lists no tax rates"}


@pytest.mark.parametrize("system", sorted(EXAMPLE_SUMMARIES))
async def test_the_example_passes_against_each_seeded_sandbox(system: str) -> None:
    result, _ = await check_sandbox(system)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [EXAMPLE_SUMMARIES[system]]


# Where the API has them: the calls that are not GETs (SAP's session and its series action).
@pytest.mark.parametrize(("system", "not_gets"), [
    ("sap_b1", {"Login", "SeriesService_GetDocumentSeries", "Logout"}), ("prestashop", set())])
async def test_the_check_only_reads(system: str, not_gets: set[str]) -> None:
    _, sandbox = await check_sandbox(system)
    assert {r.path.rsplit("/", 1)[1] for r in sandbox.requests if r.method != "GET"} == not_gets


async def test_business_central_lacks_only_the_irpf_tax_groups_of_the_example() -> None:
    result, _ = await check_sandbox("business_central")
    assert result.exit_code == 1, result.output
    paths = [line.split(":")[0] for line in result.stdout.splitlines()[:-1]]
    # BC has no withholding: the seeded company has no IRPF groups (docs/business_central.md).
    assert paths == [f"systems.business_central.taxes.{code}" for code in
                     ("IRPF15", "IRPF7", "IRPF19")]
    assert result.stdout.splitlines()[-1].startswith(
        "business_central: 15 taxes, 4 payment methods checked, 3 problems; not checked: accounts")


async def test_sap_b1_swapped_vat_groups_a_missing_account_and_series_of_the_other_type(
        tmp_path: Path) -> None:
    path = edited(tmp_path, ("RE3:  {canonical: rec_5_2, rate: 5.2}", "RE2:  {canonical: rec_5_2, rate: 5.2}"),
                  ("RE2:  {canonical: rec_1_4, rate: 1.4}", "RE3:  {canonical: rec_1_4, rate: 1.4}"),
                  ('"57200000": "572"', '"57300000": "572"'),
                  ('series: {"1": F, "2": R}', 'series: {"2": F, "1": R}'))
    result, _ = await check_sandbox("sap_b1", path=path)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "systems.sap_b1.taxes.RE2.rate: rate 1.4 in SAP B1, 5.2 in the mapping; at 5.2 % SAP B1 "
        "holds RE3 (Recargo de equivalencia 5,2%, 5.2 %)",
        "systems.sap_b1.taxes.RE3.rate: rate 5.2 in SAP B1, 1.4 in the mapping; at 1.4 % SAP B1 "
        "holds RE2 (Recargo de equivalencia 1,4%, 1.4 %)"]
    assert lines[2].startswith("systems.sap_b1.accounts.57300000: SAP B1 has no account '57300000'")
    assert lines[3:5] == [
        "systems.sap_b1.series.2: it numbers credit_note in SAP B1, but series 'F' numbers invoice",
        "systems.sap_b1.series.1: it numbers invoice in SAP B1, but series 'R' numbers credit_note"]
    assert lines[-1].startswith("sap_b1: 15 taxes, 4 accounts, 2 series, 1 warehouse checked, 5 problems")


async def test_prestashop_a_rate_the_shop_applies_otherwise_and_an_unmapped_module() -> None:
    async def prepare(sandbox: Any) -> None:
        await sandbox.store.patch("taxes", 2, {"rate": "12.000"})
        await sandbox.store.patch("orders", 3, {"module": "bizum"})

    result, _ = await check_sandbox("prestashop", prepare=prepare)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[:2] == [
        "systems.prestashop.taxes.2.rate: rate 12 in PrestaShop, 10 in the mapping; PrestaShop "
        "holds no tax at 10 %",
        "systems.prestashop.payment_methods: PrestaShop uses payment method 'bizum' (1 of the "
        "latest 3 orders), which systems.prestashop.payment_methods does not map: those "
        "records park; the mapping maps ps_wirepayment, redsys"]


async def test_shopify_a_product_tax_key_the_mapping_lacks_is_a_problem() -> None:
    async def prepare(sandbox: Any) -> None:
        await sandbox.insert("Product", {"title": "Pan de pueblo", "status": "ACTIVE",
                                         "productType": "", "metafield": {"value": "IVA 4 %"},
                                         "variants": {"nodes": []}})

    result, _ = await check_sandbox("shopify", prepare=prepare)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0] == (
        "systems.shopify.taxes: Shopify uses tax 'IVA 4 %' (1 product: Pan de pueblo), which "
        "systems.shopify.taxes does not map: those records park; the mapping maps IVA 10%, "
        "IVA 21%, IVA 4%")


async def test_an_invalid_file_is_its_errors_and_exit_1_before_any_call(holded, tmp_path) -> None:
    path = edited(tmp_path, ("s_iva_10:     {canonical: iva_10, rate: 10}",
                             "s_iva_10:     {canonical: iva_10, rate: 11}"))
    result = await check(str(path), env=holded_env(holded))
    assert result.exit_code == 1
    assert "systems.holded.taxes.s_iva_10.rate: rate 11 differs" in result.stderr
    assert holded.requests == []


async def test_an_unknown_system_name_is_bad_usage(holded) -> None:
    result = await check(str(EXAMPLE), "--system", "sage", env=holded_env(holded))
    assert result.exit_code == 2 and "'sage': one of holded, odoo" in result.output
