"""The PrestaShop tenant reader (connectors/prestashop/tenant.py): a tax rule group's Spanish
rate, and the payment modules the latest orders carry, against the sandbox."""
from __future__ import annotations

from decimal import Decimal

import httpx

from app.mapping.tenant import Held
from connectors.prestashop.sandbox import PrestaShopSandbox
from connectors.prestashop.tenant import read_tenant, spanish_rates
from tests.connectors.prestashop.support import make_client

COUNTRIES = [{"id": 6, "iso_code": "ES"}, {"id": 8, "iso_code": "FR"}]
RATES = {"1": Decimal(21), "2": Decimal(10), "3": Decimal(20), "4": Decimal(7)}


def rule(group: str, country: int, tax: str, state: str = "0") -> dict[str, str]:
    return {"id_tax_rules_group": group, "id_country": str(country), "id_tax": tax,
            "id_state": state, "zipcode_from": "0"}


def test_a_groups_rate_is_its_rule_for_the_whole_of_spain() -> None:
    rules = [rule("1", 8, "3"), rule("1", 6, "1"),            # France first: Spain's counts
             rule("2", 6, "2"), rule("2", 6, "4", state="12"),  # a state's rule is left out
             rule("3", 6, "1"), rule("3", 6, "2"),              # two rates: not compared
             rule("4", 6, "99"),                                # an unknown tax: not compared
             rule("5", 8, "3")]                                 # no Spanish rule
    assert spanish_rates(COUNTRIES, rules, RATES) == {"1": Decimal(21), "2": Decimal(10)}


async def test_groups_with_their_rates_and_the_modules_orders_were_paid_with(
        sb: PrestaShopSandbox, http: httpx.AsyncClient) -> None:
    await sb.store.patch("tax_rule_groups", 3, {"deleted": "1"})
    tenant = await read_tenant(make_client(sb, http), ["taxes", "payment_methods", "series"])
    assert tenant.codes["taxes"] == {
        "1": Held("ES Standard Rate (21%)", Decimal(21)),  # its French rule (20 %) ignored
        "2": Held("ES Reduced Rate (10%)", Decimal(10)),
        "3": Held("ES Super Reduced Rate (4%), deleted", Decimal(4))}
    assert tenant.used["payment_methods"] == {"ps_wirepayment": Held("2 of the latest 3 orders"),
                                              "redsys": Held("1 of the latest 3 orders")}
    assert "invoice_prefix" in tenant.unchecked["series"]
    assert {r.method for r in sb.requests} == {"GET"}
