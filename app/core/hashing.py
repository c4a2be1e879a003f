"""Content hashes of canonical records: equal values hash equal, whatever their spelling.

Used for echo suppression (is what a system reports what we wrote?), duplicate detection and
per-field change detection in the merge. ``Decimal("10.50")`` and ``Decimal("10.5")`` hash
the same: they are the same amount.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["canonical_json", "content_hash", "field_hashes"]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return {"$dec": format(value.normalize(), "f") if value else "0"}
    if isinstance(value, dt.datetime):
        return {"$ts": value.astimezone(dt.timezone.utc).isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical records: use Decimal")
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(payload: Mapping[str, Any] | None) -> str:
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def field_hashes(payload: Mapping[str, Any] | None) -> dict[str, str]:
    """A short hash per top-level field: enough to tell which fields changed."""
    return {k: hashlib.sha256(canonical_json(v).encode()).hexdigest()[:16]
            for k, v in (payload or {}).items()}
