"""The customer's mapping, live: published to the compacted ``mappings`` topic, read by every
worker as a global table. A new version applies to the next command on every worker, with no
restart; commands and results record the version they were built with.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from app.avro import codec
from app.mapping import Mapping, load_mapping, load_mapping_text, read_mapping_text
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options

__all__ = ["LiveMapping", "MappingUnavailable", "publish_mapping"]

log = logging.getLogger(__name__)
KEY = b"current"
DOC = codec("MappingDocument")


class MappingUnavailable(RuntimeError):
    """No mapping has been published yet: documents wait (parked) until one is."""


class LiveMapping:
    """The newest valid mapping version seen on the topic; listeners hear about new ones.

    Catching up at start (every version the topic still holds), listeners hear only the
    version in force once the topic is read, once: each version they heard would re-drive the
    parked commands again (app/sinks.py).
    """

    def __init__(self) -> None:
        self._current: Mapping | None = None
        self._listeners: list[Callable[[Mapping], None]] = []
        self._catching_up = False
        self.loaded = asyncio.Event()

    @property
    def current(self) -> Mapping:
        if self._current is None:
            raise MappingUnavailable("no mapping published yet: run `holded-sync mappings publish FILE`")
        return self._current

    @property
    def version(self) -> int | None:
        return self._current.version if self._current else None

    def on_change(self, listener: Callable[[Mapping], None]) -> None:
        self._listeners.append(listener)

    def offer(self, data: bytes) -> bool:
        """Take a published record if it is a newer, valid version (bad ones are logged)."""
        try:
            doc = DOC.loads(data)
            mapping = load_mapping_text(doc["source"], source=doc["file_name"] or "mappings topic")
        except Exception as exc:  # a bad record on the topic must not stop the worker
            log.error("ignoring an unusable mapping record: %s", exc)
            return False
        if self._current is not None and mapping.version <= self._current.version:
            return False
        self._current = mapping
        log.info("mapping v%s is now in force", mapping.version)
        if not self._catching_up:
            self._announce(mapping)
        return True

    def _announce(self, mapping: Mapping) -> None:
        for listener in self._listeners:
            listener(mapping)

    def _caught_up(self) -> None:
        """The topic is read to the end it had at start: announce the version then in force."""
        self._catching_up = False
        self.loaded.set()
        if self._current is not None:
            self._announce(self._current)

    async def follow(self, settings: Settings, stopping: asyncio.Event | None = None) -> None:
        """Read the topic from the start, then keep reading (no consumer group: every worker
        sees every version)."""
        topic = TopicNames(settings).mappings
        consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
        try:
            await consumer.start()  # in the try: a failed start is stopped too
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            self._catching_up = True
            if end == 0:
                self._caught_up()
            while stopping is None or not stopping.is_set():
                batch = await consumer.getmany(tp, timeout_ms=500)
                for msg in batch.get(tp, []):
                    if msg.value is not None:
                        self.offer(msg.value)
                    if self._catching_up and msg.offset + 1 >= end:
                        self._caught_up()
        finally:
            self._catching_up = False
            await consumer.stop()


async def publish_mapping(settings: Settings, path: Path) -> Mapping:
    """Validate ``path`` and publish it as the current mapping (raises MappingInvalid)."""
    mapping = load_mapping(path)
    record = {"version": mapping.version, "source": read_mapping_text(path),
              "file_name": path.name, "published_ts": dt.datetime.now(dt.timezone.utc)}
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    try:
        await producer.start()  # in the try: a failed start is stopped too
        await producer.send_and_wait(TopicNames(settings).mappings, key=KEY, value=DOC.dumps(record))
    finally:
        await producer.stop()
    return mapping
