"""The sequencer survives a rebalance that takes partitions while a batch is in flight, and a
stop that comes while it commits."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from app.sequencer import Sequencer
from app.settings import Settings

OURS, MOVED = TopicPartition("changes.odoo", 0), TopicPartition("changes.odoo", 1)


class Producer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, topic: str, key: bytes, value: bytes, headers: Any) -> Any:
        self.sent.append(value)

        async def delivered() -> None:
            return None
        return delivered()


class Consumer:
    """Owns only OURS by the time the batch is produced; a commit of MOVED would fail."""

    def __init__(self, fail: bool = False) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = fail

    def assignment(self) -> set[TopicPartition]:
        return {OURS}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.fail or MOVED in offsets:
            raise CommitFailedError("rebalanced")
        self.commits.append(offsets)


def batch() -> dict[TopicPartition, list[Any]]:
    def msg(tp: TopicPartition, offset: int) -> Any:
        return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset,
                               key=b"k", value=f"{tp.partition}:{offset}".encode())
    return {OURS: [msg(OURS, 4), msg(OURS, 5)], MOVED: [msg(MOVED, 7)]}


async def test_only_partitions_still_owned_are_committed_after_the_batch_is_copied() -> None:
    sequencer, consumer, producer = Sequencer(Settings()), Consumer(), Producer()
    await sequencer._copy(consumer, producer, batch())  # type: ignore[arg-type]
    assert producer.sent == [b"0:4", b"0:5", b"1:7"]  # every record reached the inbox
    assert consumer.commits == [{OURS: 6}]  # the moved partition is re-copied by its new owner


async def test_a_commit_refused_by_a_rebalance_is_not_a_crash() -> None:
    sequencer, producer = Sequencer(Settings()), Producer()
    await sequencer._copy(Consumer(fail=True), producer, batch())  # type: ignore[arg-type]
    assert len(producer.sent) == 3


class SlowConsumer(Consumer):
    """A commit that takes a while, as one to a busy broker does."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.started.set()
        await asyncio.sleep(0.2)
        self.commits.append(offsets)


async def test_a_stop_during_the_commit_waits_for_it_before_the_consumer_closes() -> None:
    """The worker stopping cancels the sequencer mid-commit: the commit still completes, and
    only then does the cancellation go on (to ``consumer.stop()``)."""
    sequencer, consumer = Sequencer(Settings()), SlowConsumer()
    copying = asyncio.ensure_future(sequencer._copy(consumer, Producer(), batch()))  # type: ignore[arg-type]
    await consumer.started.wait()
    copying.cancel()
    try:
        await copying
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the cancellation was swallowed")
    assert consumer.commits == [{OURS: 6}]
