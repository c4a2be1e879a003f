"""Counts of the fuzzed records, shared by the fuzz tests and the session summary.

With parallel test processes each process counts its own; ``export`` and ``merge`` carry them
to the process that prints the summary (tests/conftest.py)."""
from __future__ import annotations

from collections import Counter
from typing import Any

FUZZED: Counter[str] = Counter()     # category -> records generated and run
OUTCOMES: Counter[str] = Counter()   # "rejected:<Error>" | "decided:<outcome>" | "ingest:..."
MINIMUM = 10_000


def total() -> int:
    return sum(FUZZED.values())


def export() -> dict[str, Any]:
    return {"fuzzed": dict(FUZZED), "outcomes": dict(OUTCOMES)}


def merge(data: dict[str, Any]) -> None:
    FUZZED.update(data.get("fuzzed", {}))
    OUTCOMES.update(data.get("outcomes", {}))
