"""The SAP B1 tenant reader (connectors/sap_b1/tenant.py) against the sandbox: which lists it
reads, the rate in force, the document type a series numbers, and the session it frees."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.mapping.tenant import Held
from connectors.sap_b1.client import SapB1Client
from connectors.sap_b1.sandbox import SapSandbox
from connectors.sap_b1.tenant import rate_in_force, read_tenant

LINES = [{"Effectivefrom": "2010-07-01", "Rate": 18}, {"Effectivefrom": "2012-09-01", "Rate": 21},
         {"Effectivefrom": "2030-01-01T00:00:00Z", "Rate": 23}]


def test_the_rate_in_force_is_the_latest_line_not_after_the_day() -> None:
    assert rate_in_force(LINES, dt.date(2012, 8, 31)) == 18
    assert rate_in_force(LINES, dt.date(2012, 9, 1)) == 21
    assert rate_in_force(LINES, dt.date(2030, 1, 1)) == 23
    assert rate_in_force(LINES, dt.date(2001, 1, 1)) is None  # nothing in force: not compared
    assert rate_in_force(None, dt.date(2026, 1, 1)) is None


async def test_taxes_are_vat_groups_and_withholding_codes_with_their_rates(
        sandbox: SapSandbox, sap: SapB1Client) -> None:
    await sandbox.create("VatGroups", {"Code": "ROLD", "Name": "IVA 16%", "Inactive": "tYES",
                                       "VatGroups_Lines": [{"Effectivefrom": "1995-01-01",
                                                            "Rate": 16}]})
    tenant = await read_tenant(sap, ["taxes"], today=dt.date(2026, 11, 1))
    taxes = tenant.codes["taxes"]
    assert taxes["RE3"] == Held("Recargo de equivalencia 5,2%", Decimal("5.2"))
    assert taxes["IR15"] == Held("Retención IRPF 15%", Decimal(15))
    assert taxes["ROLD"] == Held("IVA 16%, inactive", Decimal(16))


async def test_series_know_the_document_type_they_number_and_the_session_is_closed(
        sandbox: SapSandbox, sap: SapB1Client) -> None:
    tenant = await read_tenant(sap, ["series", "warehouses", "payment_methods"])
    assert tenant.codes["series"] == {"1": Held("Facturas", doc_types=frozenset({"invoice"})),
                                      "2": Held("Abonos", doc_types=frozenset({"credit_note"}))}
    assert tenant.codes["warehouses"] == {"01": Held("Almacén central Valencia"), "02": Held("Tienda Madrid")}
    assert "TRANSF" in tenant.unchecked["payment_methods"]
    assert not sap.logged_in and sandbox.sessions == {}
    writes = {(r.method, r.path.rsplit("/", 1)[-1]) for r in sandbox.requests
              if r.method != "GET"}
    assert writes == {("POST", "Login"), ("POST", "SeriesService_GetDocumentSeries"),
                      ("POST", "Logout")}
