"""What a Business Central company holds of the codes a mapping document names
(``mappings check``).

Read-only list calls through :class:`BusinessCentralClient`; the comparing is
:func:`app.mapping.tenant.compare`'s. ``taxes`` are ``taxGroups`` codes (a line's ``taxCode``),
``payment_methods`` are ``paymentMethods`` codes. The API's ``taxGroups`` carry no rate (the
rate lives in the VAT posting setup, which API v2.0 does not expose), so tax rates are not
compared. ``accounts``, ``treasuries`` and ``series`` are not read by this check yet (the
connector names G/L accounts by number on lines; the sandbox serves no ``accounts`` set):
they are reported as not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from app.mapping.tenant import Held, Tenant
from connectors.base.tenant import Codes, SectionReader, read_sections
from connectors.business_central.client import BusinessCentralClient

__all__ = ["read_tenant"]

_SETS = {"taxes": "taxGroups", "payment_methods": "paymentMethods"}


async def read_tenant(client: BusinessCentralClient, sections: Collection[str], *,
                      on_read: Callable[[str], None] = lambda section: None) -> Tenant:
    """What the company holds for each of ``sections`` (the ones the mapping fills)."""
    def codes_of(entity_set: str) -> SectionReader:
        async def read() -> Codes:
            return {str(r["code"]): Held(str(r.get("displayName") or ""))
                    async for r in client.list(entity_set) if r.get("code")}
        return read

    notes = ("tax rates not compared (Business Central's taxGroups carry none)",) \
        if "taxes" in sections else ()
    return await read_sections(
        "business_central", "Business Central", sections,
        {section: codes_of(entity_set) for section, entity_set in _SETS.items()},
        unread="this check does not read them from Business Central yet", on_read=on_read,
        notes=notes)
