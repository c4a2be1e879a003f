"""What a record needs in a target before it can be written there.

Its own module because both the decision (app/core/decide.py) and the resend of a lost write
(app/core/resend.py) build commands, and a command carries its record's dependencies.
"""
from __future__ import annotations

from typing import Any

__all__ = ["dependencies"]


def dependencies(entity: str, record: dict[str, Any] | None) -> list[str]:
    """Entity keys that must exist in a target before this record can be written there."""
    if not record:
        return []
    if entity == "invoice":
        keys = [record["customer_key"], *(l["product_key"] for l in record["lines"] if l.get("product_key"))]
        return list(dict.fromkeys(keys))
    if entity == "payment":  # on account (no document): the customer it lowers the balance of
        return [record.get("invoice_key") or record["contact_key"]]
    return []
