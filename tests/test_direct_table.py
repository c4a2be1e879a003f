"""DirectTable (app/direct_table.py) does what faust's ``table.get(key)`` and
``table[key] = value`` do, by hand: the value in the store of the event's partition, the same
changelog record, and the store's note of the changelog offset it holds once the record is
acknowledged (where a restart resumes its recovery). A value waits for the records its
decision emitted: until they are acknowledged it is in neither the store nor the changelog, so
a worker killed then decides the change again instead of dropping it as a duplicate. A real
faust table on RocksDB; only the producer is a stand-in."""
from __future__ import annotations

import asyncio
import logging
import weakref
from types import SimpleNamespace

import faust
import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.streams import _current_event
from faust.types import TP

from app import direct_table
from app.direct_table import DirectTable


class Producer:
    """Takes sends like aiokafka's producer; the test settles each delivery."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.deliveries: list[asyncio.Future] = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key, value, partition))
        self.deliveries.append(asyncio.get_running_loop().create_future())
        return self.deliveries[-1]


class Event:  # what the store and the writer read of faust's current event
    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


@pytest.fixture
def table(tmp_path):
    app = faust.App("direct-table-test", broker="kafka://127.0.0.1:1", store="rocksdb://",
                    datadir=str(tmp_path))
    return app.Table("entries", default=None, key_type=bytes, value_type=bytes, partitions=4)


@pytest.fixture
def producer():
    return Producer()


@pytest.fixture
def direct(table, producer):
    return DirectTable(SimpleNamespace(producer=producer), table)


def processing(partition: int) -> Event:
    """An event of ``partition`` as faust's current one (kept while the caller holds it)."""
    event = Event(partition)
    _current_event.set(weakref.ref(event))
    return event


def acknowledged(delivery: asyncio.Future, topic: str, partition: int, offset: int) -> None:
    delivery.set_result(RecordMetadata(topic, partition, TopicPartition(topic, partition), offset,
                                       -1, 0, 0))


async def test_the_value_is_stored_in_the_events_partition_and_sent_to_the_changelog(
        table, producer, direct):
    event = processing(2)

    await direct.set(b"contact/odoo/1", b"value-1", event)

    changelog = table.changelog_topic.get_topic_name()
    assert producer.sent == [(changelog, b"contact/odoo/1", b"value-1", 2)]
    assert table.get(b"contact/odoo/1") == b"value-1"
    assert table.data._db_for_partition(2).get(b"contact/odoo/1") == b"value-1"
    assert table.data._db_for_partition(1).get(b"contact/odoo/1") is None


async def test_an_acknowledged_record_moves_the_stores_recovery_offset(table, producer, direct):
    event = processing(3)
    changelog = table.changelog_topic.get_topic_name()

    await direct.set(b"k", b"v1", event)
    await direct.set(b"k", b"v2", event)
    assert table.data.persisted_offset(TP(changelog, 3)) is None  # nothing acknowledged yet
    acknowledged(producer.deliveries[0], changelog, 3, 40)
    acknowledged(producer.deliveries[1], changelog, 3, 41)
    await asyncio.sleep(0)  # done callbacks run on the next turn of the loop

    assert table.data.persisted_offset(TP(changelog, 3)) == 41
    assert table.get(b"k") == b"v2"


async def test_an_undelivered_record_is_logged_and_moves_no_offset(table, producer, direct, caplog):
    event = processing(0)
    changelog = table.changelog_topic.get_topic_name()
    await direct.set(b"k", b"v", event)
    acknowledged(producer.deliveries[0], changelog, 0, 7)
    await direct.set(b"k", b"v2", event)

    with caplog.at_level(logging.ERROR, logger="app.direct_table"):
        producer.deliveries[1].set_exception(RuntimeError("retries spent"))
        await asyncio.sleep(0)

    assert table.data.persisted_offset(TP(changelog, 0)) == 7
    assert "was not delivered" in caplog.text and "retries spent" in caplog.text


async def test_get_reads_the_events_partition_and_a_missing_key_is_none(table, direct):
    event = processing(1)
    assert direct.get(b"k") is None
    await direct.set(b"k", b"v", event)
    assert direct.get(b"k") == b"v"
    # Another partition's store does not hold it (the event is held: faust keeps a weak ref).
    _held = processing(2)
    assert direct.get(b"k") is None and table.get(b"k") is None


async def test_a_value_waits_for_the_records_of_its_decision(table, producer, direct):
    event = processing(2)
    audit_line = asyncio.get_running_loop().create_future()
    changelog = table.changelog_topic.get_topic_name()

    await direct.set(b"k", b"v1", event, after=[audit_line])

    # What a SIGKILL now would leave: neither the store nor the changelog holds the value, so
    # the change is decided again (and its records sent again) instead of being a duplicate.
    assert producer.sent == [] and table.data._db_for_partition(2).get(b"k") is None
    assert direct.get(b"k") == b"v1" and direct.held == 1  # the agent reads its own decision
    acknowledged(audit_line, "audit", 2, 5)
    await direct.set(b"other", b"w", event)  # the next write writes what is ready first

    assert producer.sent == [(changelog, b"k", b"v1", 2), (changelog, b"other", b"w", 2)]
    assert table.data._db_for_partition(2).get(b"k") == b"v1" and direct.held == 0


async def test_values_are_written_in_the_order_they_were_set(table, producer, direct):
    event = processing(1)
    first, later = (asyncio.get_running_loop().create_future() for _ in range(2))
    changelog = table.changelog_topic.get_topic_name()

    await direct.set(b"k", b"v1", event, after=[first])
    await direct.set(b"k", b"v2", event, after=[later])
    await direct.set(b"x", b"x1", event)  # waits for nothing, but is set after them
    acknowledged(later, "audit", 1, 9)  # acknowledged out of order
    await direct.set(b"y", b"y1", event, after=[later])
    assert producer.sent == [] and direct.get(b"k") == b"v2"

    acknowledged(first, "audit", 1, 8)
    await direct.set(b"z", b"z1", event)

    assert [(key, value) for _, key, value, _ in producer.sent] == [
        (b"k", b"v1"), (b"k", b"v2"), (b"x", b"x1"), (b"y", b"y1"), (b"z", b"z1")]
    assert {p for *_, p in producer.sent} == {1} and changelog == producer.sent[0][0]
    assert table.get(b"k") == b"v2" and direct.get(b"k") == b"v2"


async def test_a_record_given_up_on_does_not_hold_the_value_forever(table, producer, direct):
    event = processing(0)
    lost = asyncio.get_running_loop().create_future()
    await direct.set(b"k", b"v", event, after=[lost])

    lost.set_exception(RuntimeError("retries spent"))  # the publisher logs it
    await direct.set(b"k2", b"v2", event)

    assert table.get(b"k") == b"v" and direct.held == 0


async def test_settle_writes_every_value_held_when_it_starts(table, producer, direct):
    """What a commit waits for (``install``): the producer's flush brings the deliveries, and
    every value held until then is written before the offsets are committed."""
    loop = asyncio.get_running_loop()
    records = [loop.create_future() for _ in range(3)]
    flushed = []
    for i, record in enumerate(records):
        await direct.set(b"k%d" % i, b"v%d" % i, processing(i), after=[record])

    async def flush():  # the producer's flush: every record sent so far is acknowledged
        flushed.append(len(producer.sent))
        for i, record in enumerate(records):
            if not record.done():
                acknowledged(record, "audit", i, 1)

    await direct.settle(flush)

    assert flushed == [0] and direct.held == 0
    assert [(key, p) for _, key, _, p in producer.sent] == [(b"k0", 0), (b"k1", 1), (b"k2", 2)]
    for i in range(3):
        assert table.data._db_for_partition(i).get(b"k%d" % i) == b"v%d" % i
    await direct.settle(flush)  # nothing held: no flush
    assert flushed == [0]


async def test_settle_waits_for_a_record_the_flush_has_not_brought_yet(table, producer, direct):
    record = asyncio.get_running_loop().create_future()
    await direct.set(b"k", b"v", processing(3), after=[record])

    async def flush():
        pass

    settling = asyncio.ensure_future(direct.settle(flush))
    await asyncio.sleep(0.01)
    assert not settling.done() and producer.sent == []
    acknowledged(record, "audit", 3, 1)
    await asyncio.wait_for(settling, 5)
    assert producer.sent[0][1:] == (b"k", b"v", 3)


async def test_faust_producer_flush_settles_the_apps_direct_tables_first(table, producer, direct):
    """``install`` patches faust's aiokafka producer: its flush (before a commit, at a
    revocation, at a stop) writes the held values, then flushes their changelog records too."""
    from faust.transport.drivers.aiokafka import Producer

    direct_table.install()
    direct_table.install()  # idempotent
    record = asyncio.get_running_loop().create_future()
    await direct.set(b"k", b"v", processing(1), after=[record])
    calls = []

    class Buffer:
        async def flush(self):
            calls.append(("flush", len(producer.sent)))
            if not record.done():
                acknowledged(record, "audit", 1, 1)

    faust_producer = SimpleNamespace(app=direct.app, buffer=Buffer(), _producer=None,
                                     _transaction_producers={})
    await Producer.flush(faust_producer)

    assert calls == [("flush", 0), ("flush", 1)]  # records, then the changelog record
    assert table.get(b"k") == b"v" and direct.held == 0


async def test_settle_does_not_wait_for_values_set_while_it_runs(table, producer, direct):
    """A busy agent keeps setting values during a commit's settle: the commit covers the
    offsets it started with, so it must not chase the values set after."""
    loop = asyncio.get_running_loop()
    first, meanwhile = loop.create_future(), loop.create_future()
    event = processing(0)
    await direct.set(b"k1", b"v1", event, after=[first])

    async def flush():
        acknowledged(first, "audit", 0, 1)
        # The agent's next value writes k1 itself, then waits for a record never acknowledged.
        await direct.set(b"k2", b"v2", event, after=[meanwhile])

    await asyncio.wait_for(direct.settle(flush), 5)

    assert [key for _, key, _, _ in producer.sent] == [b"k1"]
    assert direct.held == 1 and direct.get(b"k2") == b"v2" and table.get(b"k2") is None


async def test_a_value_is_written_once_its_records_are_in_with_nothing_set_after(
        table, producer, direct):
    """An idle agent sets nothing more: the value follows its records a round trip later, not
    at the next commit (readers of the changelog, such as `holded-sync tables`, see it)."""
    records = [asyncio.get_running_loop().create_future() for _ in range(2)]
    await direct.set(b"k", b"v", processing(2), after=records)
    acknowledged(records[1], "commands.holded", 2, 3)
    await asyncio.sleep(0.01)
    assert producer.sent == []  # one of its records is still on its way

    acknowledged(records[0], "audit", 2, 4)

    async def written():
        while not producer.sent:
            await asyncio.sleep(0.001)
    await asyncio.wait_for(written(), 5)
    assert producer.sent[0][1:] == (b"k", b"v", 2) and table.get(b"k") == b"v"


async def test_a_write_that_fails_keeps_the_value_held_and_is_tried_again(table, producer, direct):
    """A changelog send that raises (the producer refusing a record) does not drop the value:
    it stays first in line, so no commit passes it, and the next write tries it again."""
    event = processing(1)
    send = producer.send
    refusals = [RuntimeError("producer refused the record")]

    async def refusing(*args):
        if refusals:
            raise refusals.pop()
        return await send(*args)
    producer.send = refusing

    with pytest.raises(RuntimeError, match="refused"):
        await direct.set(b"k", b"v1", event)
    assert direct.held == 1 and direct.get(b"k") == b"v1"

    await direct.set(b"k2", b"v2", event)

    assert [(key, value) for _, key, value, _ in producer.sent] == [(b"k", b"v1"), (b"k2", b"v2")]
    assert direct.held == 0
