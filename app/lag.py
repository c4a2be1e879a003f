"""Where the engine's consumer groups stand: committed offsets against the end of each partition.

One reading serves three readers: the worker's lag gauges, its replay-progress gauge, and the
`replay --since` command following a rewind. Lag is measured like `kafka-consumer-groups.sh`
does (end offset minus committed offset), so it is the same for every worker that reads it:
a partition whose owner died still shows its lag.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.settings import Settings
from app.topics import TopicNames, kafka_client_options

__all__ = ["GroupReader", "Progress", "watched_groups"]


def watched_groups(settings: Settings, sink_systems: Iterable[str]) -> dict[str, list[str]]:
    """Each consumer group of a worker and the topics it reads: the sequencer copies sources
    into ``inbox``; the faust group (the generation's app id) reads ``inbox`` and the commands
    of the systems it has sinks for (credentials configured)."""
    names = TopicNames(settings)
    systems = settings.systems
    sources = [names.changes(s) for s in systems] + [names.results(s) for s in systems]
    sinks = [names.commands(s, lane) for s in sink_systems for lane in ("realtime", "bulk")] + \
            [names.retries(s) for s in sink_systems]
    return {names.sequencer_group: sources, names.app_id: [names.inbox, *sinks]}


@dataclass(frozen=True, slots=True)
class Position:
    committed: int  # next offset the group will read (the beginning when it never committed)
    end: int  # high watermark: one past the last record


class GroupReader:
    """Reads committed and end offsets; keep one open and call :meth:`read` repeatedly."""

    def __init__(self, settings: Settings) -> None:
        opts = kafka_client_options(settings)
        self.settings = settings
        self.admin = AIOKafkaAdminClient(**opts)
        self.consumer = AIOKafkaConsumer(**opts, enable_auto_commit=False)

    async def __aenter__(self) -> GroupReader:
        try:
            await self.admin.start()
            await self.consumer.start()
        except BaseException:  # a failed start is stopped too (no "Unclosed" at exit)
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def read(self, group: str, topics: list[str]) -> dict[TopicPartition, Position]:
        tps = [TopicPartition(t, p) for t in topics for p in range(self.settings.partitions)]
        committed = await self.admin.list_consumer_group_offsets(group)
        ends = await self.consumer.end_offsets(tps)
        starts = await self.consumer.beginning_offsets(tps)
        out = {}
        for tp in tps:
            meta = committed.get(tp)
            at = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
            out[tp] = Position(at, ends[tp])
        return out


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a group has come through a fixed stretch of partitions: from ``start`` (its
    offsets when the stretch was fixed) to ``target`` (the ends then). Pure: feed it readings."""

    start: Mapping[TopicPartition, int]
    target: Mapping[TopicPartition, int]

    @classmethod
    def fixed_at(cls, positions: Mapping[TopicPartition, Position]) -> Progress:
        return cls({tp: p.committed for tp, p in positions.items()},
                   {tp: max(p.end, p.committed) for tp, p in positions.items()})

    @property
    def planned(self) -> int:
        return sum(self.target[tp] - self.start[tp] for tp in self.target)

    def done(self, committed: Mapping[TopicPartition, int]) -> int:
        return sum(min(max(committed.get(tp, self.start[tp]), self.start[tp]), self.target[tp])
                   - self.start[tp] for tp in self.target)

    def ratio(self, committed: Mapping[TopicPartition, int]) -> float:
        return self.done(committed) / self.planned if self.planned else 1.0
