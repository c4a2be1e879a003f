"""The Faust application: topics, tables and the canonical agents (the composition root).

Two agents own the truth. ``canonical`` reads every ``changes.<system>`` topic and applies the
pure decision of ``app.core.decide``; ``recorder`` reads ``results.<system>`` and records links
and replica versions. Both are at-least-once with idempotent handlers (faust's exactly_once has
open bugs): a redelivered event is a duplicate by content hash and changes nothing.
Records are Avro bytes we decode ourselves, so a malformed one goes to ``dlq`` with its reason
instead of stopping the agent.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import faust

from app.avro import DecodeError, codec
from app.core.decide import BadEvent, Decision, apply_change, apply_result
from app.core.keys import KeyError_
from app.core.policy import Policy, default_policy
from app.jsonform import JsonFormError
from app.metrics import METRICS
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options

__all__ = ["create_app"]

log = logging.getLogger(__name__)

CHANGE, COMMAND, RESULT = codec("ChangeEvent"), codec("Command"), codec("CommandResult")
STATE, REPLICAS, LINKS = codec("EntityState"), codec("ReplicaSet"), codec("LinkSet")
CONFLICT, AUDIT, DEAD = codec("Conflict"), codec("AuditRecord"), codec("DeadLetter")
REJECTED = (DecodeError, BadEvent, KeyError_, JsonFormError, KeyError, TypeError, ValueError)


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


def create_app(settings: Settings, policy: Policy | None = None) -> faust.App:
    names = TopicNames(settings)
    policy = policy or default_policy(settings.erps)
    app = faust.App(
        names.app_id,
        broker=settings.broker,
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_linger_ms=5,
        stream_buffer_maxsize=4096,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_in_thread=False,
        table_cleanup_interval=3600.0,
        logging_config=None,
        **_faust_options(settings),
    )

    def topic(*topic_names: str) -> faust.TopicT:
        return app.topic(*topic_names, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", partitions=settings.partitions)

    changes = topic(*(names.changes(s) for s in settings.systems))
    results = topic(*(names.results(s) for s in settings.systems))
    commands = {s: topic(names.commands(s)) for s in settings.systems}
    conflicts, audit, dlq = topic(names.conflicts), topic(names.audit), topic(names.dlq)

    def table(name: str) -> faust.Table:
        # bytes types make faust use the raw codec: values are our own Avro records.
        return app.Table(name, default=None, key_type=bytes, value_type=bytes,
                         partitions=settings.partitions)

    entities, replicas, links = table("entities"), table("replicas"), table("links")

    def load(tbl: faust.Table, c: Any, key: bytes) -> dict | None:
        raw = tbl.get(key)
        return c.loads(raw) if raw is not None else None

    async def dead_letter(event: faust.EventT, reason: str, error: str) -> None:
        msg = event.message
        METRICS.dlq_records.inc()
        log.warning("dead-lettered %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, reason)
        await dlq.send(key=event.key, value=DEAD.dumps({
            "reason": reason[:2000], "error": error, "source_topic": msg.topic,
            "partition": msg.partition, "offset": msg.offset, "key": event.key,
            "value": event.value, "ts": int(time.time() * 1000)}))

    async def publish(key: bytes, decision: Decision) -> None:
        for cmd in decision.commands:
            METRICS.events.labels(topic="commands", direction="out").inc()
            await commands[cmd["target_system"]].send(key=key, value=COMMAND.dumps(cmd))
        for conflict in decision.conflicts:
            METRICS.conflicts.labels(outcome=conflict["decision"]).inc()
            await conflicts.send(key=key, value=CONFLICT.dumps(conflict))
        for record in decision.audit:
            await audit.send(key=key, value=AUDIT.dumps(record))

    @app.agent(changes, name="canonical")
    async def canonical(stream: faust.StreamT) -> None:
        async for event in stream.events():
            METRICS.events.labels(topic="changes", direction="in").inc()
            key = event.key
            try:
                change = CHANGE.loads(event.value)
                if key is None or key.decode("utf-8", "replace") != change["entity_key"]:
                    raise BadEvent(f"record key {key!r} is not the entity key {change['entity_key']!r}")
                decision = apply_change(change, load(entities, STATE, key),
                                        load(replicas, REPLICAS, key), load(links, LINKS, key), policy)
                # Encode before writing anything: a record that cannot be stored changes nothing.
                state_bytes = STATE.dumps(decision.state) if decision.state else None
                replica_bytes = REPLICAS.dumps(decision.replicas)
            except REJECTED as exc:
                await dead_letter(event, str(exc), exc.__class__.__name__)
                continue
            METRICS.decisions.labels(outcome=decision.outcome).inc()
            if state_bytes is not None and decision.outcome not in ("duplicate", "stale", "echo"):
                entities[key] = state_bytes
            replicas[key] = replica_bytes
            await publish(key, decision)

    @app.agent(results, name="recorder")
    async def recorder(stream: faust.StreamT) -> None:
        async for event in stream.events():
            METRICS.events.labels(topic="results", direction="in").inc()
            key = event.key
            try:
                result = RESULT.loads(event.value)
                if key is None or key.decode("utf-8", "replace") != result["entity_key"]:
                    raise BadEvent(f"record key {key!r} is not the entity key {result['entity_key']!r}")
                decision = apply_result(result, load(replicas, REPLICAS, key), load(links, LINKS, key))
                replica_bytes, link_bytes = REPLICAS.dumps(decision.replicas), LINKS.dumps(decision.links)
            except REJECTED as exc:
                await dead_letter(event, str(exc), exc.__class__.__name__)
                continue
            METRICS.commands.labels(system=result["target_system"], outcome=result["status"]).inc()
            replicas[key] = replica_bytes
            links[key] = link_bytes

    from app.web import register_views
    register_views(app)
    return app
