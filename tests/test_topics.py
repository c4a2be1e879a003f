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


def test_topics_with_another_partition_count_stop_every_command_with_one_clear_line(kafka, tmp_path):
    from click.testing import CliRunner

    from app.cli import cli
    from app.inspect import topic_exists
    from app.topics import PartitionMismatch

    settings = kafka.settings(tmp_path, partitions=4)
    asyncio.run(ensure_topics(settings))
    eight = settings.model_copy(update={"partitions": 8, "generation": 1})
    with pytest.raises(PartitionMismatch) as mismatch:
        asyncio.run(ensure_topics(eight))
    four = {t.name for t in topic_plan(settings) if t.partitions == 4}
    flow = [t.name for t in topic_plan(eight) if t.name in four]  # gen 1 shares all but a changelog
    assert str(mismatch.value).startswith(
        f"topics exist with another partition count than HOLDED_SYNC_PARTITIONS=8: "
        f"{len(flow)} have 4 ({', '.join(flow[:3])} and {len(flow) - 3} more). Set "
        "HOLDED_SYNC_PARTITIONS to the count they have")
    # Nothing was created for the new generation: its changelog would have had 8 partitions.
    assert not asyncio.run(topic_exists(settings, TopicNames(eight).changelog("canonical")))

    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text('{"entity": "contact", "id": "C1", "updated_at": "2026-03-02T09:00:00Z", '
                     '"data": {"kind": "customer", "name": "A", "tax_id": "B12345674"}}\n')
    res = CliRunner().invoke(cli, ["ingest", str(jsonl), "--system", "odoo"], env={
        "HOLDED_SYNC_BROKER": kafka.url, "HOLDED_SYNC_TOPIC_PREFIX": settings.topic_prefix,
        "HOLDED_SYNC_SYSTEMS": "holded,odoo", "HOLDED_SYNC_PARTITIONS": "8"})
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith("error: topics exist with another partition count than "
                                 "HOLDED_SYNC_PARTITIONS=8: ")
