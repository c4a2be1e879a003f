"""The canonical spelling of bank and tax identifiers, shared by every connector's inbound side.

Systems store an IBAN or a NIF as typed ("es91 2100 0418...", "b-12345674") or normalise it
their own way (Odoo compacts a VAT number and reads bank accounts without spaces). Compared as
typed, one identifier spelled two ways looks like a change: a write to the system that
normalises it comes back as an edit made there (the audit trail names the wrong system) and
rewrites the value everywhere. Read through these, every system reports the same text for the
same identifier, and the echo of a write is recognised as such.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["iban", "tax_id"]

_SEPARATORS = re.compile(r"[\s.\-/]+")


def iban(value: Any) -> str | None:
    """An IBAN without spaces, upper case (its electronic form, ISO 13616); None when empty."""
    if value is None or value is False:
        return None
    return "".join(str(value).split()).upper() or None


def tax_id(value: Any) -> str | None:
    """A tax id (NIF, CIF, VAT number) without spaces, dots, dashes or slashes, upper case; None when
    empty. A country prefix ("ESB12345674") is kept: it is part of what the system holds."""
    if value is None or value is False:
        return None
    return _SEPARATORS.sub("", str(value)).upper() or None
