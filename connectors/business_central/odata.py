"""OData v4 literals and keys as Business Central writes them; pure helpers.

Keys are GUIDs written bare (``customers(5d11...)``); strings are single-quoted with ``''``
escaping; DateTimeOffset literals are bare ISO-8601 in UTC with milliseconds, never quoted
(BC rejects a quoted string compared with a DateTimeOffset).
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["GUID", "check_guid", "etag_of", "format_datetime", "key", "parse_datetime", "string"]

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


def check_guid(value: str) -> str:
    if not isinstance(value, str) or not GUID.match(value):
        raise ValueError(f"not a Business Central id (GUID): {value!r}")
    return value.lower()


def key(entity_set: str, record_id: str) -> str:
    """``customers(<guid>)``; a non-GUID id is refused rather than pasted into a URL."""
    return f"{entity_set}({check_guid(record_id)})"


def string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def format_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: Business Central timestamps are UTC")
    utc = value.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(value: str) -> dt.datetime:
    """BC's ``2020-08-21T00:25:56.383Z`` (any precision) as an aware UTC datetime."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def etag_of(record: dict[str, object]) -> str | None:
    value = record.get("@odata.etag")
    return str(value) if value else None
