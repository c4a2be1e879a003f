"""faust's livelock detector, kept to the partitions agents consume.

Every few seconds faust checks each assigned partition for a stream that stopped processing
(``stream_processing_timeout``, 300 s). It also checks the changelogs of the worker's own
tables, which no stream reads: once recovered, a changelog partition is only written, its end
moves past the consumer's position, and faust logs a 15-line ERROR ("Stream has not started
processing ...") for each such partition every few seconds while the worker is healthy (seen on
the sinks' ledger changelogs after 5 minutes). Table changelogs are checked by faust's recovery
(``verify_recovery_event_path``) while they are read; this skips them in the stream check.
Installed once per process by :func:`install`, next to :mod:`app.faust_fixes`.
"""
from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

__all__ = ["install"]

_ORIGINAL: dict[str, Any] = {}
Thread = faust_aiokafka.AIOKafkaConsumerThread


def _verify_event_path(self: Any, now: float, tp: TP) -> None:
    if tp.topic in self.consumer.app.tables.changelog_topics:
        return None
    return _ORIGINAL["verify_event_path"](self, now, tp)


def install() -> None:
    """Patch faust's consumer thread once per process (idempotent)."""
    if not _ORIGINAL:
        _ORIGINAL["verify_event_path"] = Thread.verify_event_path
        Thread.verify_event_path = _verify_event_path
