"""Typed reading of raw YAML values that records an Issue instead of stopping at the first error.

Every reader returns ``None`` for a value it rejected, so parsing goes on and the customer sees
every problem of the document in one run.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from app.mapping.decimals import InexactNumber, to_decimal
from app.mapping.errors import Issue
from app.mapping.yamlload import KeyedDict

__all__ = ["Reader", "join"]

E = TypeVar("E", bound=Enum)


def join(path: str, key: object) -> str:
    """Path of ``key`` under ``path``: ``systems.holded.taxes.s_iva_21``."""
    return f"{path}.{key}" if path else str(key)


class Reader:
    """Collects issues for one document while its parts are read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []

    def error(self, path: str, problem: str, expected: str = "") -> None:
        self.issues.append(Issue(self.file, path, problem, expected))

    def warn(self, path: str, problem: str, expected: str = "") -> None:
        """Something that will park records but may be what the customer means."""
        self.warnings.append(Issue(self.file, path, problem, expected))

    def mapping(self, value: Any, path: str, *, required: bool = True) -> dict[Any, Any] | None:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"got {_describe(value)}", "a mapping of keys to values")
            return None
        for key, line in getattr(value, "duplicates", []):
            self.error(join(path, key), f"duplicate code {key!r} (again on line {line})",
                       "each code once")
        return value

    def sequence(self, value: Any, path: str) -> list[Any] | None:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, f"got {_describe(value)}", "a list")
            return None
        return value

    def unknown_keys(self, value: dict[Any, Any], path: str, allowed: set[str]) -> None:
        for key in value:
            if key not in allowed:
                self.error(join(path, key), f"unknown key {key!r}",
                           "one of " + ", ".join(sorted(allowed)))

    def string(self, value: Any, path: str, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if isinstance(value, str) and value.strip():
            return value
        self.error(path, f"got {_describe(value)}", "a non-empty string")
        return None

    def code(self, value: Any, path: str) -> str | None:
        """A code written as a string, or as a bare integer (``430`` for an account)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.string(value, path)

    def integer(self, value: Any, path: str, *, minimum: int | None = None) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool):
            if minimum is None or value >= minimum:
                return value
            self.error(path, f"got {value}", f"an integer >= {minimum}")
            return None
        self.error(path, f"got {_describe(value)}", "an integer")
        return None

    def boolean(self, value: Any, path: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(path, f"got {_describe(value)}", "true or false")
        return None

    def decimal(self, value: Any, path: str, *, places: int = 4) -> Decimal | None:
        try:
            return to_decimal(value, places=places)
        except InexactNumber as exc:
            self.error(path, str(exc), f"an exact number with at most {places} decimal places, "
                       "e.g. 5.2 or '5.2'")
            return None

    def choice(self, value: Any, path: str, enum: type[E]) -> E | None:
        try:
            return enum(value)
        except ValueError:
            self.error(path, f"got {_describe(value)}",
                       "one of " + ", ".join(member.value for member in enum))
            return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, KeyedDict | dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
