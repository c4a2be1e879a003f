"""A shorter long-poll for faust's consumer, so its other requests do not queue behind it.

faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500``, fixed in code. A Kafka
broker answers the requests of one connection one at a time, so while a partition is idle
every other request the consumer thread sends that broker waits behind a fetch that may hold
for 1.5 s. The one on every worker start: the offsets of partitions the group never committed
(``app.faust_fixes.perform_seek`` seeks them to their earliest offset). Records are held back
from the agents during that seek, so each start took 1.5 s longer; with 20 restarts the chaos
suite spent half a minute on it.

``FETCH_MAX_WAIT_MS`` bounds that wait instead. Under load a fetch returns as soon as it has
records, so it changes nothing there; an idle worker sends a few more empty fetches a second.
Installed once per process by :func:`install`, next to :mod:`app.faust_fixes`.
"""
from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["FETCH_MAX_WAIT_MS", "install"]

FETCH_MAX_WAIT_MS = 250
_ORIGINAL: dict[str, Any] = {}
Thread = faust_aiokafka.AIOKafkaConsumerThread


def _create_worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _ORIGINAL["_create_worker_consumer"](self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
    return consumer


def install() -> None:
    """Patch faust's consumer thread once per process (idempotent)."""
    if not _ORIGINAL:
        _ORIGINAL["_create_worker_consumer"] = Thread._create_worker_consumer
        Thread._create_worker_consumer = _create_worker_consumer
