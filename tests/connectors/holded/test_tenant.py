"""The Holded tenant reader (connectors/holded/tenant.py) on shapes the sandbox does not serve:
a chart of accounts without ids, account numbers as text, and a v2 client without the series
and treasury routes. Each such section is reported not checked with the reason, never empty
(which would report every code as missing) and never passed."""
from __future__ import annotations

from decimal import Decimal

from app.mapping.tenant import Held
from connectors.holded.tenant import read_tenant
from tests.connectors.fakes import FakeApi, json_response
from tests.connectors.holded.test_client import make

ACC = "/api/accounting/v1"
INV = "/api/invoicing/v1"


async def test_a_chart_without_ids_leaves_accounts_not_checked_and_numbers_as_text_count() -> None:
    api = FakeApi()
    api.on("GET", f"{ACC}/chartofaccounts", json_response(200, [
        {"num": "70000000", "name": "Ventas"}, {"num": 70500000, "name": "Servicios"}]))
    api.on("GET", f"{INV}/expensesaccounts", json_response(200, [
        {"id": "5f1b2c3d4e5f60718293a4b5", "name": "Profesionales", "accountNum": 62300000}]))
    read: list[str] = []
    tenant = await read_tenant(make(api), ["accounts", "account_numbers"], on_read=read.append)
    assert read == ["accounts", "account_numbers"]
    assert "accounts" not in tenant.codes
    assert tenant.unchecked["accounts"].startswith("Holded's chart of accounts shows no account ids")
    assert tenant.codes["account_numbers"] == {
        "70000000": Held("Ventas"), "70500000": Held("Servicios"), "62300000": Held("Profesionales")}
    # includeEmpty=1: an account nothing was booked to is still an account of the tenant.
    assert {r.url.params.get("includeEmpty") for r in api.requests if "chart" in r.url.path} == {"1"}


async def test_tax_amounts_are_exact_decimals_and_a_non_number_is_not_compared() -> None:
    api = FakeApi()
    api.on("GET", f"{INV}/taxes", json_response(200, [
        {"key": "s_rec_52", "name": "Recargo", "amount": "5.2"},
        {"key": "s_odd", "name": "Odd", "amount": "n/a"}]))
    tenant = await read_tenant(make(api), ["taxes"])
    assert tenant.codes["taxes"] == {"s_rec_52": Held("Recargo", Decimal("5.2")), "s_odd": Held("Odd")}


async def test_v2_has_no_series_or_treasury_route_so_they_are_not_checked() -> None:
    api = FakeApi()
    api.on("GET", "/api/v2/warehouses", json_response(200, {"items": [
        {"id": "64a1f0c2e4b0a10000000e01", "name": "Central"}]}))
    tenant = await read_tenant(make(api, "v2"), ["series", "treasuries", "warehouses"])
    assert set(tenant.unchecked) == {"series", "treasuries"}
    assert "not available in Holded API v2" in tenant.unchecked["series"]
    assert tenant.codes == {"warehouses": {"64a1f0c2e4b0a10000000e01": Held("Central")}}
