"""A payment a sink wrote before: does the target still hold what the command says?

A payment edited (amount, date) or deleted at its origin after a sink registered it in an ERP
comes back as a command for a payment the ERP already has. No sink corrects a posted payment
by itself (that is a reversal in the ERP's books, an accountant's decision), and answering
``already_done`` would tell the engine the ERP holds the new amount while the invoice and the
customer's balance there still count the old one. So the sink reads what it wrote, compares
with :func:`differences` and, when they differ or the payment was deleted, parks the command
with :func:`changed_reason` / :func:`deleted_reason`. Once someone has corrected the ERP, a
re-drive of the parked command finds it equal and is done.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["changed_reason", "deleted_reason", "differences"]

CENT = Decimal("0.01")


def _day(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value)).quantize(CENT)


def differences(payload: Mapping[str, Any], *, amount: Any, date: Any,
                void: str | None = None) -> list[str]:
    """What the target's payment (``amount``, ``date``) lacks of ``payload``, in words.

    ``void``: why the target's payment no longer counts (cancelled...), None when it does.
    """
    found: list[str] = []
    if void:
        found.append(void)
    held, wanted = _money(amount), _money(payload.get("amount"))
    if held != wanted:
        found.append(f"amount {held} there, {wanted} now")
    held_day, wanted_day = _day(date), _day(payload.get("date"))
    if held_day != wanted_day:
        found.append(f"date {held_day} there, {wanted_day} now")
    return found


def changed_reason(target: str, key: str, diffs: list[str]) -> str:
    return (f"{key} changed after it was written as {target} ({'; '.join(diffs)}): a written "
            "payment is not corrected automatically; correct or cancel it there by hand (the "
            "invoice and the customer's balance count it), then re-drive this command")


def deleted_reason(target: str, key: str) -> str:
    return (f"{key} was deleted at its origin after it was written as {target}: a written "
            "payment is not reversed automatically; cancel or reverse it there by hand (the "
            "invoice and the customer's balance still count it)")
