"""Hands a decision's records to the producer: its commands, conflicts and change-log lines.

One copy for the worker's canonical agent and for the batch-path bench (bench/_packed_app.py),
so the bench sends what the worker sends, record for record.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from app.avro import codec
from app.core.decide import Decision
from app.live_mapping import LiveMapping
from app.metrics import METRICS
from app.topics import TopicNames

log = logging.getLogger(__name__)

COMMAND, CONFLICT, AUDIT = codec("Command"), codec("Conflict"), codec("AuditRecord")


def report_undelivered(delivery: asyncio.Future) -> None:
    """A record the producer gave up on (its retries spent). A lost command is emitted again
    by app/resend.py once its partition is idle; the log says why it was late."""
    if not delivery.cancelled() and delivery.exception() is not None:
        log.error("a record was not delivered to Kafka: %r", delivery.exception())


class DecisionPublisher:
    """``publish(key, decision)`` for one app; ``targets`` are its (system, lane) pairs."""

    def __init__(self, app: Any, names: TopicNames, targets: Iterable[tuple[str, str]],
                 live: LiveMapping) -> None:
        self._app, self._live = app, live
        self._command_topics = {target: names.commands(*target) for target in targets}
        self._conflicts_topic, self._audit_topic = names.conflicts, names.audit
        # Counters bound once: a labels() lookup on every record costs more than the increment.
        self._sent = {target: METRICS.events.labels(topic=names.logical(topic), direction="out")
                      for target, topic in self._command_topics.items()}
        self._conflicts_out, self._audit_out = (METRICS.events.labels(topic=t, direction="out")
                                                for t in ("conflicts", "audit"))

    async def emit(self, topic_name: str, key: bytes | None, value: bytes) -> asyncio.Future:
        """Hand one record to the producer. Straight to it rather than through faust's
        Topic.send, whose futures and sensors cost as much as the send itself; at-least-once
        holds the same way: faust flushes the producer before it commits an offset."""
        delivery = await self._app.producer.send(topic_name, key, value, None, None, None)
        delivery.add_done_callback(report_undelivered)
        return delivery

    async def publish(self, key: bytes, decision: Decision) -> list[asyncio.Future]:
        """Send the decision's records; returns their deliveries, which its table value waits
        for (app/direct_table.py)."""
        deliveries = []
        for cmd in decision.commands:
            # The mapping in force when the command was decided; the sink's result records the
            # version it actually mapped with (a newer one may have arrived in between).
            cmd["mapping_version"] = self._live.version
            target = cmd["target_system"], cmd["lane"]
            self._sent[target].inc()
            deliveries.append(await self.emit(self._command_topics[target], key, COMMAND.dumps(cmd)))
        for conflict in decision.conflicts:
            METRICS.conflicts.labels(outcome=conflict["decision"]).inc()
            self._conflicts_out.inc()
            deliveries.append(
                await self.emit(self._conflicts_topic, key, CONFLICT.dumps(conflict)))
        for record in decision.audit:
            self._audit_out.inc()
            deliveries.append(await self.emit(self._audit_topic, key, AUDIT.dumps(record)))
        return deliveries
