"""What an SAP Business One company holds of the codes a mapping document names
(``mappings check``).

Read-only calls through :class:`SapB1Client` (its session, rate limiter and error mapping);
the comparing is :func:`app.mapping.tenant.compare`'s. The codes are the ones this connector
reads (docs/sap_b1.md):

- ``taxes``: ``VatGroups`` codes (a line's ``VatGroup``) and ``WithholdingTaxCodes`` codes (a
  document's ``WTCode``), each with the rate of its line in force today (``Effectivefrom``);
  a recargo kept inside a VAT group (``EqualizationTax``) is not compared;
- ``accounts``: ``ChartOfAccounts`` codes (``AccountCode``, ``IncomeAccount``,
  ``TransferAccount``);
- ``series``: ``SeriesService_GetDocumentSeries`` for A/R invoices (object 13) and credit memos
  (14), each series knowing the document type it numbers. It is a service action, so a POST,
  though it changes nothing; that its answer carries ``Series`` (the number a document's
  ``Series`` holds) rests on third-party code: the generated metadata clients list no such
  property (UNVERIFIED);
- ``warehouses``: ``Warehouses`` codes.

``payment_methods`` are the connector's own names for the means of an incoming payment
(``TRANSF``: its ``TransferSum``), not an SAP list; ``treasuries`` and ``sales_channels`` are in
no SAP record this connector reads or writes: those are reported as not checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from app.mapping.tenant import Held, Tenant
from connectors.base.tenant import Codes, read_sections
from connectors.sap_b1.client import SapB1Client

__all__ = ["read_tenant", "rate_in_force"]

# Object code -> the canonical document type its series number (OINV, ORIN).
_SERIES_OF = {"13": "invoice", "14": "credit_note"}
_UNREAD = {"payment_methods": "the SAP B1 connector's payment method codes are its own names, "
                              "TRANSF for an incoming payment's TransferSum, not an SAP list",
           "": "the SAP B1 connector reads and writes none, so nothing to check them against"}


async def read_tenant(client: SapB1Client, sections: Collection[str], *,
                      on_read: Callable[[str], None] = lambda section: None,
                      today: dt.date | None = None) -> Tenant:
    """What the company holds for each of ``sections`` (the ones the mapping fills); rates
    are those in force on ``today`` (default: the local date). The session the reads opened
    is closed at the end: ``client`` is the check's own."""
    day = today or dt.date.today()

    async def taxes() -> Codes:
        held = {str(g["Code"]): _held(g.get("Name"), g.get("Inactive"),
                                      rate_in_force(g.get("VatGroups_Lines"), day))
                async for g in client.list("VatGroups", select=(
                    "Code", "Name", "Inactive", "VatGroups_Lines")) if g.get("Code")}
        async for w in client.list("WithholdingTaxCodes", select=(
                "WTCode", "WTName", "Inactive", "WithholdingTaxCodes_Lines")):
            if w.get("WTCode"):
                held.setdefault(str(w["WTCode"]), _held(
                    w.get("WTName"), w.get("Inactive"),
                    rate_in_force(w.get("WithholdingTaxCodes_Lines"), day)))
        return held

    async def accounts() -> Codes:
        return {str(a["Code"]): Held(str(a.get("Name") or ""))
                async for a in client.list("ChartOfAccounts", select=("Code", "Name"))
                if a.get("Code")}

    async def series() -> Codes:
        held: Codes = {}
        for document, doc_type in _SERIES_OF.items():
            body = await client.call("POST", "SeriesService_GetDocumentSeries",
                                     body={"DocumentTypeParams": {"Document": document}})
            for row in (body or {}).get("value") or []:
                if row.get("Series") is not None:
                    code = str(row["Series"])
                    known = held.get(code)
                    types = (known.doc_types if known else frozenset()) | {doc_type}
                    held[code] = Held(str(row.get("Name") or ""), doc_types=types)
        return held

    async def warehouses() -> Codes:
        return {str(w["WarehouseCode"]): _held(w.get("WarehouseName"), w.get("Inactive"))
                async for w in client.list("Warehouses", select=(
                    "WarehouseCode", "WarehouseName", "Inactive")) if w.get("WarehouseCode")}

    try:
        return await read_sections("sap_b1", "SAP B1", sections, {
            "taxes": taxes, "accounts": accounts, "series": series, "warehouses": warehouses},
            unread=_UNREAD, on_read=on_read)
    finally:
        await client.logout()  # a session holds an SAP licence seat until it times out


def rate_in_force(lines: Any, day: dt.date) -> Decimal | None:
    """The ``Rate`` of the line whose ``Effectivefrom`` is the latest not after ``day``; None
    when no line is in force yet (the rate is then not compared)."""
    dated = []
    for line in lines if isinstance(lines, list) else ():
        start = str(line.get("Effectivefrom") or "")[:10]
        if line.get("Rate") is not None and start <= day.isoformat():
            dated.append((start, Decimal(str(line["Rate"]))))
    return max(dated)[1] if dated else None


def _held(name: Any, inactive: Any, rate: Decimal | None = None) -> Held:
    text = str(name or "") + (", inactive" if inactive == "tYES" else "")
    return Held(text, rate)
