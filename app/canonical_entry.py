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
"""
from __future__ import annotations

from typing import Any

from app.avro import codec

__all__ = ["PARTS", "decode", "encode", "project"]

ENTRY = codec("CanonicalEntry")
PARTS = {"entities": ("state", codec("EntityState")), "replicas": ("replicas", codec("ReplicaSet")),
         "links": ("links", codec("LinkSet"))}
_CODECS = {field: c for field, c in PARTS.values()}

Record = dict[str, Any]


def decode(raw: bytes | None) -> dict[str, Record | None]:
    """``{"state": ..., "replicas": ..., "links": ...}``, each decoded or None."""
    entry = ENTRY.loads(raw) if raw is not None else {}
    return {field: (c.loads(entry[field]) if entry.get(field) is not None else None)
            for field, c in _CODECS.items()}


def encode(previous: bytes | None, state: bytes | None, replicas: bytes | None,
           links: bytes | None) -> bytes:
    """The new entry: the given encoded parts over the previous ones (None = unchanged)."""
    entry = ENTRY.loads(previous) if previous is not None else {}
    return ENTRY.dumps({"state": state if state is not None else entry.get("state"),
                        "replicas": replicas if replicas is not None else entry.get("replicas"),
                        "links": links if links is not None else entry.get("links")})


def project(raw: bytes, view: str) -> Record | None:
    """The ``entities``, ``replicas`` or ``links`` part of an entry, decoded."""
    field, c = PARTS[view]
    part = ENTRY.loads(raw).get(field)
    return c.loads(part) if part is not None else None
