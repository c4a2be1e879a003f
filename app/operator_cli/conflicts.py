"""`conflicts list|show|resolve`: the conflicts the canonical agent settled, and an operator's
override of one (a change from the system `operator`, which wins the field)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from decimal import Decimal
from typing import Any

import click

from app.operator_cli.common import (
    OPERATOR, OperatorError, decoder, emit, fail, iso, json_form, json_option, ms, note_empty,
    parse_key, parse_since, run, settings_of, vector_text)

__all__ = ["build_override", "conflicts", "find_conflict", "from_canonical_json", "read_conflicts",
           "resolve_conflict"]


async def read_conflicts(settings, key: str | None = None):
    """Each conflict once, oldest first. A worker killed after sending a decision's records and
    before storing its state decides the change again and records its conflicts again, under
    the same ids (app/direct_table.py): the first record of an id is kept."""
    from app.inspect import read_topic
    from app.topics import TopicNames

    recs = await read_topic(settings, TopicNames(settings).conflicts, decoder("Conflict"), key)
    recs = [r for r in recs if r.value is not None and "_undecodable" not in r.value]
    first: dict[str, Any] = {}
    for r in sorted(recs, key=lambda r: (r.timestamp, r.partition, r.offset)):
        first.setdefault(r.value["conflict_id"], r)
    return list(first.values())


def find_conflict(recs, conflict_id: str):
    """The conflict with this id (or unique id prefix); OperatorError when none or ambiguous."""
    exact = [r for r in recs if r.value["conflict_id"] == conflict_id]
    if exact:
        return exact[-1]
    prefixed = {r.value["conflict_id"]: r for r in recs if r.value["conflict_id"].startswith(conflict_id)}
    if len(prefixed) > 1:
        raise OperatorError(f"conflict id prefix {conflict_id!r} is ambiguous "
                            f"({len(prefixed)} conflicts); give more characters", 2)
    if not conflict_id or not prefixed:
        raise OperatorError(f"no conflict {conflict_id!r}", 1)
    return next(iter(prefixed.values()))


@click.group()
def conflicts() -> None:
    """Conflicts the canonical agent settled: list, show, and override them."""


@conflicts.command("list")
@click.option("--entity", "entity_key", default=None, help="Only this entity key.")
@click.option("--since", default=None, help="Only newer ones: 2026-03-01T10:00:00Z, 2026-03-01, 30m, 2h, 7d.")
@json_option
@click.pass_context
def conflicts_list(ctx: click.Context, entity_key: str | None, since: str | None, as_json: bool) -> None:
    """List conflicts (oldest first by when they were recorded): id, recorded (Kafka record
    time: when the engine settled it; what --since filters on), source time (of the incoming
    change, as `show`), entity, field, decision and policy."""
    key = parse_key(entity_key) if entity_key is not None else None
    since_ms = parse_since(since)
    settings = settings_of(ctx)
    recs = run(ctx, lambda: read_conflicts(settings, key))
    if not recs:
        from app.topics import TopicNames

        note_empty(ctx, "conflicts", TopicNames(settings).conflicts,
                    None if key is not None else "")
    if since_ms is not None:
        recs = [r for r in recs if r.timestamp >= since_ms]
    emit([{"json": _conflict_json(r),
            "cols": {"id": r.value["conflict_id"][:12], "recorded": iso(r.timestamp),
                     "source_time": iso(ms(r.value["ts"])),
                     "entity": r.value["entity_key"], "field": r.value["field"],
                     "decision": r.value["decision"], "policy": r.value["policy"]}} for r in recs],
          ["id", "recorded", "source_time", "entity", "field", "decision", "policy"], as_json)


def _conflict_json(rec) -> dict[str, Any]:
    """The conflict record as it is (``ts``: the incoming change's source time) plus both times
    named: ``source_time`` (that same time) and ``recorded_at`` (Kafka record time, when the
    engine settled it)."""
    return {**rec.value, "source_time": iso(ms(rec.value["ts"])), "recorded_at": iso(rec.timestamp)}


@conflicts.command("show")
@click.argument("conflict_id")
@json_option
@click.pass_context
def conflicts_show(ctx: click.Context, conflict_id: str, as_json: bool) -> None:
    """Show one conflict (full id or a unique prefix): both values and the decision."""
    settings = settings_of(ctx)
    recs = run(ctx, lambda: read_conflicts(settings))
    try:
        rec = find_conflict(recs, conflict_id)
    except OperatorError as exc:
        fail(exc.message, exc.code)
    v = rec.value
    if as_json:
        click.echo(json.dumps(json_form(_conflict_json(rec)), ensure_ascii=False))
        return
    kept = v["decision"] == "kept_canonical"
    for label, value in [
        ("conflict", v["conflict_id"]), ("entity", v["entity_key"]), ("field", v["field"]),
        ("source time", f"{iso(ms(v['ts']))}   (of the incoming change)"),
        ("recorded", f"{iso(rec.timestamp)}   (when the engine settled it)"),
        ("canonical", f"{v['canonical_system'] or '?'}: {v['canonical_value']}" + ("   <- kept" if kept else "")),
        ("incoming", f"{v['incoming_system']}: {v['incoming_value']}" + ("" if kept else "   <- taken")),
        ("decision", f"{v['decision']} (policy {v['policy']})"), ("vector", vector_text(v["vector"])),
        ("event", v["event_id"])]:
        click.echo(f"{label:<12} {value}")


_LOGICAL = {"$dec": Decimal, "$date": dt.date.fromisoformat,
            "$ts": lambda s: dt.datetime.fromisoformat(s)}


def from_canonical_json(text: str) -> Any:
    """The inverse of app.core.hashing.canonical_json (decimals, dates and timestamps tagged)."""
    def hook(obj: dict) -> Any:
        if len(obj) == 1:
            (tag, raw), = obj.items()
            if tag in _LOGICAL and isinstance(raw, str):
                return _LOGICAL[tag](raw)
        return obj
    return json.loads(text, object_pairs_hook=lambda pairs: hook(dict(pairs)))


def build_override(conflict: dict[str, Any], take: str, state: dict[str, Any] | None,
                   now_ms: int) -> tuple[str, dict[str, Any]] | str:
    """The operator's ChangeEvent and the topic system to publish it to, or why not (a str)."""
    from app.core.decide import operator_source_id
    from app.core.hashing import Fingerprint

    key, f = conflict["entity_key"], conflict["field"]
    system = conflict["canonical_system"] if take == "canonical" else conflict["incoming_system"]
    raw_value = conflict["canonical_value"] if take == "canonical" else conflict["incoming_value"]
    if not system:
        return f"the {take} side of conflict {conflict['conflict_id']} has no known system"
    if system == OPERATOR:  # an earlier override's value: there is no changes.operator topic
        system = conflict["incoming_system"] if take == "canonical" else conflict["canonical_system"]
    if state is None or state.get("record") is None:
        return f"{key} has no current canonical record (unknown or deleted)"
    value = from_canonical_json(raw_value)
    record = dict(state["record"])
    if Fingerprint(record).field_hashes().get(f) == Fingerprint({**record, f: value}).field_hashes().get(f):
        return ""  # already the canonical value: nothing to publish
    record[f] = value
    newest = max([p.get("source_ts", 0) for p in state.get("provenance", {}).values()] or [0])
    source_ts = max(now_ms, ms(newest) + 1)
    digest = Fingerprint(record).content_hash()
    event_id = hashlib.sha256(f"{OPERATOR}\x00{conflict['conflict_id']}\x00{take}\x00{source_ts}"
                              .encode()).hexdigest()[:32]
    event = {"event_id": event_id, "entity_key": key, "entity": state["entity"],
             "source_system": OPERATOR,
             "source_id": operator_source_id(conflict["conflict_id"], f),
             "source_ts": dt.datetime.fromtimestamp(source_ts / 1000, dt.timezone.utc),
             "op": "upsert", "payload": record, "content_hash": digest, "lane": "realtime"}
    return system, event


async def resolve_conflict(settings, conflict_id: str, take: str):
    """Publish the override of ``conflicts resolve``: (conflict, topic or refusal, event or None)."""
    from aiokafka import AIOKafkaProducer

    from app.avro import codec
    from app.inspect import read_table
    from app.topics import TopicNames, kafka_client_options

    conflict = find_conflict(await read_conflicts(settings), conflict_id).value
    state = (await read_table(settings, "entities")).get(conflict["entity_key"])
    built = build_override(conflict, take, state, int(time.time() * 1000))
    if isinstance(built, str):
        return conflict, built, None
    system, event = built
    if system not in settings.systems:
        return conflict, f"system {system!r} is not configured (HOLDED_SYNC_SYSTEMS)", None
    topic = TopicNames(settings).changes(system)
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    try:
        await producer.start()  # in the try: a failed start is stopped too
        await producer.send_and_wait(topic, key=event["entity_key"].encode(),
                                     value=codec("ChangeEvent").dumps(event))
    finally:
        await producer.stop()
    return conflict, topic, event


@conflicts.command("resolve")
@click.argument("conflict_id")
@click.option("--take", required=True, type=click.Choice(["canonical", "incoming"]),
              help="Which side of the conflict must win.")
@json_option
@click.pass_context
def conflicts_resolve(ctx: click.Context, conflict_id: str, take: str, as_json: bool) -> None:
    """Override a conflict's decision: make one side's value win.

    Publishes a ChangeEvent from the system `operator` to the changes topic of the system
    whose value must win (changes.<that system>). The event is the entity's current canonical
    record (read from the entities table) with the conflicting field set to the chosen side's
    value, and a source time newer than every field's provenance. The canonical agent merges
    it like any concurrent change, except that a change from `operator` wins the field
    outright (policy `operator`), even against the field's owner, and commands carry the value
    to every system (including the one that lost). Only that field changes (its source_id
    names it); other fields keep their current canonical values, including changes made
    since the table was read.

    Refused (exit 1) when the entity has no current record. When the canonical record already
    holds the chosen value nothing is published (exit 0).
    """
    from app.replay import switched_generation

    settings = settings_of(ctx)
    newer = run(ctx, lambda: switched_generation(settings))
    if newer is not None:  # the override is built from the table: a stale one would revert fields
        fail(f"the workers run generation {newer}, and this would resolve from generation "
              f"{settings.generation}'s table, which they no longer keep: set "
              f"HOLDED_SYNC_GENERATION={newer} as they have it", 2)
    conflict, where, event = run(ctx, lambda: resolve_conflict(settings, conflict_id, take))
    if event is None and where:
        fail(where, 1)
    if event is None:
        msg = (f"{conflict['entity_key']} already holds the {take} value of {conflict['field']!r}; "
               "nothing published")
        out = {"conflict_id": conflict["conflict_id"], "published": False, "message": msg}
    else:
        # Said only when known: after the demo (its worker stopped) "the worker applies it"
        # sent people to `tables` to look for a change nothing would apply yet.
        applies = ("no worker runs now: the first to start applies it"
                   if run(ctx, lambda: _members(settings)) == 0 else "the worker applies it")
        msg = (f"published operator change {event['event_id'][:12]} to {where}: "
               f"{conflict['entity_key']} {conflict['field']} = "
               f"{conflict[take + '_value']} ({take}); {applies}")
        out = {"conflict_id": conflict["conflict_id"], "published": True, "topic": where,
               "event": event, "message": msg}
    click.echo(json.dumps(json_form(out), ensure_ascii=False) if as_json else msg)


async def _members(settings) -> int | None:
    """Workers in this generation's consumer group now; None when it cannot be described."""
    from aiokafka.errors import KafkaError

    from app.replay import group_members
    from app.topics import TopicNames

    try:
        return (await group_members(settings, TopicNames(settings).app_id))[1]
    except (KafkaError, KeyError):
        return None

