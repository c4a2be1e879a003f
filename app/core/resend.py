"""Anti-entropy: a command whose outcome never came back is sent again.

The transport is at-least-once, but a consumer can still skip a record: faust's consumer, in
the rebalance right after a worker joins, has been seen to commit past a command it never
handed to the sink agent (docs/scaling.md). The canonical state shows such a write as
*outstanding*: the replica has a ``pending_vector`` that its ``vector`` does not include (a
success merges the pending vector in; a failure or a park clears it). When a write stays
outstanding while nothing is left to read in its partition, it was lost, and it is emitted
again with the same command id: the sink's ledger makes a repeat of a write that did happen
an ``already_done``, so resending is always safe.

Only a write whose pending vector is the entity's current vector can be rebuilt exactly
(payload, content hash and dependencies follow from the current record); an older one has
been overtaken by a newer decision, whose own command carries the newer record.
"""
from __future__ import annotations

from typing import Any

from app.core.dependencies import dependencies
from app.core.vectors import command_id, dominates

__all__ = ["OutstandingWrites", "lost_commands", "outstanding"]

Record = dict[str, Any]


def outstanding(replicas: Record | None) -> dict[str, dict[str, int]]:
    """Target system -> vector of the write in flight, for writes with no outcome yet."""
    out: dict[str, dict[str, int]] = {}
    for system, rep in ((replicas or {}).get("systems") or {}).items():
        pending = rep.get("pending_vector") or {}
        if pending and not dominates(rep.get("vector") or {}, pending):
            out[system] = dict(pending)
    return out


def lost_commands(key: str, state: Record | None, replicas: Record | None,
                  links: Record | None, targets: frozenset[str], *, lane: str = "realtime",
                  caused_by: str | None = None) -> list[Record]:
    """The commands to emit again for ``key``: its outstanding writes that can be rebuilt.
    ``caused_by`` defaults to ``resend:<command id>`` (the resend timer's mark)."""
    if not state:
        return []
    ids = (links or {}).get("ids") or {}
    systems = (replicas or {}).get("systems") or {}
    record, vector = state.get("record"), state.get("vector") or {}
    commands = []
    for target, pending in outstanding(replicas).items():
        if target not in targets or pending != vector:
            continue
        rep = systems[target]
        commands.append({
            "command_id": command_id(key, target, vector), "entity_key": key,
            "entity": state["entity"], "target_system": target,
            "op": "delete" if state.get("deleted") else "upsert", "vector": dict(vector),
            "payload": record, "content_hash": rep.get("pending_hash") or "",
            "target_id": ids.get(target), "links": dict(ids),
            "depends_on": dependencies(state["entity"], record), "lane": lane,
            "mapping_version": None,
            "caused_by": caused_by or f"resend:{command_id(key, target, vector)}",
            "base_ts": rep.get("source_ts") or 0, "base_hash": rep.get("content_hash")})
    return commands


class OutstandingWrites:
    """Remembers since when each outstanding write has been seen, to resend only the stuck.

    A write is due once it has been outstanding for ``after_s`` seconds of checks during
    which its partition had nothing left to read (the caller leaves out the writes of a
    partition with unread records: those may simply be queued, and their clock restarts);
    then its clock starts again, so a write that keeps not coming back is resent once per
    ``after_s``, not on every check.
    """

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._since: dict[str, float] = {}

    def due(self, command_ids: set[str], now: float) -> set[str]:
        for gone in set(self._since) - command_ids:
            del self._since[gone]
        ready = set()
        for cid in command_ids:
            first = self._since.setdefault(cid, now)
            if now - first >= self.after_s:
                ready.add(cid)
                self._since[cid] = now
        return ready
