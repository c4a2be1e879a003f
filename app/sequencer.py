"""The sequencer: one ordered inbox per entity, so a replay sees exactly what the original saw.

Changes arrive on one topic per system and results on one topic per sink. Kafka orders each
partition, not the interleaving of several topics, so two runs of the canonical agent over the
same topics could see one entity's changes and results in different orders, and decide
differently. The sequencer copies every record of those topics, byte for byte, into ``inbox``
(keyed by entity key); the canonical agent reads only ``inbox``. The interleaving is decided
once, written down, and every replay of ``inbox`` rebuilds the same tables.

Its consumer group does not change with the table generation: a replay re-reads ``inbox``
from the start while the sequencer goes on from where it was. At-least-once: a crash between
produce and commit copies a few records twice, which the canonical decision drops as
duplicates.
"""
from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, IllegalStateError

from app.metrics import METRICS
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options

__all__ = ["SOURCE_HEADER", "Sequencer"]

log = logging.getLogger(__name__)
SOURCE_HEADER = "hs-source"  # "<topic>:<partition>:<offset>" of the original record
MAX_BATCH = 5000
COMMIT_ON_STOP_S = 5.0  # well inside the pods' grace period (docs/deploy.md)


class Sequencer:
    def __init__(self, settings: Settings) -> None:
        names = self.names = TopicNames(settings)
        self.settings = settings
        self.sources = [names.changes(s) for s in settings.systems] + \
                       [names.results(s) for s in settings.systems]
        self.inbox = names.inbox
        self.group = names.sequencer_group
        self.copied = 0

    async def run(self, stopping: asyncio.Event) -> None:
        opts = kafka_client_options(self.settings)
        consumer = AIOKafkaConsumer(
            *self.sources, **opts, group_id=self.group, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=MAX_BATCH,
            group_instance_id=self.settings.group_instance_id,
            session_timeout_ms=int(self.settings.session_timeout_s * 1000),
            heartbeat_interval_ms=max(1000, int(self.settings.session_timeout_s * 100)))
        producer = AIOKafkaProducer(**opts, acks="all", enable_idempotence=True, linger_ms=5,
                                    max_batch_size=1 << 20)
        try:
            await producer.start()  # in the try: a failed start is stopped too
            await consumer.start()
            while not stopping.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=MAX_BATCH)
                if batch:
                    await self._copy(consumer, producer, batch)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _copy(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, batch: dict) -> None:
        pending = []
        for tp, messages in batch.items():
            METRICS.events.labels(topic=self.names.logical(tp.topic), direction="in").inc(len(messages))
            for m in messages:
                origin = f"{m.topic}:{m.partition}:{m.offset}".encode()
                pending.append(await producer.send(
                    self.inbox, key=m.key, value=m.value, headers=[(SOURCE_HEADER, origin)]))
        await asyncio.gather(*pending)
        # Commit only once the inbox has every copied record (at-least-once). A rebalance
        # while the batch was in flight may have moved some partitions to another worker:
        # theirs is not ours to commit; the new owner copies those records again.
        assigned = consumer.assignment()
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items() if tp in assigned}
        try:
            if offsets:
                await _commit_even_when_stopping(consumer, offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.info("sequencer: partitions moved mid-batch, their records will be copied "
                     "again by the new owner (%s)", exc)
        self.copied += len(pending)
        METRICS.events.labels(topic="inbox", direction="out").inc(len(pending))


async def _commit_even_when_stopping(consumer: AIOKafkaConsumer, offsets: dict) -> None:
    """Commit; if the worker stops meanwhile (the task is cancelled), let the commit finish,
    for at most COMMIT_ON_STOP_S, before the cancellation goes on to stop the consumer.

    aiokafka shields its commit request from cancellation, so a cancelled commit kept running
    while ``consumer.stop()`` closed its connection: it failed, unseen ("Task exception was
    never retrieved" with a traceback at every such stop), and the copied batch was copied
    again by the next start."""
    commit = asyncio.ensure_future(consumer.commit(offsets))
    try:
        await asyncio.shield(commit)
    except asyncio.CancelledError:
        try:
            await asyncio.wait_for(commit, COMMIT_ON_STOP_S)
        except Exception as exc:  # the copies are made again at the next start: at-least-once
            log.info("sequencer: stopping, the last commit did not complete (%r)", exc)
        raise
