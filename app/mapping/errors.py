"""Errors of the mapping engine.

    MappingError
     +-- MappingInvalid      the mapping document itself is wrong (carries every Issue found)
     +-- Unmappable          a canonical record cannot be mapped with this mapping version
          +-- TotalsMismatch the mapped totals differ from the source's totals to the cent

``MappingInvalid`` is a configuration fault: the customer fixes the YAML. ``Unmappable`` is a data
fault that is retried when a new mapping version arrives, so the sink parks the command with the
reasons instead of sending a half-mapped payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Issue", "MappingError", "MappingInvalid", "Unmappable", "TotalsMismatch"]


class MappingError(Exception):
    """Base of every error raised by ``app.mapping``."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a mapping document: where it is, what is wrong, what was expected."""

    file: str
    path: str
    problem: str
    expected: str = ""

    def __str__(self) -> str:
        text = f"{self.file}: {self.path or '<root>'}: {self.problem}"
        return f"{text} (expected {self.expected})" if self.expected else text


class MappingInvalid(MappingError):
    """The mapping document failed validation; ``issues`` lists all problems, not just the first."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"mapping document has {len(self.issues)} error(s):\n{lines}")


class Unmappable(MappingError):
    """A record cannot be mapped; ``reasons`` says every code that failed and where."""

    def __init__(self, reasons: list[str], *, mapping_version: int | None = None) -> None:
        self.reasons = list(reasons)
        self.mapping_version = mapping_version
        super().__init__("; ".join(self.reasons))


class TotalsMismatch(Unmappable):
    """Mapped totals differ from the source document's totals; each reason shows both sides."""

    def __init__(
        self,
        differences: dict[str, tuple[Decimal, Decimal]],
        *,
        mapping_version: int | None = None,
        rounding: str = "",
        mapped: dict[str, Decimal] | None = None,
    ) -> None:
        self.differences = dict(differences)
        self.mapped = dict(mapped or {})  # all mapped amounts, to show next to the source's
        how = f" ({rounding} rounding)" if rounding else ""
        reasons = [
            f"{name}: source {source} != mapped {mapped}{how}, difference {mapped - source}"
            for name, (source, mapped) in self.differences.items()
        ]
        super().__init__(reasons, mapping_version=mapping_version)
