"""The fetch loop's cheap hand-off (app/faust_handoff.py) keeps faust's wait_first semantics.

Each test calls ``wait_first`` on a real faust consumer exactly as ``_drain_messages`` does:
``wait_first(callback(message), consumer.suspend_flow.wait())``.
"""
from __future__ import annotations

import asyncio
import gc
import warnings

import faust
import pytest

from app import faust_handoff

faust_handoff.install()


@pytest.fixture
async def consumer():  # built inside the test's loop: faust's wait_first schedules on it
    return faust.App("faust-handoff-test", broker="kafka://127.0.0.1:1", store="memory://").consumer


async def test_a_callback_that_does_not_wait_runs_once_in_place_and_the_flow_wait_never_runs(consumer):
    ran = []

    async def callback():
        ran.append(asyncio.current_task())
        return "delivered"

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail here
        result = await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        gc.collect()
    assert ran == [asyncio.current_task()]  # no task was created for it
    assert result.done and not result.stopped


async def test_a_callback_that_waits_is_finished_and_sees_what_it_waited_for(consumer):
    room = asyncio.Event()
    seen = []

    async def callback():
        waiter = asyncio.ensure_future(room.wait())
        done, _ = await asyncio.wait([waiter])  # what faust's conductor does on a full queue
        seen.append(len(done))
        await asyncio.sleep(0)  # a bare yield on the way
        seen.append("put")

    handoff = asyncio.ensure_future(consumer.wait_first(callback(), consumer.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    assert not handoff.done() and seen == []
    room.set()
    result = await asyncio.wait_for(handoff, 5)
    assert seen == [1, "put"] and not result.stopped


async def test_a_suspended_flow_wins_over_a_blocked_callback_which_is_then_cancelled(consumer):
    cancelled = asyncio.Event()

    async def callback():
        try:
            await asyncio.Event().wait()  # a queue that never gets room
        except asyncio.CancelledError:
            cancelled.set()
            raise

    handoff = asyncio.ensure_future(consumer.wait_first(callback(), consumer.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    consumer.suspend_flow.set()
    result = await asyncio.wait_for(handoff, 5)
    assert result.results == [True] and not result.stopped  # the flow's wait won
    await asyncio.wait_for(cancelled.wait(), 5)


@pytest.mark.parametrize("blocks_first", [False, True])
async def test_an_error_in_the_callback_reaches_the_fetch_loop(consumer, blocks_first):
    async def callback():
        if blocks_first:
            await asyncio.sleep(0.001)
        raise LookupError("no callback for this partition")

    with pytest.raises(LookupError, match="no callback"):
        await consumer.wait_first(callback(), consumer.suspend_flow.wait())


async def test_other_waits_are_faust_s_own(consumer):
    async def slow():
        await asyncio.sleep(5)

    result = await consumer.wait_first(slow(), timeout=0.01)
    assert result.done == [] and result.stopped  # faust's timeout answer, unchanged


async def test_finish_passes_a_cancellation_of_its_task_on_to_the_coroutine():
    ready, seen = asyncio.get_running_loop().create_future(), []

    async def coro():
        try:
            await ready
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    c = coro()
    task = asyncio.ensure_future(faust_handoff.finish(c, c.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]
