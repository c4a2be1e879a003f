"""Records faust clears from the agents' queues when it resumes the flow are read again.

faust's ``flow_control.resume()`` (mode's ``FlowControlEvent``) empties every stream's input
queue: it is meant to drop what was queued before a rebalance. But the recovery calls it
*after* it has sought the partitions to their committed offsets, and the fetch loop, released
by the end of the seek, may run first and hand records fetched from the new position to the
queues. Those records are then thrown away unacked, while the fetch loop's read offset has
moved past them: the next record it delivers follows on, so no gap is seen, and the agent
never gets them. Seen in the scale-out test under load (the full suite in a second process):
a command partition sought to 0 after a rebalance, "offset 0 was never processed; not
committing past it (acked from 1)", and the command only run at the next rebalance.

The fix reads the partitions again from the lowest offset it clears (``faust_fixes.read_again``),
for the records of the current generation of a partition still assigned and consumed by an
agent. Records from before the rebalance are left to the seek after it, as before.
At-least-once: a record read twice is a duplicate every agent drops.
"""
from __future__ import annotations

import logging
from typing import Any

from faust.types import TP, EventT
from mode.utils.queues import FlowControlEvent

from app import faust_fixes

__all__ = ["install"]

log = logging.getLogger(__name__)
_ORIGINAL: dict[str, Any] = {}


def _cleared(flow_control: Any) -> dict[Any, dict[TP, int]]:
    """Per consumer, the lowest offset of each partition's records the resume would clear."""
    lowest: dict[Any, dict[TP, int]] = {}
    for queue in list(flow_control._queues):
        for item in list(getattr(queue, "_queue", ())):
            if not isinstance(item, EventT) or item.message is None:
                continue
            message, app = item.message, item.app
            if message.generation_id != app.consumer_generation_id:
                continue  # fetched before the rebalance: its seek reads it again
            offsets = lowest.setdefault(app.consumer, {})
            tp = message.tp
            offsets[tp] = min(offsets.get(tp, message.offset), message.offset)
    return lowest


def resume(self: Any) -> None:
    """faust's resume, after which the records it cleared are read again."""
    cleared = _cleared(self)
    _ORIGINAL["resume"](self)
    for consumer, offsets in cleared.items():
        assigned = consumer.assignment()
        for tp, offset in sorted(offsets.items()):
            if tp in assigned and faust_fixes.acking(consumer, tp):
                log.info("%s: records from %d were cleared from the agents' queues when the "
                         "flow resumed; reading the partition again from %d", tp, offset, offset)
                faust_fixes.read_again(consumer, tp, offset)


def install() -> None:
    """Patch mode's FlowControlEvent once per process (idempotent)."""
    if not _ORIGINAL:
        _ORIGINAL["resume"] = FlowControlEvent.resume
        FlowControlEvent.resume = resume
