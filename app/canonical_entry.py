"""One table value per entity: its state, replicas and links together (CanonicalEntry).

The canonical agent used to write a decision as three table records (entities, replicas,
links). Faust sends table writes to their changelog from a buffer, so a SIGKILL could save
any subset: state without replicas made a redelivered change look new (applied twice),
replicas without state made it look a duplicate (never applied). The chaos suite found both.
One record per decision is saved whole or not at all; a redelivered change then meets the
state it produced (a duplicate, dropped) or the state before it (decided again, same
command id).

``entities``, ``replicas`` and ``links`` remain the names operators and tests read: they are
views of this one table (:func:`project`).

The agent's hot path uses :class:`Entry`: each part is decoded once, and a new entry reuses
the encoded bytes of the parts a decision left unchanged (no second decode of the old entry).
"""
from __future__ import annotations

from typing import Any

from app.table_codec import table_codec

__all__ = ["CODECS", "FIELDS", "PARTS", "Entry", "decode", "encode", "project"]

# MessagePack under the Avro schemas' rules (app/table_codec.py); older Avro values still read.
ENTRY = table_codec("CanonicalEntry")
PARTS = {"entities": ("state", table_codec("EntityState")),
         "replicas": ("replicas", table_codec("ReplicaSet")),
         "links": ("links", table_codec("LinkSet"))}
CODECS = {field: c for field, c in PARTS.values()}  # entry field -> its codec
FIELDS = tuple(CODECS)  # ("state", "replicas", "links"): CanonicalEntry's fields, in order
_EMPTY = dict.fromkeys(FIELDS)

Record = dict[str, Any]


def _split(raw: bytes | None) -> dict[str, bytes | None]:
    return ENTRY.loads(raw) if raw is not None else dict(_EMPTY)


def decode(raw: bytes | None) -> dict[str, Record | None]:
    """``{"state": ..., "replicas": ..., "links": ...}``, each decoded or None."""
    return Entry.of(raw).records


def encode(previous: bytes | None, state: bytes | None, replicas: bytes | None,
           links: bytes | None) -> bytes:
    """The new entry: the given encoded parts over the previous ones (None = unchanged)."""
    entry = _split(previous)
    return ENTRY.dumps({"state": state if state is not None else entry.get("state"),
                        "replicas": replicas if replicas is not None else entry.get("replicas"),
                        "links": links if links is not None else entry.get("links")})


def project(raw: bytes, view: str) -> Record | None:
    """The ``entities``, ``replicas`` or ``links`` part of an entry, decoded."""
    field, c = PARTS[view]
    part = ENTRY.loads(raw).get(field)
    return c.loads(part) if part is not None else None


class Entry:
    """A table value with its parts encoded and, on first use, decoded: ``record(field)``
    equals ``decode(raw)[field]``. Treat decoded records as read-only (decisions copy what
    they change). A part nobody asks for is never decoded (a result needs no state)."""

    __slots__ = ("_decoded", "parts", "raw")

    def __init__(self, raw: bytes | None, parts: dict[str, bytes | None],
                 decoded: dict[str, Record | None]) -> None:
        self.raw, self.parts, self._decoded = raw, parts, decoded

    @classmethod
    def of(cls, raw: bytes | None) -> Entry:
        return cls(raw, _split(raw), {})

    def record(self, field: str) -> Record | None:
        """The decoded ``state``, ``replicas`` or ``links`` part (None if the entry has none)."""
        try:
            return self._decoded[field]
        except KeyError:
            part = self.parts.get(field)
            value = self._decoded[field] = CODECS[field].loads(part) if part is not None else None
            return value

    @property
    def records(self) -> dict[str, Record | None]:
        """Every part, decoded."""
        return {f: self.record(f) for f in FIELDS}

    def updated(self, encoded: dict[str, bytes | None],
                decoded: dict[str, Record | None]) -> Entry:
        """This entry with the parts in ``encoded`` (None = unchanged) replaced; ``decoded``
        holds the records those bytes encode. Unchanged parts keep their bytes as they are."""
        parts = {f: (encoded[f] if encoded[f] is not None else self.parts.get(f)) for f in FIELDS}
        known = {f: decoded[f] for f in FIELDS if encoded[f] is not None}
        for f in FIELDS:
            if f not in known and f in self._decoded:
                known[f] = self._decoded[f]
        return Entry(ENTRY.dumps(parts), parts, known)
