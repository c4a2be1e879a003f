"""The Faust application: topics, tables and agents (the composition root).

The sequencer copies ``changes.<system>`` and ``results.<system>`` into ``inbox``; the
``canonical`` agent reads ``inbox`` and applies the pure decisions of ``app.core.decide``:
changes update the canonical record and emit commands, results record links and replica
versions. At-least-once with idempotent handlers (faust's exactly_once has open bugs): a
redelivered record is a duplicate by content hash and changes nothing.
Records are Avro bytes we decode ourselves, so a malformed one goes to ``dlq`` with its reason
instead of stopping the agent.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import faust

from app import (
    direct_table, faust_cleared, faust_fetch_wait, faust_fixes, faust_handoff, faust_livelock,
)
from app.avro import DecodeError, codec
from app.canonical_step import CanonicalStep
from app.core.decide import BadEvent
from app.core.keys import KeyError_
from app.core.policy import Policy
from app.connections import (
    clients, configured, engine_policy, limiter_of, pollers, sink_factories, what_runs,
)
from app.decision_publisher import DecisionPublisher
from app.jsonform import JsonFormError
from app.lag import Progress
from app.live_mapping import LiveMapping
from app.metrics import METRICS
from app.observe import Sampler
from app.sequencer import SOURCE_HEADER, Sequencer
from app.table_manager import TablesDeclaredUpFront
from app.settings import Settings
from app.pollers import register_pollers, register_subscriptions
from app.sinks import register_sinks
from app.quota_share import install_quota_shares
from app.replay import REPLAY_CLIENT_ID, WORKER_CLIENT_ID
from app.resend import register_resender
from app.topics import CANONICAL_TABLE, TopicNames, kafka_client_options

__all__ = ["FLOW_OPTIONS", "REJECTED", "create_app", "dead_letter_value", "install_faust_patches"]

log = logging.getLogger(__name__)

DEAD = codec("DeadLetter")
# How records flow through faust: the guarantee, commits, batching. The benches that measure
# faust alone (bench/_floor_app.py, bench/_rebalance_app.py) use the same, so they measure
# the worker's configuration.
FLOW_OPTIONS: dict[str, Any] = dict(
    processing_guarantee="at_least_once",
    consumer_auto_offset_reset="earliest",
    broker_commit_every=1000,
    broker_commit_interval=1.0,
    # Throughput: table changelogs and commands are many small records; batch them.
    producer_linger=0.005,
    producer_max_batch_size=1 << 20,
    stream_buffer_maxsize=8192,
    broker_max_poll_records=2000,
)
REJECTED = (DecodeError, BadEvent, KeyError_, JsonFormError, KeyError, TypeError, ValueError)


def dead_letter_value(topic: str, partition: int, offset: int, headers: Any, key: bytes | None,
                      value: bytes | None, reason: str, error: str) -> bytes:
    """The ``dlq`` record of an inbox record the agent rejects; it names the record's origin
    (the source topic the sequencer copied it from) so it can be fixed and re-driven."""
    origin = dict(headers or ()).get(SOURCE_HEADER, b"").decode() or f"{topic}:{partition}:{offset}"
    topic_name, source_partition, source_offset = origin.rsplit(":", 2)
    log.warning("dead-lettered %s: %s", origin, reason)
    return DEAD.dumps({
        "reason": reason[:2000], "error": error, "source_topic": topic_name,
        "partition": int(source_partition), "offset": int(source_offset), "key": key,
        "value": value, "ts": int(time.time() * 1000)})


def tune_gc() -> None:
    """Fewer garbage collections on the hot path. Each record allocates many short-lived
    dicts that reference counting frees; with Python's default thresholds the collector still
    runs every 700 net allocations and, in full passes, rescans everything the process holds
    (schemas, faust, the decoded-entry cache). Objects alive at start-up are frozen out of
    its scans; the young generation is collected less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _faust_options(settings: Settings) -> dict[str, Any]:
    opts = kafka_client_options(settings)
    broker_credentials = None
    if settings.kafka_sasl_mechanism:
        broker_credentials = faust.SASLCredentials(
            username=opts["sasl_plain_username"], password=opts.get("sasl_plain_password"),
            mechanism=settings.kafka_sasl_mechanism, ssl_context=opts.get("ssl_context"))
    elif "ssl_context" in opts:
        broker_credentials = faust.SSLCredentials(opts["ssl_context"])
    return {"broker_credentials": broker_credentials} if broker_credentials else {}


def install_faust_patches() -> None:
    """faust-streaming as the worker runs it (idempotent); bench/_packed_app.py installs the
    same, so it measures the worker's faust."""
    faust_fixes.install()  # faust's consumer can skip records around a rebalance without it
    faust_cleared.install()  # faust's flow resume threw away records fetched after its seek
    faust_handoff.install()  # a cheaper per-record hand-off in faust's fetch loop
    faust_fetch_wait.install()  # requests of faust's consumer queue behind its long-poll
    faust_livelock.install()  # faust took its tables' changelogs for stalled streams
    direct_table.install()  # a commit first writes the table values held for their records


def create_app(settings: Settings, policy: Policy | None = None,
               replay: Progress | None = None) -> faust.App:
    install_faust_patches()
    names = TopicNames(settings)
    live = LiveMapping()
    policy = policy or engine_policy(settings, live)
    app = faust.App(
        names.app_id,
        broker=settings.broker,
        store=settings.store,
        datadir=str(settings.data_dir),
        # faust names a table's files after the table alone (tables/canonical-0.db): two apps
        # or two generations on one volume would open each other's tables, and a worker
        # switched to a new generation crashed on the old one's noted offsets (or, past them,
        # kept its values). Each app id (prefix and generation) gets a directory of its own.
        tabledir=names.app_id,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
        consumer_group_instance_id=settings.group_instance_id,
        **FLOW_OPTIONS,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_in_thread=False,
        table_cleanup_interval=3600.0,
        # A replay generation's worker says so to the broker (app/replay.py): a worker with
        # sinks refuses to join its group while it is there.
        broker_client_id=REPLAY_CLIENT_ID if not settings.run_sinks else WORKER_CLIENT_ID,
        table_standby_replicas=settings.standby_replicas,
        TableManager=TablesDeclaredUpFront,
        logging_config=None,
        **_faust_options(settings),
    )

    # Records written to the inbox before the last assignment may have been decided already,
    # by a worker killed before it committed them (or this one, before a restart): a change
    # among them that meets the decision it made emits that decision's outstanding writes
    # again (app/core/decide.py). Inbox timestamps are the sequencer's clock; a skew between
    # hosts only moves a few records to the other side (an extra copy, or the resend timer).
    assigned_at = [0.0]

    @app.on_partitions_assigned.connect
    async def _count_assignment(sender: Any, assigned: Any, **_: Any) -> None:
        METRICS.assignments.inc()  # rebalances show per worker (see group_instance_id)
        assigned_at[0] = time.time()

    def topic(*topic_names: str) -> faust.TopicT:
        return app.topic(*topic_names, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", partitions=settings.partitions)

    inbox = topic(names.inbox)
    commands = {(s, lane): topic(names.commands(s, lane))
                for s in settings.systems for lane in ("realtime", "bulk")}
    dlq = topic(names.dlq)

    def table(name: str) -> faust.Table:
        # bytes types make faust use the raw codec: values are our own Avro records.
        return app.Table(name, default=None, key_type=bytes, value_type=bytes,
                         partitions=settings.partitions, options=settings.table_options)

    canonical_table = table(CANONICAL_TABLE)  # state, replicas and links: one record per key
    entries = direct_table.DirectTable(app, canonical_table)  # the agent's reads and writes

    async def dead_letter(event: faust.EventT, reason: str, error: str) -> None:
        msg = event.message
        METRICS.dead_letters.inc()
        METRICS.events.labels(topic="dlq", direction="out").inc()
        await dlq.send(key=event.key, value=dead_letter_value(
            msg.topic, msg.partition, msg.offset, msg.headers, event.key, event.value, reason, error))

    publish = DecisionPublisher(app, names, commands, live).publish

    step = CanonicalStep(policy, settings.decoded_cache)
    inbox_in = METRICS.events.labels(topic="inbox", direction="in")
    decided: dict[str, Any] = {}  # outcome -> its bound counter (a labels() lookup costs)

    @app.agent(inbox, name="canonical")
    async def canonical(stream: faust.StreamT) -> None:
        """Changes and results of one entity, in the one order the sequencer fixed."""
        async for event in stream.events():
            key = event.key
            inbox_in.inc()
            try:
                done = step(key, event.value, entries.get(key) if key is not None else None,
                            read_again=(event.message.timestamp or 0.0) < assigned_at[0])
            except REJECTED as exc:
                await dead_letter(event, str(exc), exc.__class__.__name__)
                continue
            decision = done.decision
            counter = decided.get(decision.outcome)
            if counter is None:
                counter = decided[decision.outcome] = METRICS.decisions.labels(outcome=decision.outcome)
            counter.inc()
            if decision.commands and decision.outcome == "duplicate":  # read again: a crash
                for cmd in decision.commands:  # may have lost these (app/core/decide.py)
                    METRICS.resent_commands.labels(system=cmd["target_system"]).inc()
            sent = await publish(key, decision)
            if done.entry is not None:  # stored once ``sent`` is in Kafka (app/direct_table.py)
                await entries.set(key, done.entry.raw, event, after=sent)

    sequencer = Sequencer(settings)

    @app.task
    async def sequence() -> None:
        await sequencer.run(asyncio.Event())

    @app.task
    async def follow_mappings() -> None:
        await live.follow(settings)

    api = clients(settings)
    running = what_runs(settings, api)
    for system, is_set in configured(settings, api).items():
        METRICS.configured.labels(system=system).set(is_set)

    @app.task
    async def say_what_runs() -> None:  # once the worker has set up its logging
        for level, line in running:
            log.log(level, line)

    factories = sink_factories(settings, live, api) if settings.run_sinks else {}
    ledgers = register_sinks(app, settings, factories, live)
    register_resender(app, settings, canonical_table, commands, frozenset(factories))
    METRICS.limiters.update({s: b for s, b in ((s, limiter_of(c)) for s, c in api.items()) if b})
    sampler = Sampler(settings, ledgers, replay)

    @app.task
    async def sample_metrics() -> None:
        await sampler.run(settings.metrics_interval_s)

    # A replay generation's worker (sinks off) only decides: it calls no API, so it neither
    # polls (the live generation's leader does; its changes reach both) nor takes a share of
    # any quota, which the live workers' shares already add up to.
    outside = api if settings.run_sinks else {}
    register_pollers(app, settings, pollers(settings, live, outside))
    register_subscriptions(app, settings, outside)
    install_quota_shares(app, outside, {s: {names.commands(s, "realtime"), names.commands(s, "bulk")}
                                        for s in settings.systems}, settings.partitions)
    app.live_mapping = live  # type: ignore[attr-defined]  # for web views and tests

    from app.web import register_views, register_webhooks
    from app.webhooks import receivers
    register_views(app)
    from app.operator_page import register_operator_page
    register_operator_page(app, settings)
    register_webhooks(app, settings, receivers(settings, outside, live))
    return app
