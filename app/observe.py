"""Gauges a worker samples every few seconds: consumer lag, DLQ size, parked commands, replay
progress. They need Kafka round trips or a table scan, too slow for the scrape itself.

Replay progress is fixed when the worker starts, before its consumer joins the group
(:func:`replay_plan`): what its group had still to read of ``inbox`` then (all of it for a new
generation, the rewound stretch after `replay --since`, a backlog after a restart) against
what it has read since. A sampler built without a plan fixes it at its first sample, by which
time the group may already have committed part of it. Every worker computes it for the whole
group, so it reaches 1 when the group, not just this worker, has caught up.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from app.avro import codec
from connectors.base.contracts import DEFAULT_PARKED_KIND, PARKED_KINDS
from app.lag import GroupReader, Progress, watched_groups
from app.metrics import METRICS
from app.settings import Settings
from app.topics import TopicNames

__all__ = ["Sampler", "parked_by_kind", "replay_plan"]

log = logging.getLogger(__name__)
LEDGER = codec("SinkLedger")


async def replay_plan(settings: Settings, wait_s: float = 20.0) -> Progress | None:
    """What the group has still to read of ``inbox`` now: read it before the worker consumes.
    On a new broker the group coordinator appears only after the first request for it, so a
    refusal is tried again; past ``wait_s`` the sampler fixes the plan at its first sample."""
    names = TopicNames(settings)
    deadline = asyncio.get_running_loop().time() + wait_s
    async with GroupReader(settings) as reader:
        while True:
            try:
                return Progress.fixed_at(await reader.read(names.app_id, [names.inbox]))
            except KafkaError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    log.warning("replay progress: could not read the group's offsets (%s); "
                                "it is fixed at the first sample instead", exc)
                    return None
                await asyncio.sleep(0.5)


class Sampler:
    def __init__(self, settings: Settings, ledgers: Mapping[str, Any],
                 replay: Progress | None = None) -> None:
        self.settings, self.ledgers = settings, ledgers
        self.names = TopicNames(settings)
        self.replay = replay

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                async with GroupReader(self.settings) as reader:
                    while True:
                        await self.sample(reader)
                        await asyncio.sleep(interval_s)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed sample must not stop the worker: reconnect, go on
                log.warning("sampling metrics failed; retrying in %.0fs", interval_s, exc_info=True)
                await asyncio.sleep(interval_s)

    async def sample(self, reader: GroupReader) -> None:
        for group, topics in watched_groups(self.settings, self.ledgers).items():
            positions = await reader.read(group, topics)
            for tp, pos in positions.items():
                METRICS.consumer_lag.labels(group=self.names.logical(group), topic=self.names.logical(tp.topic),
                                            partition=str(tp.partition)).set(max(0, pos.end - pos.committed))
            if group == self.names.app_id:
                self._replay({tp: p for tp, p in positions.items() if tp.topic == self.names.inbox})
        dlq = [TopicPartition(self.names.dlq, p) for p in range(self.settings.partitions)]
        ends, starts = await reader.consumer.end_offsets(dlq), await reader.consumer.beginning_offsets(dlq)
        METRICS.dlq_size.set(sum(ends[tp] - starts[tp] for tp in dlq))
        for system, ledger in self.ledgers.items():
            for kind, count in parked_by_kind(ledger).items():
                METRICS.parked.labels(system=system, reason=kind).set(count)

    def _replay(self, inbox: Mapping[TopicPartition, Any]) -> None:
        if self.replay is None:
            self.replay = Progress.fixed_at(inbox)
        committed = {tp: p.committed for tp, p in inbox.items()}
        METRICS.replay_planned.set(self.replay.planned)
        METRICS.replay_done.set(self.replay.done(committed))
        METRICS.replay_progress.set(self.replay.ratio(committed))


def parked_by_kind(ledger: Any) -> dict[str, int]:
    """Parked commands in a ledger table (the partitions this worker holds), by why they wait;
    every kind is present, so a kind whose last command was re-driven reads 0, not its last
    value. A command parked before kinds were recorded counts as "review"."""
    counts = dict.fromkeys(PARKED_KINDS, 0)
    for _key, raw in list(ledger.items()):
        if not raw:
            continue
        state = LEDGER.loads(raw)
        for cid in state["parked"]:
            kind = state["parked_kinds"].get(cid, DEFAULT_PARKED_KIND)
            counts[kind if kind in counts else DEFAULT_PARKED_KIND] += 1
    return counts
