"""Counts of the fuzzed records, shared by the fuzz tests and the session summary."""
from __future__ import annotations

from collections import Counter

FUZZED: Counter[str] = Counter()     # category -> records generated and run
OUTCOMES: Counter[str] = Counter()   # "rejected:<Error>" | "decided:<outcome>" | "ingest:..."
MINIMUM = 10_000


def total() -> int:
    return sum(FUZZED.values())
