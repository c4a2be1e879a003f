"""The worker's resend timer: emits again the commands whose outcome never came back.

Every ``HOLDED_SYNC_RESEND_AFTER_S / 2`` seconds each worker looks at the entities of the
partitions it owns (app/core/resend.py says which writes are outstanding and how they are
rebuilt). A partition counts only when nothing is left to read in it: its ``inbox`` and
commands (both lanes) fully consumed by the worker group, its results fully copied by the
sequencer. Otherwise the write may just be queued behind others. Commands waiting in the retry
topic for a dependency do not hold a partition back: the record they wait for may be the lost
one. (Such a waiting command may itself be resent once; the copy waits the same way and ends
as ``already_done``.)
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

from app import canonical_entry as entry
from app.avro import codec
from app.core.resend import OutstandingWrites, lost_commands
from app.lag import GroupReader
from app.metrics import METRICS
from app.settings import Settings
from app.topics import TopicNames

__all__ = ["register_resender"]

log = logging.getLogger(__name__)
COMMAND = codec("Command")


def register_resender(app: faust.App, settings: Settings, canonical: faust.Table,
                      commands: Mapping[tuple[str, str], faust.TopicT], sinks: frozenset[str],
                      now: Callable[[], float] = time.monotonic) -> None:
    """Install the timer (off when ``resend_after_s`` is 0 or no system has a sink)."""
    if settings.resend_after_s <= 0 or not sinks:
        return
    names = TopicNames(settings)
    writes = OutstandingWrites(settings.resend_after_s)
    partitioner = DefaultPartitioner()
    all_partitions = list(range(settings.partitions))

    async def settled_partitions() -> set[int]:
        """Partitions with nothing left to read for the worker group or the sequencer."""
        busy: set[int] = set()
        async with GroupReader(settings) as reader:
            # Not the retry topics: a command waiting there for a record it depends on must
            # not hold back the resend of that very record (it may be the one that was lost).
            reads = {names.app_id: [names.inbox] + [
                t for s in sinks for t in (names.commands(s, "realtime"), names.commands(s, "bulk"))],
                     names.sequencer_group: [names.results(s) for s in sinks]}
            for group, topics in reads.items():
                for tp, pos in (await reader.read(group, topics)).items():
                    if pos.committed < pos.end:
                        busy.add(tp.partition)
        return set(all_partitions) - busy

    @app.timer(interval=max(1.0, settings.resend_after_s / 2))
    async def resend_lost_commands() -> None:
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == names.inbox}
        if not owned:
            return
        try:
            settled = owned & await settled_partitions()
        except Exception as exc:  # noqa: BLE001 - a check that cannot read offsets waits a turn
            log.warning("resend check skipped: cannot read group offsets (%s)", exc)
            return
        found: dict[str, tuple[bytes, dict[str, Any]]] = {}
        for key, raw in list(canonical.items()):
            if partitioner(key, all_partitions, all_partitions) not in settled:
                continue
            known = entry.decode(raw)
            for cmd in lost_commands(key.decode(), known["state"], known["replicas"],
                                     known["links"], sinks):
                found[cmd["command_id"]] = (key, cmd)
        for cid in writes.due(set(found), now()):
            key, cmd = found[cid]
            log.warning("resending %s to %s: its outcome never came back (command %s)",
                        cmd["entity_key"], cmd["target_system"], cid)
            METRICS.events.labels(topic="commands", direction="out").inc()
            METRICS.resent_commands.labels(system=cmd["target_system"]).inc()
            await commands[cmd["target_system"], "realtime"].send(key=key, value=COMMAND.dumps(cmd))
