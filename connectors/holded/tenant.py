"""What a Holded tenant holds of the codes a mapping document names (``mappings check``).

Read-only calls through :class:`HoldedClient`, so through its rate limiter and its error
mapping; :func:`app.mapping.tenant.compare` does the comparing. Where each code is looked up:

- ``taxes``: ``GET /taxes`` by ``key``, with ``amount`` (a string) as the rate;
- ``accounts`` (a line's ``accountingAccountId``): the ``id`` of the accounting API's chart of
  accounts (``includeEmpty=1``: an account nothing was booked to yet is still an account) and of
  ``/expensesaccounts``. That chart rows carry an ``id`` is UNVERIFIED (the reference lists the
  route, not its read shape): a chart without ids leaves ``accounts`` not checked, with why;
- ``account_numbers`` (a contact's ``salesAccountRecord`` / ``expensesAccountRecord``): the
  chart's ``num`` and the expense accounts' ``accountNum``;
- ``series``: ``GET /numberingseries/{type}`` for the types a canonical document is written
  as (invoice, creditnote, salesreceipt), each series knowing the type it numbers;
- ``payment_methods``, ``treasuries``, ``sales_channels``, ``warehouses``: their lists' ids.

A route the client's API version lacks (v2 has no numbering series or treasury route known)
leaves that section not checked, with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from app.mapping.tenant import Held, Tenant
from connectors.base.tenant import Codes, SectionReader, Unreadable, read_sections
from connectors.holded.client import HoldedClient
from connectors.holded.errors import UnsupportedOperation
from connectors.holded.mapping import DOC_TYPES

__all__ = ["read_tenant"]


async def read_tenant(client: HoldedClient, sections: Collection[str], *,
                      on_read: Callable[[str], None] = lambda section: None) -> Tenant:
    """What the tenant holds for each of ``sections`` (the ones the mapping fills)."""
    lists: list[list[dict[str, Any]]] = []

    async def accounts(client: HoldedClient) -> list[list[dict[str, Any]]]:
        if not lists:  # once for `accounts` and `account_numbers`: the same two lists
            lists.extend([await _chart(client), await _expense_accounts(client)])
        return lists

    async def account_ids(client: HoldedClient) -> Codes:
        return _account_ids(*await accounts(client))

    async def account_numbers(client: HoldedClient) -> Codes:
        return _account_numbers(*await accounts(client))

    readers = {"taxes": _taxes, "accounts": account_ids, "account_numbers": account_numbers,
               "payment_methods": _payment_methods, "treasuries": _treasuries, "series": _series,
               "sales_channels": _sales_channels, "warehouses": _warehouses}
    return await read_sections("holded", "Holded", sections,
                               {name: _bound(read, client) for name, read in readers.items()},
                               unread="Holded has nothing to check them against", on_read=on_read)


def _bound(read: Callable[[HoldedClient], Awaitable[Codes]], client: HoldedClient) -> SectionReader:
    async def bound() -> Codes:
        try:
            return await read(client)
        except UnsupportedOperation as exc:  # a route this API version lacks
            raise Unreadable(str(exc).split(" | ")[0]) from exc
    return bound


async def _taxes(client: HoldedClient) -> Codes:
    return {key: Held(str(tax.get("name") or ""), _rate(tax.get("amount")))
            for key, tax in (await client.taxes()).items()}


async def _chart(client: HoldedClient) -> list[dict[str, Any]]:
    return await client.chart_of_accounts(includeEmpty=1)


async def _expense_accounts(client: HoldedClient) -> list[dict[str, Any]]:
    return [a async for a in client.expense_accounts.list()]


def _account_ids(chart: list[dict[str, Any]], expense: list[dict[str, Any]]) -> Codes:
    if chart and not any(a.get("id") for a in chart):
        raise Unreadable("Holded's chart of accounts shows no account ids (its read shape is "
                     "UNVERIFIED); compare them with a document line's account in Holded")
    held = {str(a["id"]): Held(f"{a.get('num', '')} {a.get('name', '')}".strip())
            for a in chart if a.get("id")}
    for account in expense:
        if account.get("id"):
            held.setdefault(str(account["id"]), Held(
                f"{account.get('accountNum', '')} {account.get('name', '')}".strip()))
    return held


def _account_numbers(chart: list[dict[str, Any]], expense: list[dict[str, Any]]) -> Codes:
    held = {_number(a["num"]): Held(str(a.get("name") or "")) for a in chart
            if _is_number(a.get("num"))}
    for account in expense:
        if _is_number(account.get("accountNum")):
            held.setdefault(_number(account["accountNum"]), Held(str(account.get("name") or "")))
    return held


async def _series(client: HoldedClient) -> Codes:
    held: Codes = {}
    for canonical, doc_type in DOC_TYPES.items():
        async for series in client.numbering_series(doc_type).list():
            if series.get("id"):
                held[str(series["id"])] = Held(str(series.get("name") or ""),
                                               doc_types=frozenset({canonical}))
    return held


async def _payment_methods(client: HoldedClient) -> Codes:
    return _by_id(await client.payment_methods())


async def _treasuries(client: HoldedClient) -> Codes:
    return _by_id([t async for t in client.treasury.list()])


async def _sales_channels(client: HoldedClient) -> Codes:
    return _by_id([c async for c in client.sales_channels.list()])


async def _warehouses(client: HoldedClient) -> Codes:
    return _by_id([w async for w in client.warehouses.list()])


def _by_id(records: list[dict[str, Any]]) -> Codes:
    return {str(r["id"]): Held(str(r.get("name") or "")) for r in records if r.get("id")}


def _rate(amount: Any) -> Decimal | None:
    """``"5.2"`` as Decimal("5.2"); a rate Holded does not give as a number is not compared."""
    if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
        return None
    try:
        rate = Decimal(repr(amount) if isinstance(amount, float) else str(amount))
    except InvalidOperation:
        return None
    return rate if rate.is_finite() else None


def _is_number(value: Any) -> bool:
    """An account number: documented as an integer; digits in a string are taken too."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())


def _number(value: int | str) -> str:
    return str(int(value))
