"""`holded-sync backfill SYSTEM`: one full scan of a system, published as bulk-lane changes."""
from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import click
from aiokafka import AIOKafkaProducer

from app.avro import codec
from app.connections import clients, pollers
from app.inspect import read_topic
from app.live_mapping import LiveMapping
from app.settings import Settings
from app.topics import TopicNames, ensure_topics, kafka_client_options

__all__ = ["run_backfill"]


async def run_backfill(settings: Settings, system: str, entities: set[str] | None) -> Counter:
    """Poll ``system`` from an empty state (everything it holds) and publish each record with
    ``lane=bulk``; returns counts per entity. Raises LookupError when the system cannot be
    read (no credentials) or no mapping is published."""
    await ensure_topics(settings)
    live = LiveMapping()
    for rec in await read_topic(settings, TopicNames(settings).mappings):
        if rec.value is not None:
            live.offer(rec.value)
    if live.version is None:
        raise LookupError("no mapping published yet: run `holded-sync mappings publish FILE` first")
    poller = pollers(settings, live, clients(settings)).get(system)
    if poller is None:
        raise LookupError(f"{system} has no credentials configured (see README, Configuration)")
    click.echo(f"scanning {system} (mapping v{live.version})...", err=True)
    _, events = await poller.poll(None, dt.datetime.now(dt.timezone.utc))
    chosen = [e for e in events if entities is None or e["entity"] in entities]
    change = codec("ChangeEvent")
    topic = TopicNames(settings).changes(system)
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all", enable_idempotence=True,
                                linger_ms=10)
    await producer.start()
    counts: Counter = Counter()
    try:
        pending = []
        with click.progressbar(chosen, label="publishing", file=click.get_text_stream("stderr")) as bar:
            for event in bar:
                event = {**event, "lane": "bulk"}
                pending.append(await producer.send(topic, key=event["entity_key"].encode(),
                                                   value=change.dumps(event)))
                counts[event["entity"]] += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return counts
