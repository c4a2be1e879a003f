"""DirectTable (app/direct_table.py) does what faust's ``table.get(key)`` and
``table[key] = value`` do, by hand: the value in the store of the event's partition, the same
changelog record, and the store's note of the changelog offset it holds once the record is
acknowledged (where a restart resumes its recovery). A real faust table on RocksDB; only the
producer is a stand-in."""
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
