"""The consumer faust builds for a worker long-polls for at most FETCH_MAX_WAIT_MS."""
from __future__ import annotations

import faust

from app import faust_fetch_wait
from app.faust_fetch_wait import FETCH_MAX_WAIT_MS


async def test_the_worker_consumer_fetch_wait_is_bounded():
    faust_fetch_wait.install()
    faust_fetch_wait.install()  # idempotent: a second install must not wrap the first
    app = faust.App("fetch-wait-test", broker="kafka://127.0.0.1:9", store="memory://")
    thread = app.consumer._thread
    try:
        consumer = thread._create_worker_consumer(app.transport)  # built, not started
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS < 1500  # 1500: faust's own value
    finally:
        thread.thread_loop.close()  # the consumer thread's loop, made with it and never run
