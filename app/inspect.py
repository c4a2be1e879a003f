"""Read what the engine knows straight from Kafka: topics, and tables via their changelogs.

A table *is* its changelog (latest value per key), so operators and tests can see state
without asking a worker, and a replay can be compared with the original byte for byte.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.settings import Settings
from app.canonical_entry import project
from app.topics import CANONICAL_TABLE, TopicNames, kafka_client_options

__all__ = ["Record", "read_table", "read_to_end", "read_topic", "topic_exists"]

@dataclass(frozen=True, slots=True)
class Record:
    key: str | None
    value: Any
    partition: int
    offset: int
    timestamp: int


async def read_topic(settings: Settings, topic: str, decode: Callable[[bytes], Any] | None = None,
                     key: str | None = None) -> list[Record]:
    """Every record of ``topic`` up to its current end (only ``key``'s partition if given)."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    try:
        await consumer.start()  # in the try: a failed start is stopped too
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        out: list[Record] = []
        async for _tp, m in read_to_end(consumer, tps):
            # A key that is not UTF-8 (a bad record, dead-lettered with it) stays readable.
            k = m.key.decode("utf-8", "backslashreplace") if m.key is not None else None
            if key is None or k == key:
                value = decode(m.value) if decode and m.value is not None else m.value
                out.append(Record(k, value, m.partition, m.offset, m.timestamp))
        return out
    finally:
        await consumer.stop()


async def read_to_end(consumer: AIOKafkaConsumer, tps: list[TopicPartition]
                      ) -> AsyncIterator[tuple[TopicPartition, Any]]:
    """Assign ``tps`` to ``consumer`` and yield (partition, message) from each one's start up to
    its end when the read began: records produced meanwhile are not waited for."""
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends = await consumer.end_offsets(tps)
    left = {tp for tp in tps if ends[tp] > 0}
    while left:
        batch = await consumer.getmany(*left, timeout_ms=1000)
        for tp, msgs in batch.items():
            for m in msgs:
                if m.offset < ends[tp]:
                    yield tp, m
                if m.offset + 1 >= ends[tp]:
                    left.discard(tp)
        for tp in list(left):
            if await consumer.position(tp) >= ends[tp]:
                left.discard(tp)


async def read_table(settings: Settings, table: str) -> dict[str, Any]:
    """The table's current content: the latest value per key of its changelog.

    ``entities``, ``replicas`` and ``links`` are views of the one ``canonical`` table."""
    topic = TopicNames(settings).changelog(CANONICAL_TABLE)
    state: dict[str, Any] = {}
    for rec in await read_topic(settings, topic):
        value = project(rec.value, table) if rec.value is not None else None
        if value is None:
            state.pop(rec.key, None)
        else:
            state[rec.key] = value
    return state


async def topic_exists(settings: Settings, topic: str) -> bool:
    """Whether the broker knows ``topic`` (an empty table and a wrong topic prefix both read
    as no records; this tells them apart)."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    try:
        await consumer.start()  # in the try: a failed start is stopped too
        return topic in await consumer.topics()
    finally:
        await consumer.stop()
