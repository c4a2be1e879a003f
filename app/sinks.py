"""Sink agents: ``commands.<system>`` (+ ``.bulk``) -> the system's API -> ``results.<system>``.

Per system there are three agents sharing one credential's limiter: real-time commands, bulk
commands (backfills, replays) and retries of commands whose dependencies were not in the
target yet. Each keeps a ledger table (co-partitioned with the commands) holding, per entity,
the commands done, the newest vector written and the commands parked for want of a mapping.

- A command whose vector is older than the newest write for its entity is superseded: done.
- ``DependencyPending`` sends the command to ``retry.<system>`` with a not-before time; the
  retry agent waits only its own stream, never the real-time one. After
  ``dependency_wait_s`` it fails with the reason. ``TargetNotReady`` (the record is there but
  cannot take the command yet: an invoice not posted) is retried the same way for
  ``not_ready_wait_s``, then parked with its reason, never dead-lettered; every
  ``not_ready_recheck_s`` the sink's probe is asked whether it could run now (the person has
  finished the record) and the ready ones are published again (app/not_ready.py).
- A parked result keeps the command in the ledger; when a new mapping version arrives every
  parked command not parked under that version is published again, and runs under the same
  command id; at start, once, for the version in force once the mappings topic is read.
  Sinks run no command before the mappings topic is read (bounded wait).
- The lanes are separate agents, so one entity's commands could run side by side (a command
  waiting out its retry, and a newer or re-sent one on the real-time lane): both would search
  the target, find nothing and create. A per-key lock serialises them; the ledger is read
  inside it, so the second sees what the first recorded.
- Failed results also go to ``dlq`` with the full reason. Offsets are acknowledged only after
  the result is recorded (at-least-once; the ledger makes re-execution a no-op).
- A failed command is failed for good: read again (a redelivery, a replay's re-emitted copy, a
  new generation's sinks reading ``commands.*`` from the start) it is not run, so a document
  an operator left in the dead letters is not written by a routine replay. ``dlq redrive``
  marks what it publishes (``REDRIVE_HEADER``) and that runs again.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping as MappingABC
from typing import Any

import faust

from app.avro import codec
from app.connections import SinkFactory
from app.core.vectors import Order, compare
from app.live_mapping import LiveMapping
from app.mapping import Unmappable
from app.metrics import METRICS
from app.not_ready import NotReadyRecheck, not_ready_reason
from app.settings import Settings
from app.topics import REDRIVE_HEADER, TopicNames, ledger_table
from connectors.base.contracts import (
    DONE, DependencyPending, SinkOutcome, TargetNotReady, result, written_hashes,
)
from connectors.base.key_locks import KeyLocks

__all__ = ["register_sinks"]

log = logging.getLogger(__name__)
COMMAND, RESULT, CONFLICT, LEDGER, DEAD = (codec(n) for n in (
    "Command", "CommandResult", "Conflict", "SinkLedger", "DeadLetter"))
KEEP_RESULTS = 20  # per entity: enough to recognise redeliveries and replays
NOT_BEFORE, ATTEMPT, FIRST_TRY = "hs-not-before", "hs-attempt", "hs-first-try"


class TableLedger:
    """The Ledger contract over one entity's SinkLedger record (loaded per command)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.stamps: dict[str, int] = state["stamps"]  # decoded with its default, or made with it

    def get(self, command_id: str) -> dict[str, Any] | None:
        return self.state["results"].get(command_id)

    def put(self, command_id: str, outcome: dict[str, Any]) -> None:
        results = self.state["results"]
        results[command_id] = outcome
        if len(results) > KEEP_RESULTS:
            for old in sorted(results, key=lambda c: results[c]["completed_ts"])[:-KEEP_RESULTS]:
                del results[old]

    def written_hashes(self, entity_key: str) -> frozenset[str]:
        return written_hashes(self.state["results"].values(), entity_key)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _headers(event: faust.EventT) -> dict[str, bytes]:
    return {k: v for k, v in (event.message.headers or ())}


def register_sinks(app: faust.App, settings: Settings, factories: MappingABC[str, SinkFactory],
                   live: LiveMapping) -> dict[str, faust.Table]:
    """Register every system's sink agents; returns their ledger tables (for /metrics)."""
    names = TopicNames(settings)

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", partitions=settings.partitions)

    results = {s: topic(names.results(s)) for s in factories}
    conflicts, dlq = topic(names.conflicts), topic(names.dlq)
    redrives: dict[str, list[tuple[faust.TopicT, faust.Table]]] = {}
    ledgers: dict[str, faust.Table] = {}

    for system, factory in factories.items():
        ledger = ledgers[system] = app.Table(
            ledger_table(system), default=None, key_type=bytes, value_type=bytes,
            partitions=settings.partitions, options=settings.table_options,
            # its changelog outlives generations (app/topics.py)
            changelog_topic=topic(names.changelog(ledger_table(system))))
        lanes = {lane: topic(names.commands(system, lane)) for lane in ("realtime", "bulk")}
        retry = topic(names.retries(system))
        runner = _Runner(system, factory, ledger, results[system], conflicts, dlq, retry, settings,
                         mapping_loaded=live.loaded)
        for lane, source in lanes.items():
            app.agent(source, name=f"sink-{system}-{lane}")(runner.consume)
        app.agent(retry, name=f"sink-{system}-retry")(runner.consume_retries)
        redrives.setdefault(system, []).append((lanes["realtime"], ledger))
        if settings.not_ready_recheck_s > 0:
            _recheck_not_ready(app, settings, system, factory, ledger, lanes["realtime"])

    def on_new_mapping(mapping: Any) -> None:
        app.loop.create_task(_redrive_parked(redrives, mapping.version))
    live.on_change(on_new_mapping)
    return ledgers


def _recheck_not_ready(app: faust.App, settings: Settings, system: str, factory: SinkFactory,
                       ledger: faust.Table, commands: faust.TopicT) -> None:
    """Every worker checks the not-ready commands parked in its own ledger partitions."""
    async def send(key: bytes, raw: bytes) -> None:
        await commands.send(key=key, value=raw)

    recheck = NotReadyRecheck(system, ledger, lambda state: factory(TableLedger(state)), send,
                              max_probes=settings.not_ready_recheck_max)

    async def check() -> None:  # no parameter: faust passes the app to a timer taking one
        try:
            await recheck.check()
        except Exception:  # a ledger entry it cannot read: the sinks go on, the check retries
            log.exception("%s: the check of commands parked as not ready failed", system)
    app.timer(settings.not_ready_recheck_s, name=f"not-ready-{system}")(check)


class _Runner:
    """Executes one system's commands with its ledger; one instance serves all its lanes."""

    def __init__(self, system: str, factory: SinkFactory, ledger: faust.Table,
                 results: faust.TopicT, conflicts: faust.TopicT, dlq: faust.TopicT,
                 retry: faust.TopicT, settings: Settings, *,
                 mapping_loaded: asyncio.Event | None = None) -> None:
        self.system, self.factory, self.ledger = system, factory, ledger
        self.results, self.conflicts, self.dlq, self.retry = results, conflicts, dlq, retry
        self.max_wait_ms = int(settings.dependency_wait_s * 1000)
        self.not_ready_wait_ms = int(settings.not_ready_wait_s * 1000)
        self.names = TopicNames(settings)
        self._locks = KeyLocks()
        self._mapping_loaded = mapping_loaded
        self._mapping_wait_s = settings.mapping_wait_s

    async def _mapping_read(self) -> None:
        """Wait (bounded) until the worker has read the mappings topic to its end. A command
        run before would be parked for want of a mapping and published again once it is
        read: at every start, every command the sink read in its first moments."""
        loaded = self._mapping_loaded
        if loaded is None or loaded.is_set():
            return
        try:
            await asyncio.wait_for(loaded.wait(), self._mapping_wait_s)
        except asyncio.TimeoutError:
            log.warning("%s sink: the mappings topic was not read in %.0fs; running commands "
                        "without it (they are parked until a mapping arrives)",
                        self.system, self._mapping_wait_s)
            self._mapping_loaded = None

    async def consume(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            await self._handle(event, attempt=0, first_try=_now_ms())

    async def consume_retries(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            headers = _headers(event)
            wait_ms = int(headers.get(NOT_BEFORE, b"0")) - _now_ms()
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
            await self._handle(event, attempt=int(headers.get(ATTEMPT, b"1")),
                               first_try=int(headers.get(FIRST_TRY, b"0")) or _now_ms())

    async def _handle(self, event: faust.EventT, attempt: int, first_try: int) -> None:
        key, raw = event.key, event.value
        METRICS.events.labels(topic=self.names.logical(event.message.topic), direction="in").inc()
        try:
            command = COMMAND.loads(raw)
        except ValueError as exc:
            await self._dead(event, f"not a Command: {exc}", "DecodeError", raw)
            return
        await self._mapping_read()
        async with self._locks.hold(key):  # the lanes are separate agents: one key at a time
            await self._run(command, event, attempt, first_try)

    async def _run(self, command: dict[str, Any], event: faust.EventT, attempt: int,
                   first_try: int) -> None:
        key, raw = event.key, event.value
        raw_state = self.ledger.get(key)
        state = LEDGER.loads(raw_state) if raw_state else \
            {"results": {}, "written": {}, "parked": {}, "stamps": {}, "parked_kinds": {}}
        done = state["results"].get(command["command_id"])
        if done is not None and done["status"] == "failed" and REDRIVE_HEADER not in _headers(event):
            # Failed for good and dead-lettered: only an operator's `dlq redrive` runs it again.
            # Read again otherwise (a replay's re-emitted copy, a new generation's sinks reading
            # commands from the start), it is not: nothing is written, sent or dead-lettered.
            log.info("%s: command %s failed before (%s); not run again without dlq redrive",
                     key.decode(errors="replace"), command["command_id"], done.get("reason"))
            return
        outcome = await self._execute(command, state, event, attempt, first_try)
        if outcome is None:
            return  # handed to the retry topic
        status = outcome.result["status"]
        if status == "failed":
            # In Kafka before the ledger says failed: a command the ledger has as failed is
            # not run again when read again (above), so its dead letter must not be lost.
            await self._dead(event, outcome.result["reason"] or "failed", "SinkFailed", raw,
                             acknowledged=True)
        TableLedger(state).put(command["command_id"], outcome.result)
        METRICS.commands.labels(system=self.system, outcome=status).inc()
        if status in DONE:
            if compare(command["vector"], state["written"]) in (Order.AFTER, Order.CONCURRENT):
                state["written"] = dict(command["vector"])
            _unpark(state, command["command_id"])
            for cid in [c for c, b in state["parked"].items()
                        if compare(COMMAND.loads(b)["vector"], state["written"]) == Order.BEFORE]:
                _unpark(state, cid)  # superseded by what was just written
        elif status == "parked" and outcome.redrive:
            state["parked"][command["command_id"]] = raw
            state["parked_kinds"][command["command_id"]] = outcome.parked_kind
        else:
            _unpark(state, command["command_id"])
        self.ledger[key] = LEDGER.dumps(state)
        METRICS.events.labels(topic=f"results.{self.system}", direction="out").inc()
        await self.results.send(key=key, value=RESULT.dumps(outcome.result))
        for conflict in outcome.conflicts:
            await self.conflicts.send(key=key, value=CONFLICT.dumps(conflict))

    async def _execute(self, command: dict[str, Any], state: dict[str, Any], event: faust.EventT,
                       attempt: int, first_try: int) -> SinkOutcome | None:
        done = state["results"].get(command["command_id"])
        if done and done["status"] in DONE:
            return SinkOutcome({**done, "status": "already_done"})
        if state["written"] and compare(command["vector"], state["written"]) == Order.BEFORE:
            return SinkOutcome(result(command, "already_done", _now_ms(),
                                      reason="superseded by a newer write of this entity"))
        try:
            sink = self.factory(TableLedger(state))
            return await sink.execute(command)
        except DependencyPending as pending:
            waited_ms = _now_ms() - first_try
            if isinstance(pending, TargetNotReady):
                if waited_ms > self.not_ready_wait_ms:
                    return SinkOutcome(result(command, "parked", _now_ms(),
                                              reason=not_ready_reason(attempt, waited_ms, pending)),
                                       parked_kind="not_ready")
            elif waited_ms > self.max_wait_ms:
                return SinkOutcome(result(command, "failed", _now_ms(),
                                          reason=f"gave up after {attempt} tries: {pending}"))
            delay_ms = min(30_000, 500 * 2 ** min(attempt, 6))
            redriven = [(REDRIVE_HEADER, h) for h in [_headers(event).get(REDRIVE_HEADER)] if h]
            await self.retry.send(key=event.key, value=event.value, headers=[
                (NOT_BEFORE, str(_now_ms() + delay_ms).encode()),
                (ATTEMPT, str(attempt + 1).encode()), (FIRST_TRY, str(first_try).encode()),
                *redriven])
            return None
        except Unmappable as exc:  # raised before the sink could record it (no mapping yet)
            return SinkOutcome(result(command, "parked", _now_ms(), reason=str(exc)),
                               parked_kind="mapping")

    async def _dead(self, event: faust.EventT, reason: str, error: str, raw: bytes, *,
                    acknowledged: bool = False) -> None:
        """Publish the dead letter; with ``acknowledged``, return once Kafka has it."""
        msg = event.message
        METRICS.dead_letters.inc()
        METRICS.events.labels(topic="dlq", direction="out").inc()
        sent = await self.dlq.send(key=event.key, value=DEAD.dumps({
            "reason": reason[:2000], "error": error, "source_topic": msg.topic,
            "partition": msg.partition, "offset": msg.offset, "key": event.key, "value": raw,
            "ts": _now_ms()}))
        if acknowledged:
            await sent


def _unpark(state: dict[str, Any], command_id: str) -> None:
    state["parked"].pop(command_id, None)
    state.setdefault("parked_kinds", {}).pop(command_id, None)


async def _redrive_parked(redrives: dict[str, list[tuple[faust.TopicT, faust.Table]]],
                          version: int | None) -> None:
    """Publish again every parked command (this worker's partitions) that was not parked under
    mapping ``version`` itself; same command ids. At start a worker hears only the version in
    force once it has read the mappings topic (LiveMapping), so a restart re-drives once and
    only what that version did not park (parked without a mapping, or a re-drive lost)."""
    for system, pairs in redrives.items():
        for commands, ledger in pairs:
            count = 0
            for key, raw_state in list(ledger.items()):
                state = LEDGER.loads(raw_state)
                for cid, raw in state["parked"].items():
                    parked_under = (state["results"].get(cid) or {}).get("mapping_version")
                    if version is not None and parked_under == version:
                        continue
                    await commands.send(key=key, value=raw)
                    count += 1
            if count:
                log.info("re-driving %d parked %s command(s) under mapping v%s", count, system, version)
