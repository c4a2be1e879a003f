"""What an Odoo database holds of the codes a mapping document names (``mappings check``).

Read-only ``search_read`` calls through :class:`OdooClient`; the comparing is
:func:`app.mapping.tenant.compare`'s. The codes are the ones this connector reads and writes
(docs/odoo.md):

- ``taxes``: ``account.tax`` ids (active ones), with ``amount`` as the rate when the tax is a
  percentage (Odoo stores IRPF as a negative amount; the mapping's ``rate: -15`` says so);
- ``accounts``: ``account.account`` codes;
- ``treasuries``: codes of the journals a payment can be registered in (bank, cash, credit);
- ``series``: the prefix of a posted invoice's name, which is its sale journal's code, or
  ``R`` and that code for a credit note of a journal with its own refund sequence;
- ``warehouses``: ``stock.warehouse`` ids.

``payment_methods`` and ``sales_channels`` are in no Odoo record this connector reads or
writes, so there is nothing to check them against: they are reported as not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from app.mapping.tenant import Held, Tenant
from connectors.base.tenant import Codes, read_sections
from connectors.odoo.client import OdooClient

__all__ = ["read_tenant"]

_PAYMENT_JOURNALS = ("bank", "cash", "credit")
_NOT_USED = "the Odoo connector reads and writes none, so nothing to check them against"


async def read_tenant(client: OdooClient, sections: Collection[str], *,
                      on_read: Callable[[str], None] = lambda section: None) -> Tenant:
    """What the database holds for each of ``sections`` (the ones the mapping fills)."""
    journals: list[dict[str, Any]] = []

    async def read_journals() -> list[dict[str, Any]]:  # once for treasuries and series
        if not journals:
            journals.extend(await client.search_read("account.journal", [], ["code", "name", "type"]))
        return journals

    async def taxes() -> Codes:
        rows = await client.search_read("account.tax", [], ["name", "amount", "amount_type"])
        return {str(t["id"]): Held(str(t.get("name") or ""), _rate(t)) for t in rows}

    async def accounts() -> Codes:
        rows = await client.search_read("account.account", [], ["code", "name"])
        return {str(a["code"]): Held(str(a.get("name") or "")) for a in rows if a.get("code")}

    async def treasuries() -> Codes:
        return _treasuries(await read_journals())

    async def series() -> Codes:
        return _series(await read_journals())

    async def warehouses() -> Codes:
        rows = await client.search_read("stock.warehouse", [], ["name"])
        return {str(w["id"]): Held(str(w.get("name") or "")) for w in rows}

    return await read_sections("odoo", "Odoo", sections, {
        "taxes": taxes, "accounts": accounts, "treasuries": treasuries, "series": series,
        "warehouses": warehouses}, unread=_NOT_USED, on_read=on_read)


def _rate(tax: dict[str, Any]) -> Decimal | None:
    if tax.get("amount_type") not in ("percent", "division"):
        return None  # a fixed amount or a group of taxes has no single rate to compare
    return Decimal(str(tax.get("amount") or 0)).normalize()


def _treasuries(journals: list[dict[str, Any]]) -> Codes:
    return {str(j["code"]): Held(f"{j.get('name', '')}, {j.get('type')} journal")
            for j in journals if j.get("code") and j.get("type") in _PAYMENT_JOURNALS}


def _series(journals: list[dict[str, Any]]) -> Codes:
    held: Codes = {}
    for journal in journals:
        if journal.get("code") and journal.get("type") == "sale":
            code, name = str(journal["code"]), str(journal.get("name") or "")
            held[code] = Held(name)
            held.setdefault(f"R{code}", Held(f"credit notes of {name}"))
    return held
