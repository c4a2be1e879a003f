"""Every series the worker exports is in docs/operations.md's metrics table, with its labels: an
operator writing a query or an alert reads that table, not app/metrics.py."""
from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.exported import exported_families

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _table_rows() -> dict[str, set[str]]:
    """Series name -> the labels its row of the metrics table names."""
    text = DOCS.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        labels = {label for label in re.findall(r"[a-z_]+", cells[2])}
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            rows[re.sub(r"_total$", "", name)] = labels
    return rows


def test_every_exported_series_is_documented_with_its_labels():
    rows = _table_rows()
    ours = {name: labels for name, (_kind, labels) in exported_families().items()
            if name.startswith("holded_sync_")}
    assert sorted(set(ours) - set(rows)) == []
    assert {n: sorted(labels - rows[n]) for n, labels in ours.items() if labels - rows[n]} == {}
