"""A cheaper hand-off of each fetched record in faust's fetch loop.

faust's ``Consumer._drain_messages`` hands every record to the agents with
``await self.wait_first(callback(message), self.suspend_flow.wait())``. For each record,
``wait_first`` wraps both coroutines and the consumer's stopped and crashed events in four
tasks and an ``asyncio.wait``, although the callback nearly always finishes without waiting:
it puts the event in a stream queue that has room. On an agent that only writes one table
value per event, that hand-off is about a third of the CPU (bench/faust_floor.py: 7,100 ->
11,700 events/s).

The fast path runs the callback's first step in place. When the callback finishes there,
nothing could have raced it: the suspend-flow wait is closed unrun. When it blocks (a full
queue, a suspended flow, the producer over its buffer), the rest of it runs as a task raced
by faust's own ``wait_first``, exactly as before. Installed once per process by
:func:`install`, next to the fixes of :mod:`app.faust_fixes`.
"""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from faust.transport import consumer as faust_consumer
from mode.services import WaitResults

__all__ = ["finish", "install"]

Consumer = faust_consumer.Consumer
_EVENT_WAIT = asyncio.Event.wait.__code__
_ORIGINAL: dict[str, Any] = {}


async def finish(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Run the rest of a coroutine whose first step ran by hand and yielded ``yielded``.

    What an asyncio task does for a coroutine, from its second step on: wait for the future
    it yielded (one loop turn for a bare yield), resume it, and pass a cancellation of this
    task on to it."""
    while True:
        if yielded is not None and not asyncio.isfuture(yielded):
            coro.close()
            raise RuntimeError(f"coroutine yielded {yielded!r}, which asyncio cannot await")
        throw: BaseException | None = None
        if yielded is not None:
            yielded._asyncio_future_blocking = False  # as a task does: the future is ours now
        try:
            await (yielded if yielded is not None else asyncio.sleep(0))
        except (Exception, asyncio.CancelledError) as exc:
            # A failed or cancelled future: the coroutine reads that itself on resuming.
            # Anything else is this task being cancelled: hand that on.
            if isinstance(exc, asyncio.CancelledError) and not (
                    yielded is not None and yielded.cancelled()):
                throw = exc
        try:
            yielded = coro.send(None) if throw is None else coro.throw(throw)
        except StopIteration as stop:
            return stop.value


def _steps(coro: Any) -> Coroutine[Any, Any, Any] | None:
    """The first step of ``coro`` run in place: None if it finished there (its result is not
    used by the fetch loop), else a coroutine that finishes it."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return finish(coro, yielded)


async def wait_first(self: Any, *coros: Any, timeout: Any = None) -> WaitResults:
    """faust's ``wait_first``, with the fetch loop's hand-off of one record made cheap."""
    if len(coros) == 2 and timeout is None and asyncio.iscoroutine(coros[0]) \
            and getattr(coros[1], "cr_code", None) is _EVENT_WAIT:
        handoff, flow = coros
        try:
            rest = _steps(handoff)
        except BaseException:
            flow.close()
            raise
        if rest is None:
            flow.close()
            return WaitResults([handoff], [None], False)
        return await _ORIGINAL["wait_first"](self, rest, flow)
    return await _ORIGINAL["wait_first"](self, *coros, timeout=timeout)


def install() -> None:
    """Patch faust's Consumer once per process (idempotent)."""
    if not _ORIGINAL:
        _ORIGINAL["wait_first"] = Consumer.wait_first
        Consumer.wait_first = wait_first
