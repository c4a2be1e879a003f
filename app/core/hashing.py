"""Content hashes of canonical records: equal values hash equal, whatever their spelling.

Used for echo suppression (is what a system reports what we wrote?), duplicate detection and
per-field change detection in the merge. ``Decimal("10.50")`` and ``Decimal("10.5")`` hash
the same: they are the same amount.

The canonical text is compact, key-sorted JSON in which decimals, dates and timestamps are
tagged objects (``{"$dec":"10.5"}``). It is built field by field, so one pass gives both the
record's hash and every field's hash: this runs several times per event on the hot path.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from decimal import Decimal
from json.encoder import encode_basestring as _quote
from typing import Any

__all__ = ["Fingerprint", "canonical_json", "content_hash", "field_hashes"]


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON of a canonical value (floats are refused: use Decimal)."""
    kind = type(value)  # exact-type fast paths first; subclasses take the general path
    if kind is str:
        return _quote(value)
    if value is None:
        return "null"
    if kind is int:
        return str(value)
    if kind is list:
        return "[" + ",".join([canonical_json(v) for v in value]) + "]"
    return _general_json(value)


def _general_json(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return '{"$dec":' + _quote(_decimal_text(value)) + "}"
    if isinstance(value, Mapping):
        return "{" + ",".join([_quote(str(k)) + ":" + canonical_json(value[k])
                               for k in sorted(value, key=str)]) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join([canonical_json(v) for v in value]) + "]"
    if isinstance(value, dt.datetime):
        return '{"$ts":' + _quote(value.astimezone(dt.timezone.utc).isoformat()) + "}"
    if isinstance(value, dt.date):
        return '{"$date":' + _quote(value.isoformat()) + "}"
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical records: use Decimal")
    raise TypeError(f"cannot hash a {type(value).__name__}")


# Memos of the hot path, bounded: field names are few, and most field texts repeat from one
# version of a record to the next ("null", an unchanged name...). Long texts are not kept.
_MEMO_MAX, _MEMO_TEXT_MAX, _LAYOUTS_MAX = 65_536, 256, 1024
_layouts: dict[tuple[str, ...], list[tuple[str, str]]] = {}  # field names -> sorted (name, '"name":')
_short_hashes: dict[str, str] = {}  # field text -> its short hash


def _layout(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The record's field names in canonical (sorted) order, each with its JSON key prefix."""
    layout = _layouts.get(names)
    if layout is None:
        if len(_layouts) >= _LAYOUTS_MAX:
            _layouts.clear()
        layout = _layouts[names] = [(k, _quote(k) + ":") for k in sorted(names)]
    return layout


def _short_hash(text: str) -> str:
    digest = _short_hashes.get(text)
    if digest is None:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        if len(text) <= _MEMO_TEXT_MAX:
            if len(_short_hashes) >= _MEMO_MAX:
                _short_hashes.clear()
            _short_hashes[text] = digest
    return digest


_NULL_HASH = hashlib.sha256(b"null").hexdigest()


class Fingerprint:
    """The canonical texts of a record's fields, computed once, hashed on demand (once)."""

    __slots__ = ("_fields", "_texts", "_whole")

    def __init__(self, record: Mapping[str, Any] | None) -> None:
        self._texts = None if record is None else {str(k): canonical_json(v) for k, v in record.items()}
        self._fields: dict[str, str] | None = None
        self._whole: str | None = None

    def derive(self, record: Mapping[str, Any], source: Mapping[str, Any]) -> Fingerprint:
        """The fingerprint of ``record``, built from ``source`` (the record this fingerprint
        is of): the texts of values that are the very objects ``source`` holds are reused."""
        texts = self._texts or {}
        out = Fingerprint(None)
        out._texts = {str(k): texts[k] if k in texts and source.get(k) is v else canonical_json(v)
                      for k, v in record.items()}
        return out

    def view(self, fields: frozenset[str] | None) -> Fingerprint:
        """The fingerprint of the record restricted to ``fields`` (all when None)."""
        if not fields or self._texts is None:
            return self
        out = Fingerprint(None)
        out._texts = {k: t for k, t in self._texts.items() if k in fields}
        return out

    def content_hash(self) -> str:
        if self._whole is None:
            texts = self._texts
            if texts is None:
                self._whole = _NULL_HASH
            else:
                body = ",".join([prefix + texts[k] for k, prefix in _layout(tuple(texts))])
                self._whole = hashlib.sha256(("{" + body + "}").encode()).hexdigest()
        return self._whole

    def field_hashes(self) -> dict[str, str]:
        """A short hash per field (a new dict each call: callers may keep or change it)."""
        if self._fields is None:
            self._fields = {k: _short_hash(t) for k, t in (self._texts or {}).items()}
        return dict(self._fields)


def content_hash(payload: Mapping[str, Any] | None) -> str:
    return Fingerprint(payload).content_hash()


def field_hashes(payload: Mapping[str, Any] | None) -> dict[str, str]:
    """A short hash per top-level field: enough to tell which fields changed."""
    return Fingerprint(payload).field_hashes()
