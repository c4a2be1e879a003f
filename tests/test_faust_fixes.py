"""The consumer fixes of app/faust_fixes.py, on a real faust consumer with its I/O replaced.

The races themselves need a broker and luck (bench/rebalance_loss.py reproduces them); these
tests pin down what each fix does when the race has happened.
"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import pytest

from app import faust_cleared, faust_fixes
from faust.types import TP

faust_fixes.install()
faust_cleared.install()

SRC, OTHER = TP("src", 0), TP("src", 1)


def record(tp: TP, offset: int) -> SimpleNamespace:
    return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset, timestamp=0,
                           timestamp_type=0, headers=[], key=b"k", value=b"v", checksum=None,
                           serialized_key_size=1, serialized_value_size=1)


@pytest.fixture
def consumer():
    app = faust.App("faust-fixes-test", broker="kafka://127.0.0.1:1", store="memory://")
    c = app.consumer
    c.app.topics.acks_enabled_for = lambda topic: topic == "src"
    c.sought = []

    async def _seek(tp, offset):
        c.sought.append((tp, offset))
    c._seek = _seek
    c.highwater = lambda tp: 0
    c._get_active_partitions = lambda: {SRC, OTHER}
    c.assignment = lambda: {SRC, OTHER}
    yield c
    c._thread.thread_loop.close()  # the loop faust made for its consumer thread, never started


def ack(consumer, tp: TP, *offsets: int) -> None:
    """What faust's stream does when an agent is done with these records."""
    consumer._acked[tp].extend(offsets)
    consumer._acked_index[tp].update(offsets)


def revoke_and_commit(consumer, before_the_commit=lambda: None) -> dict[TP, int | None]:
    """Revoke SRC as faust does (drop its acks, then commit), with ``before_the_commit`` run
    in between; the offsets that commit would send."""
    committed = {}

    async def the_revocation(revoked):  # what faust does after dropping the acks
        before_the_commit()
        for tp in consumer._filter_tps_with_pending_acks():
            committed[tp] = consumer._new_offset(tp)
    consumer._on_partitions_revoked = the_revocation
    asyncio.run(consumer.on_partitions_revoked({SRC}))
    return committed


def batch(consumer, records: dict[TP, list[int]]) -> None:
    async def _getmany(active_partitions, timeout):
        return {tp: [record(tp, o) for o in offsets] for tp, offsets in records.items()}
    consumer._getmany = _getmany


def test_a_batch_fetched_before_a_seek_is_not_delivered_after_it(consumer):
    async def run():
        batch(consumer, {SRC: [10, 11, 12, 13], OTHER: [20, 21, 22]})
        delivered = []
        async for tp, message in consumer.getmany(timeout=0.1):
            delivered.append((tp.partition, message.offset))
            if (tp, message.offset) == (SRC, 10):
                consumer.sought.clear()
                await consumer.seek(SRC, 10)  # a rebalance seeks back to the committed offset...
                consumer._read_offset[SRC] = 10  # ...while the record in flight moves it on
        return delivered
    delivered = asyncio.run(run())
    assert [o for p, o in delivered if p == 0] == [10]
    assert [o for p, o in delivered if p == 1] == [20, 21, 22]
    # The read offset is where the seek put it (last delivered = 9), and SRC is read again.
    assert consumer._read_offset[SRC] == 9
    assert consumer.sought == [(SRC, 10), (SRC, 10)]


def test_a_seek_during_the_last_record_of_a_batch_is_caught_too(consumer):
    async def run():
        batch(consumer, {SRC: [10]})
        async for tp, message in consumer.getmany(timeout=0.1):
            consumer.sought.clear()
            await consumer.seek(SRC, 7)
            consumer._read_offset[SRC] = message.offset  # the record in flight moves it on
    asyncio.run(run())
    assert consumer._read_offset[SRC] == 6
    assert consumer.sought == [(SRC, 7), (SRC, 7)]


def test_a_batch_fetched_while_a_seek_happened_is_dropped_and_read_again(consumer):
    async def _getmany(active_partitions, timeout):
        records = {SRC: [record(SRC, o) for o in (30, 31)], OTHER: [record(OTHER, 5)]}
        await consumer.seek(SRC, 12)  # the rebalance seeks while this batch is on its way
        return records

    async def run():
        consumer._getmany = _getmany
        return [(tp.partition, m.offset) async for tp, m in consumer.getmany(timeout=0.1)]
    assert asyncio.run(run()) == [(1, 5)]
    assert consumer.sought == [(SRC, 12), (SRC, 12)]
    assert consumer._read_offset[SRC] == 11


def test_a_batch_fetched_after_the_seek_is_delivered_whole(consumer):
    async def run():
        await consumer.seek(SRC, 10)
        batch(consumer, {SRC: [10, 11, 12]})
        return [m.offset async for _, m in consumer.getmany(timeout=0.1)]
    assert asyncio.run(run()) == [10, 11, 12]


def test_perform_seek_seeks_a_never_committed_partition_to_its_earliest_offset(consumer):
    async def seek_to_committed():
        return {SRC: 50, OTHER: None}

    async def earliest_offsets(*tps):
        assert tps == (OTHER,)
        return {OTHER: 7}
    consumer.seek_to_committed = seek_to_committed
    consumer.earliest_offsets = earliest_offsets
    asyncio.run(consumer.perform_seek())
    assert consumer.sought == [(OTHER, 7)]
    assert consumer._committed_offset[OTHER] == 7
    assert (consumer._read_offset[SRC], consumer._read_offset[OTHER]) == (49, 6)


def test_the_commit_never_passes_an_offset_that_was_not_acked(consumer):
    consumer._committed_offset[SRC] = 100
    ack(consumer, SRC, 101, 102)
    assert consumer._new_offset(SRC) is None  # faust itself would commit 103 here
    ack(consumer, SRC, 100)
    assert consumer._new_offset(SRC) == 103


def test_a_record_missing_from_the_log_at_the_committed_offset_is_a_gap(consumer):
    consumer._committed_offset[SRC] = 100
    # Read from 99 (the seek's last delivered); the next record in the log is 102.
    asyncio.run(consumer._add_gap(SRC, 100, 101))
    ack(consumer, SRC, 102)
    assert consumer._new_offset(SRC) == 103


def test_table_changelogs_are_left_to_recovery(consumer):
    table = consumer.app.Table("ledger", default=None, key_type=bytes, value_type=bytes)
    changelog = TP(table.changelog_topic.get_topic_name(), 0)
    consumer.app.topics.acks_enabled_for = lambda topic: topic in ("src", changelog.topic)
    consumer.assignment = lambda: {SRC, changelog}

    async def seek_to_committed():
        return {SRC: 50, changelog: None}

    async def earliest_offsets(*tps):
        raise AssertionError(f"no partition here needs its earliest offset: {tps}")
    consumer.seek_to_committed = seek_to_committed
    consumer.earliest_offsets = earliest_offsets
    asyncio.run(consumer.perform_seek())
    assert consumer.sought == []
    assert consumer._read_offset[changelog] is None  # as faust itself leaves it


def test_a_revocation_keeps_the_acks_of_records_processed_before_it(consumer):
    """faust drops the acks of revoked partitions, then commits once the records in flight are
    done: the records processed before the revocation are committed, not read again."""
    consumer._committed_offset[SRC] = 14
    ack(consumer, SRC, 14)

    def in_between():
        consumer._committed_offset[SRC] = 14  # "getmany while flow not active" seeks back
        ack(consumer, SRC, 15)  # the record in flight is done
    assert revoke_and_commit(consumer, in_between) == {SRC: 16}


def test_a_revocation_with_nothing_in_flight_still_commits_what_was_processed(consumer):
    consumer._committed_offset[SRC] = 14
    ack(consumer, SRC, 14, 15)
    assert revoke_and_commit(consumer) == {SRC: 16}
    assert faust_fixes._seeks(consumer).revoked_acks == {}


def test_acks_kept_over_a_revocation_do_not_bridge_a_record_never_processed(consumer):
    consumer._committed_offset[SRC] = 14
    ack(consumer, SRC, 16)  # 14 and 15 never came
    assert revoke_and_commit(consumer) == {SRC: None}


class Delivered:
    """A record an agent took from the stream (what faust's ack reads of a Message)."""

    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.topic, self.offset, self.acked = tp, tp.topic, offset, False


def test_a_commit_passing_gap_offsets_not_processed_yet_is_reported(consumer, caplog):
    consumer._committed_offset[SRC] = 100
    # The fetch loop's read offset says 99 was the last delivered; the next record is 103.
    asyncio.run(consumer._add_gap(SRC, 100, 103))
    consumer.ack(Delivered(SRC, 103))
    assert consumer._new_offset(SRC) == 104  # 100..102 passed as not in the log
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "offsets [100, 101, 102] are committed but this worker has not processed them" \
        in error.getMessage()


def test_a_gap_right_after_offset_0_is_a_gap_too(consumer, caplog):
    # faust checks ``gap > 1 and r_offset``: after delivering offset 0 it saw no gap at all,
    # and the commit then waited for offsets 1 and 2 forever.
    consumer._committed_offset[SRC] = 0
    consumer._read_offset[SRC] = 0  # offset 0 delivered
    ack(consumer, SRC, 0)
    batch(consumer, {SRC: [3]})

    async def run():
        return [message.offset async for _, message in consumer.getmany(timeout=0.1)]
    assert asyncio.run(run()) == [3]
    consumer.ack(Delivered(SRC, 3))
    assert consumer._new_offset(SRC) == 4
    assert any("offsets 1..2 are not in the log" in r.getMessage() for r in caplog.records)


def test_gap_offsets_processed_before_the_commit_are_not_reported(consumer, caplog):
    consumer._committed_offset[SRC] = 100
    asyncio.run(consumer._add_gap(SRC, 100, 102))
    for offset in (100, 101, 102):  # they were queued for the agent after all
        consumer.ack(Delivered(SRC, offset))
    assert consumer._new_offset(SRC) is not None
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


def test_no_record_is_delivered_while_a_seek_is_under_way(consumer):
    # Between faust's aiokafka seek and its numbering here, a record of a batch fetched from
    # the old position passed as fresh: the read offset went back behind records already
    # delivered, and the fetch loop reported them as a gap the commit passed.
    release = asyncio.Event()

    async def seek_to_committed():
        await release.wait()  # the aiokafka seek, on the consumer's thread
        return {SRC: 40, OTHER: 5}

    async def run():
        consumer.seek_to_committed = seek_to_committed
        batch(consumer, {SRC: [60, 61]})  # from where aiokafka was before the seek
        delivered = []

        async def fetch_loop():
            async for _tp, message in consumer.getmany(timeout=0.1):
                delivered.append(message.offset)
        seeking = asyncio.ensure_future(consumer.perform_seek())
        await asyncio.sleep(0)
        fetching = asyncio.ensure_future(fetch_loop())
        for _ in range(20):
            await asyncio.sleep(0)
        held = list(delivered)
        release.set()
        await asyncio.gather(seeking, fetching)
        return held, delivered
    held, delivered = asyncio.run(run())
    assert held == [] and delivered == []  # held, then dropped as fetched before the seek
    assert consumer._read_offset[SRC] == 39 and (SRC, 40) in consumer.sought  # read again


def test_the_end_of_a_batch_waits_for_a_seek_under_way(consumer):
    # The drop of stale records at a batch's end ran half-way through a seek: it took the
    # partitions not sought yet for unmoved, and a record fetched before the seek then passed
    # as fresh (the scale-out test: a gap, committed before its records were processed).
    release = asyncio.Event()

    async def slow_seek(tp, offset):  # the aiokafka seek, on the consumer's thread
        await release.wait()
        consumer.sought.append((tp, offset))

    async def run():
        batch(consumer, {SRC: [1]})
        order = []

        async def fetch_loop():
            async for _tp, message in consumer.getmany(timeout=0.1):
                order.append(("delivered", message.offset))
                consumer._seek = slow_seek
                seeking.append(asyncio.ensure_future(consumer.seek(OTHER, 0)))
                await asyncio.sleep(0)  # the seek is now under way
            order.append("batch over")
        seeking: list[asyncio.Future] = []
        fetching = asyncio.ensure_future(fetch_loop())
        for _ in range(20):
            await asyncio.sleep(0)
        order.append("seek done")
        release.set()
        await asyncio.gather(fetching, *seeking)
        return order
    assert asyncio.run(run()) == [("delivered", 1), "seek done", "batch over"]


def test_records_missing_right_after_a_seek_are_read_again_not_committed_past(consumer, caplog):
    # Seen in the scale-out test: a command partition never committed is sought to 0 after a
    # rebalance, and the first record the fetch loop delivers after it is 6. Offsets 0..5 were
    # delivered before the seek, still queued for the sink; taken for a gap, the commit passed
    # them before the sink had processed them.
    async def run():
        await consumer.seek(SRC, 0)  # the read offset says -1 was the last delivered
        consumer._committed_offset[SRC] = 0
        batch(consumer, {SRC: [6, 7], OTHER: [20]})  # the fetch loop's next batch
        delivered = []
        consumer.sought.clear()
        async for tp, message in consumer.getmany(timeout=0.1):
            delivered.append((tp.partition, message.offset))
            if (tp, message.offset) == (SRC, 6):  # what faust's fetch loop does with it
                await consumer._add_gap(SRC, consumer._read_offset[SRC] + 1, 6)
                consumer._read_offset[SRC] = 6
        return delivered
    delivered = asyncio.run(run())
    assert delivered == [(0, 6), (1, 20)]  # the rest of SRC's batch is dropped...
    assert consumer.sought == [(SRC, 0)] and consumer._read_offset[SRC] == -1  # ...read again
    assert not consumer._gap[SRC]  # no gap: the commit waits for 0..5 to be processed
    ack(consumer, SRC, 6)
    assert consumer._new_offset(SRC) is None
    ack(consumer, SRC, 0, 1, 2, 3, 4, 5)
    assert consumer._new_offset(SRC) == 7
    assert not [r for r in caplog.records if "never processed" in r.getMessage()
                or "has not processed" in r.getMessage()]


def test_a_range_still_missing_after_reading_again_is_a_gap_in_the_end(consumer):
    async def run():
        await consumer.seek(SRC, 0)
        for _ in range(faust_fixes.REREADS_PER_SEEK):
            await consumer._add_gap(SRC, 0, 6)
        assert not consumer._gap[SRC]
        await consumer._add_gap(SRC, 0, 6)  # gone from the log after all (retention)
    asyncio.run(run())
    assert consumer._gap[SRC]


def test_deliveries_wait_for_the_last_of_two_overlapping_seeks(consumer):
    # After a rebalance the fetch loop (a batch fetched while the flow was stopped) and the
    # recovery both run perform_seek. Under load they overlap (the scale-out test), and the
    # first to end let records through while faust's part of the other had set the read
    # offsets to None: no gap could be seen in what the fetch loop delivered next.
    async def run():
        seeks = faust_fixes._seeks(consumer)
        order = []
        first, second = faust_fixes._seeking(consumer), faust_fixes._seeking(consumer)
        await first.__aenter__()
        await second.__aenter__()

        async def deliver():
            await faust_fixes._after_seeks(consumer, seeks, set())
            order.append("delivered")
        delivering = asyncio.ensure_future(deliver())
        await first.__aexit__(None, None, None)
        for _ in range(10):
            await asyncio.sleep(0)
        order.append("second seek done")
        await second.__aexit__(None, None, None)
        await delivering
        return order
    assert asyncio.run(run()) == ["second seek done", "delivered"]


def queued(consumer, tp: TP, offset: int) -> faust.Event:
    """A record the fetch loop handed to an agent's stream queue, not read by the agent yet."""
    message = faust_fixes.faust_consumer.ConsumerMessage(
        tp.topic, tp.partition, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, tp,
        generation_id=consumer.app.consumer_generation_id)
    return faust.Event(consumer.app, b"k", b"v", {}, message)


def test_records_the_resume_of_the_flow_clears_from_the_queues_are_read_again(consumer):
    # Seen in the scale-out test under load: the recovery seeks the partitions, the fetch loop
    # hands records from the new position to the agents' queues, then the recovery resumes
    # the flow, and faust's resume empties those queues. Offset 0 was never processed, 1 and
    # on were: "offset 0 was never processed; not committing past it (acked from 1)".
    app = consumer.app

    async def run():
        await consumer.seek(SRC, 0)
        queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
        queue.put_nowait(queued(consumer, SRC, 0))
        queue.put_nowait(queued(consumer, SRC, 1))
        consumer._read_offset[SRC] = 1  # the fetch loop delivered both
        consumer.sought.clear()
        app.flow_control.resume()
        assert queue.empty()  # what faust's resume does
        batch(consumer, {SRC: [0, 1, 2]})  # the fetch loop's next batch, sought back first
        return [m.offset async for _tp, m in consumer.getmany(timeout=0.1)]
    assert asyncio.run(run()) == [0, 1, 2]
    assert consumer.sought == [(SRC, 0)] and consumer._read_offset[SRC] == -1


def test_records_cleared_from_before_the_rebalance_are_left_to_its_seek(consumer):
    app = consumer.app

    async def run():
        queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
        queue.put_nowait(queued(consumer, SRC, 5))
        app.consumer_generation_id += 1  # a rebalance since the record was fetched
        consumer.sought.clear()
        app.flow_control.resume()
        batch(consumer, {})
        return [m async for m in consumer.getmany(timeout=0.1)]
    assert asyncio.run(run()) == []
    assert consumer.sought == []
