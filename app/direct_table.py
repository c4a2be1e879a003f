"""Reads and writes of one faust table without faust's per-call machinery.

``table.get(key)`` in faust asks the store twice (``key in data``, then ``data[key]``: two
RocksDB reads) behind sensor callbacks; :meth:`DirectTable.get` asks it once.
``table[key] = value`` in faust sends the changelog record through ``Topic.send_soon``: a
FutureMessage, a pending-message buffer drained by a background task, eager partitioning and
sensor callbacks, about as much CPU as the rest of a table write and a send together
(bench/faust_floor.py, modes ``table`` and ``send``). :meth:`DirectTable.set` sends the same
record (same topic, key, value and partition) with the producer itself, as the agent already
sends its commands, and stores the value in the table's store as faust would. What faust does
once the record is acknowledged is kept: the store notes the changelog offset it holds
(``_on_changelog_sent``), which is where a restart resumes its recovery. At-least-once holds
the same way: faust flushes the producer before it commits an offset.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["DirectTable"]

log = logging.getLogger(__name__)


class DirectTable:
    """Get and set values of one faust table (bytes keys and values, raw serializers) while
    an event of its co-partitioned stream is processed."""

    def __init__(self, app: Any, table: Any) -> None:
        self.app, self.table = app, table
        self.topic = table.changelog_topic.get_topic_name()

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key`` in the current event's partition, or None."""
        return self.table.data.get(key)

    async def set(self, key: bytes, value: bytes, event: Any) -> None:
        """Store ``value`` under ``key`` while ``event`` is processed. The table is
        co-partitioned with the event's stream: the value goes to the event's partition, in the
        store (which reads it from faust's current event) as in the changelog."""
        self.table.data[key] = value
        delivery = await self.app.producer.send(self.topic, key, value, event.message.partition,
                                                None, None)
        delivery.add_done_callback(self._sent)

    def _sent(self, delivery: asyncio.Future) -> None:
        if delivery.cancelled():
            return
        if delivery.exception() is not None:
            log.error("a changelog record of table %s was not delivered to Kafka: %r",
                      self.table.name, delivery.exception())
            return
        self.table._on_changelog_sent(delivery)  # the store notes the offset it holds
