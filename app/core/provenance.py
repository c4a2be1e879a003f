"""EntityState's provenance on the wire: grouped by origin.

In memory (and in app.core.decide) provenance is ``{field: {system, source_ts, event_id}}``.
Written that way it repeats the same origin for most of a record's fields, and Avro pays for
every repetition on each decision. On the wire (EntityState v2) it is a list of groups, one per
origin with its fields; reading expands it back. The groups are sorted (origin, then field
names), so the bytes do not depend on the order of the dict: a state decoded from the table
and the same state kept in memory encode to the same bytes.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["from_wire", "to_wire"]

Record = dict[str, Any]


def to_wire(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """``state`` with its provenance as ``provenance_groups`` (and ``provenance`` empty)."""
    provenance = state.get("provenance")
    if not provenance:
        return state
    groups: dict[tuple[int, str, str], list[str]] = {}
    for field, origin in provenance.items():
        key = (origin["source_ts"], origin["system"], origin["event_id"])
        fields = groups.get(key)
        if fields is None:
            groups[key] = [field]
        else:
            fields.append(field)
    return {**state, "provenance": {}, "provenance_groups": [
        {"system": system, "source_ts": ts, "event_id": event_id, "fields": sorted(fields)}
        for (ts, system, event_id), fields in sorted(groups.items())]}


def from_wire(state: Record) -> Record:
    """The decoded ``state`` with ``provenance_groups`` folded back into ``provenance``
    (in place). Fields of one group share one origin dict: treat it as read-only."""
    groups = state.pop("provenance_groups", None)
    if groups:
        provenance = dict(state.get("provenance") or {})
        for group in groups:
            origin = {"system": group["system"], "source_ts": group["source_ts"],
                      "event_id": group["event_id"]}
            for field in group["fields"]:
                provenance[field] = origin
        state["provenance"] = provenance
    return state
