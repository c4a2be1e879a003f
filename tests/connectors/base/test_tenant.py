"""The loop the tenant readers share (connectors/base/tenant.py): which section is read by
what, and why a section is not read."""
from __future__ import annotations

from app.mapping.tenant import Held
from connectors.base.tenant import Codes, Unreadable, read_sections


async def _codes() -> Codes:
    return {"A": Held("a")}


async def _unreadable() -> Codes:
    raise Unreadable("the chart shows no ids")


async def test_each_section_lands_where_its_reader_says_with_the_reason_of_the_others() -> None:
    read: list[str] = []
    tenant = await read_sections(
        "shopify", "Shopify", ["taxes", "warehouses", "accounts", "payment_methods", "series"],
        {"warehouses": _codes, "accounts": _unreadable}, uses={"taxes": _codes},
        unread={"payment_methods": "Shopify lists no gateways", "": "none read"},
        on_read=read.append)
    assert tenant.used == {"taxes": {"A": Held("a")}}
    assert tenant.codes == {"warehouses": {"A": Held("a")}}
    assert tenant.unchecked == {"accounts": "the chart shows no ids",
                                "payment_methods": "Shopify lists no gateways",
                                "series": "none read"}
    assert read == ["taxes", "warehouses", "accounts"]  # progress only for what is read
