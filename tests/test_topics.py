"""ensure_topics against the real broker: the topics it creates take writes as soon as it returns."""
from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaProducer

from app.topics import TopicNames, ensure_topics, kafka_client_options, topic_plan

pytestmark = pytest.mark.kafka


def test_new_topics_take_writes_without_a_retry_as_soon_as_ensure_topics_returns(
        kafka, tmp_path, caplog):
    settings = kafka.settings(tmp_path)
    names = TopicNames(settings)
    flow_topics = [names.inbox, names.changes("odoo"), names.commands("holded", "realtime")]

    async def create_then_write() -> list[str]:
        created = await ensure_topics(settings)
        producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
        await producer.start()
        try:
            with caplog.at_level(logging.WARNING, logger="aiokafka"):
                sent = [await producer.send(topic, b"x", partition=p)
                        for topic in flow_topics for p in range(settings.partitions)]
                await asyncio.gather(*sent)
        finally:
            await producer.stop()
        return created

    created = asyncio.run(create_then_write())
    assert set(created) == {t.name for t in topic_plan(settings)}
    # Before, the metadata named each leader ~0.2 s before it served the partition: the first
    # writes were refused (NOT_LEADER_OR_FOLLOWER) and retried with a warning each.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("aiokafka")] == []
    assert asyncio.run(ensure_topics(settings)) == []  # a second call creates nothing
