"""The chaos suite's counts, for the report: printed at the end of the pytest run and written
to ``build/chaos-summary.json`` (only when a chaos scenario ran)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = ROOT / "build" / "chaos-summary.json"

COUNTS: Counter[str] = Counter()
DETAILS: dict[str, Any] = {}


def record(scenario: str, **counts: int) -> None:
    COUNTS["scenarios"] += 1
    COUNTS.update(counts)
    DETAILS.setdefault(scenario, {}).update(counts)


def note(scenario: str, **facts: Any) -> None:
    DETAILS.setdefault(scenario, {}).update(facts)


def export() -> dict[str, Any]:
    """This process's counts, for the process that prints the summary (parallel runs)."""
    return {"counts": dict(COUNTS), "details": DETAILS}


def merge(data: dict[str, Any]) -> None:
    COUNTS.update(data.get("counts", {}))
    for scenario, facts in data.get("details", {}).items():
        DETAILS.setdefault(scenario, {}).update(facts)


def summary() -> dict[str, Any]:
    keys = ("scenarios", "kills", "kills_during_ingest", "kills_while_busy", "kills_after_write",
            "broker_restarts", "faults_injected", "duplicates", "lost", "dlq_redeliveries")
    from tests.fuzz import tally as fuzz  # the bad-event fuzzer's count, when it ran in this session

    return {**{k: COUNTS.get(k, 0) for k in keys}, "events_fuzzed": fuzz.total(), "by_scenario": DETAILS}


def write() -> dict[str, Any] | None:
    if not COUNTS:
        return None
    data = summary()
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return data
