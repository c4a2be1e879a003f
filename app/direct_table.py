"""Reads and writes of one faust table without faust's per-call machinery, each write held
until the records its decision emitted are in Kafka.

``table.get(key)`` in faust asks the store twice (``key in data``, then ``data[key]``: two
RocksDB reads) behind sensor callbacks; :meth:`DirectTable.get` asks it once.
``table[key] = value`` in faust sends the changelog record through ``Topic.send_soon``: a
FutureMessage, a pending-message buffer drained by a background task, eager partitioning and
sensor callbacks, about as much CPU as the rest of a table write and a send together
(bench/faust_floor.py, modes ``table`` and ``send``). A write here sends the same record (same
topic, key, value and partition) with the producer itself, as the agent already sends its
commands, and stores the value in the table's store as faust would. What faust does once the
record is acknowledged is kept: the store notes the changelog offset it holds
(``_on_changelog_sent``), which is where a restart resumes its recovery.

Why a write waits (:meth:`DirectTable.set`, ``after``): a decision's commands, conflicts and
change-log lines are records of their own, in other producer batches than its table value. A
worker killed outright could save the value and lose those records; the change, read again,
then met the decision it had made and was dropped as a duplicate, so a conflict or an audit
line was lost for good. A value is therefore written (store and changelog) only once every
record it waits for is acknowledged, in the order the values were set; until then
:meth:`DirectTable.get` returns it from memory. A kill now leaves the value unwritten and the
change is decided again: its records may be sent twice (same conflict and command ids), never
lost. faust flushes its producer before each commit, at a revocation and at a stop;
:func:`install` makes that flush write every value held up to then first, so no offset is
committed past a decision whose value is not in the store and the changelog.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faust.streams import _current_event

__all__ = ["DirectTable", "install"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Held:
    seq: int  # the how-manieth value set
    key: bytes
    value: bytes
    event: Any  # faust's event the value was decided on: its partition is the value's
    after: Sequence[asyncio.Future]  # deliveries the write waits for


class DirectTable:
    """Get and set values of one faust table (bytes keys and values, raw serializers) while
    an event of its co-partitioned stream is processed."""

    def __init__(self, app: Any, table: Any) -> None:
        self.app, self.table = app, table
        self.topic = table.changelog_topic.get_topic_name()
        self._held: deque[_Held] = deque()  # in the order set
        self._newest: dict[bytes, bytes] = {}  # key -> its newest held value
        self._set = 0  # values set so far
        self._writing = asyncio.Lock()  # one writer at a time keeps the order of the writes
        self._drain: asyncio.Future | None = None  # writes what the last deliveries released
        tables = getattr(app, "direct_tables", None)
        if tables is None:
            tables = app.direct_tables = []
        tables.append(self)  # settled by the producer's flush (install)

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key`` in the current event's partition (held or stored), or None."""
        value = self._newest.get(key)
        return value if value is not None else self.table.data.get(key)

    @property
    def held(self) -> int:
        """Values set and not written yet."""
        return len(self._held)

    async def set(self, key: bytes, value: bytes, event: Any,
                  after: Sequence[asyncio.Future] = ()) -> None:
        """Store ``value`` under ``key`` once every delivery in ``after`` is done (acknowledged
        or given up on, which the sender logs). The table is co-partitioned with ``event``'s
        stream: the value goes to the event's partition, in the store as in the changelog."""
        self._set += 1
        self._held.append(_Held(self._set, key, value, event, after))
        self._newest[key] = value
        for delivery in after:  # written as soon as they are in, not at the next commit
            if not delivery.done():
                delivery.add_done_callback(self._delivered)
        if not self._writing.locked():  # else a settle is writing: the agent does not wait
            await self._write_held()

    async def settle(self, flush: Callable[[], Awaitable[None]]) -> None:
        """Write every value held now. ``flush``: the producer's own flush, which brings the
        deliveries they wait for (the caller flushes again for the changelog records)."""
        if not self._held:
            return
        until = self._set  # not the values set meanwhile: a busy agent would keep it going
        await flush()
        await self._write_held(until)

    def _delivered(self, _: asyncio.Future) -> None:
        # One task at a time writes what became ready: readers of the changelog see a value
        # a produce round trip after its decision's records, also when no record follows.
        if self._held and (self._drain is None or self._drain.done()):
            self._drain = asyncio.ensure_future(self._write_held())
            self._drain.add_done_callback(self._drained)

    def _drained(self, drain: asyncio.Future) -> None:
        if not drain.cancelled() and drain.exception() is not None:
            log.error("table %s: held values were not written (tried again by the next write "
                      "or commit): %r", self.table.name, drain.exception())

    async def _write_held(self, until: int | None = None) -> None:
        """Write held values in order: those whose deliveries are done, or, with ``until``,
        every one set up to that count, waiting for their deliveries."""
        async with self._writing:
            while self._held:
                held = self._held[0]
                if until is not None and held.seq > until:
                    return
                waiting = [d for d in held.after if not d.done()]
                if waiting:
                    if until is None:
                        return
                    await asyncio.wait(waiting)
                await self._write(held)  # raises: the value stays held, to be written again
                self._held.popleft()

    async def _write(self, held: _Held) -> None:
        # The store finds the partition in faust's current event, as in faust's own writes.
        token = _current_event.set(weakref.ref(held.event))
        try:
            self.table.data[held.key] = held.value
        finally:
            _current_event.reset(token)
        if self._newest.get(held.key) is held.value:
            del self._newest[held.key]
        delivery = await self.app.producer.send(self.topic, held.key, held.value,
                                                held.event.message.partition, None, None)
        delivery.add_done_callback(self._sent)

    def _sent(self, delivery: asyncio.Future) -> None:
        if delivery.cancelled():
            return
        if delivery.exception() is not None:
            log.error("a changelog record of table %s was not delivered to Kafka: %r",
                      self.table.name, delivery.exception())
            return
        self.table._on_changelog_sent(delivery)  # the store notes the offset it holds


def install() -> None:
    """faust's producer flush (before every commit, at a revocation, at a stop) first writes
    the values its app's direct tables hold. Idempotent."""
    from faust.transport.drivers.aiokafka import Producer

    if getattr(Producer.flush, "settles_direct_tables", False):
        return
    flush_only = Producer.flush

    async def flush(self: Any) -> None:
        for table in getattr(self.app, "direct_tables", ()):
            await table.settle(lambda: flush_only(self))
        await flush_only(self)

    flush.settles_direct_tables = True  # type: ignore[attr-defined]
    flush.__doc__ = flush_only.__doc__
    Producer.flush = flush  # type: ignore[method-assign]
