"""Service Layer (OData v3, ``/b1s/v1``) literals, keys, dates and JSON; pure helpers.

Keys: numeric keys bare (``Invoices(12)``), string keys quoted (``BusinessPartners('C0001')``).
Strings are single-quoted with ``''`` escaping. Dates are compared as ``'YYYY-MM-DD'`` strings
and ``UpdateTime`` as ``'HH:MM:SS'`` (the exact v1 filter syntax for TimeOfDay is UNVERIFIED,
see docs/sap_b1.md). SAP keeps no time zone: every date/time is the company server's local
time, so callers convert with the configured zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from connectors.base.jsonio import dumps_json, loads_json

__all__ = ["dumps", "etag_of", "key", "loads", "local_datetime", "parse_date", "parse_time",
           "split_local", "string"]


def string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def key(entity_set: str, value: str | int) -> str:
    if isinstance(value, bool):
        raise ValueError(f"not a key: {value!r}")
    if isinstance(value, int):
        return f"{entity_set}({value})"
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a key: {value!r}")
    return f"{entity_set}({string(value)})"


def parse_date(value: Any) -> dt.date | None:
    """``2026-11-20`` or ``2026-11-20T00:00:00Z`` (both seen from SL) as a date."""
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def parse_time(value: Any) -> dt.time:
    """``14:05:09`` (or ``14:05``; empty = midnight) as a time."""
    text = str(value or "00:00:00")
    if "T" in text:  # an Edm.DateTime carrying only the time part
        text = text.split("T", 1)[1]
    return dt.time.fromisoformat(text.rstrip("Z")[:8])


def local_datetime(date: Any, time: Any, zone: dt.tzinfo) -> dt.datetime | None:
    """SAP's (date, time) pair in the server's zone as an aware datetime."""
    day = parse_date(date)
    if day is None:
        return None
    return dt.datetime.combine(day, parse_time(time), tzinfo=zone)


def split_local(moment: dt.datetime, zone: dt.tzinfo) -> tuple[str, str]:
    """An aware datetime as SAP's ``('YYYY-MM-DD', 'HH:MM:SS')`` in the server's zone."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give the moment a time zone")
    local = moment.astimezone(zone)
    return local.date().isoformat(), local.strftime("%H:%M:%S")


def etag_of(record: Mapping[str, Any]) -> str | None:
    value = record.get("odata.etag") or record.get("@odata.etag")
    return str(value) if value else None


def dumps(value: Any) -> str:
    """Compact JSON in which a ``Decimal`` is a number with its exact text, dates ISO."""
    return dumps_json(value, default=_iso_date)


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def loads(data: bytes | str) -> Any:
    """JSON with every non-integer number as ``Decimal`` (amounts stay exact)."""
    return loads_json(data)
