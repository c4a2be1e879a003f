"""Entity keys: ``<entity>/<origin system>/<origin id>``, the external ID of every record.

The key is born with the record in its origin system and never changes, whatever IDs other
systems give it; every topic is keyed by it so one entity's events stay ordered.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ENTITIES", "EntityKey", "KeyError_"]

ENTITIES = ("contact", "product", "invoice", "payment")
_SYSTEM = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_KEY_LENGTH = 512


class KeyError_(ValueError):
    """A string that is not a valid entity key."""


@dataclass(frozen=True, slots=True)
class EntityKey:
    entity: str
    origin: str
    origin_id: str

    @classmethod
    def parse(cls, text: str) -> EntityKey:
        if not isinstance(text, str) or len(text) > MAX_KEY_LENGTH:
            raise KeyError_(f"entity key must be a string of at most {MAX_KEY_LENGTH} characters")
        parts = text.split("/", 2)
        if len(parts) != 3 or not parts[2]:
            raise KeyError_(f"entity key {text!r} is not <entity>/<origin system>/<origin id>")
        entity, origin, origin_id = parts
        if entity not in ENTITIES:
            raise KeyError_(f"entity key {text!r}: unknown entity {entity!r} (one of {', '.join(ENTITIES)})")
        if not _SYSTEM.match(origin):
            raise KeyError_(f"entity key {text!r}: system {origin!r} must be lower-case letters, digits, _")
        if origin_id != origin_id.strip() or any(ord(c) < 32 for c in origin_id):
            raise KeyError_(f"entity key {text!r}: origin id has blanks or control characters")
        return cls(entity, origin, origin_id)

    def __str__(self) -> str:
        return f"{self.entity}/{self.origin}/{self.origin_id}"

    def id_in(self, system: str) -> str | None:
        """The record's id in ``system`` when it was born there (its origin id), else None."""
        return self.origin_id if self.origin == system else None


def valid_system(name: str) -> bool:
    return bool(_SYSTEM.match(name))
