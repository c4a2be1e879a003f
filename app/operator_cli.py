"""Operator commands: `history`, `conflicts`, `dlq`, `parked`.

Everything is read straight from Kafka (topics, and tables through their changelogs), so the
commands work without asking a worker. Output is a readable table by default and JSON lines
with ``--json``. Exit codes follow app/cli.py: 0 ok, 1 nothing found / the work found
problems, 2 bad usage (invalid key, time, number...), 3 Kafka unreachable.

The lead wires them in with ``register(cli)``.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, NoReturn

import click

from app.topics import REDRIVE_HEADER

__all__ = ["OperatorError", "dlq_row", "find_conflict", "read_conflicts", "read_dlq",
           "read_parked", "redrive_dead_letters", "redrive_parked", "register", "resolve_conflict"]

OPERATOR = "operator"


class OperatorError(Exception):
    """A request the operator must correct (unknown id, ambiguous prefix...), with the CLI's
    exit code; the CLI prints it, the operator page shows it."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message, self.code = message, code


# ---------------------------------------------------------------- shared helpers

def _settings(ctx: click.Context):
    return ctx.obj["settings"]


def _broker(settings) -> contextlib.AbstractContextManager[None]:
    """app.cli's: no broker is one line and exit code 3 (imported late: app.cli loads us)."""
    from app.cli import _broker_errors

    return _broker_errors(settings)


def _run(ctx: click.Context, coro_fn: Callable[[], Any]) -> Any:
    from app.cli import quiet_connection_errors

    settings = _settings(ctx)
    with _broker(settings), quiet_connection_errors(ctx):
        try:
            return asyncio.run(coro_fn())
        except OperatorError as exc:
            _fail(exc.message, exc.code)


def _note_empty(ctx: click.Context, what: str, topic: str, present: str | None = "") -> None:
    """Nothing to list: say why on stderr (the topic is missing: a mistyped prefix? or empty),
    as `tables` does; stdout stays empty for pipes."""
    from app.cli import explain_empty, quiet_connection_errors

    settings = _settings(ctx)
    with _broker(settings), quiet_connection_errors(ctx):
        explain_empty(settings, what, topic, present)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _iso(ms: int | None) -> str:
    if ms is None or ms < 0:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ms(value: Any) -> int:
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return int(value)


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None) -> int | None:
    """``--since``: RFC 3339 / ISO date-time (UTC when no zone), a date, or ``30m``/``2h``/``7d``."""
    if text is None:
        return None
    m = _RELATIVE.match(text.strip())
    if m:
        return int((time.time() - int(m.group(1)) * _UNITS[m.group(2)]) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--since {text!r} is not a time (use 2026-03-01T10:00:00Z, 2026-03-01, 30m, 2h, 7d)", 2)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def _parse_key(text: str) -> str:
    from app.core.keys import EntityKey, KeyError_

    try:
        return str(EntityKey.parse(text))
    except KeyError_ as exc:
        _fail(str(exc), 2)


def _vector(v: dict | None) -> str:
    return ",".join(f"{k}:{v[k]}" for k in sorted(v or {})) or "-"


def _short(text: Any, width: int = 60) -> str:
    s = str(text)
    return s if len(s) <= width else s[:width - 1] + "…"


def _emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    """JSON lines, or an aligned table of ``columns`` (values already short strings)."""
    from app.jsonform import to_json

    if as_json:
        for row in rows:
            click.echo(json.dumps(to_json(row["json"]), ensure_ascii=False, default=str))
        return
    if not rows:
        return
    cells = [[str(row["cols"].get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def _decoder(name: str) -> Callable[[bytes], Any]:
    """Decode, or keep the undecodable bytes visible instead of stopping the command."""
    from app.avro import DecodeError, codec

    c = codec(name)

    def decode(data: bytes) -> Any:
        try:
            return c.loads(data)
        except DecodeError as exc:
            return {"_undecodable": str(exc), "_hex": data.hex()}
    return decode


def _json_form(value: Any) -> Any:
    from app.jsonform import to_json
    return to_json(value)


json_option = click.option("--json", "as_json", is_flag=True,
                           help="JSON lines (one object per line) instead of a table.")


# ---------------------------------------------------------------- history

def _summary(kind: str, v: dict[str, Any]) -> tuple[str, str]:
    """(system, one-line summary) of a decoded record of ``kind``."""
    if "_undecodable" in v:
        return "?", f"undecodable: {_short(v['_undecodable'])}"
    if kind == "change":
        return v["source_system"], (f"{v['op']} event={v['event_id'][:12]} "
                                    f"source_ts={_iso(_ms(v['source_ts']))} hash={v['content_hash'][:8]}")
    if kind == "command":
        return v["target_system"], (f"{v['op']} lane={v['lane']} vector={_vector(v['vector'])} "
                                    f"id={v['command_id'][:12]}")
    if kind == "result":
        reason = f" reason={_short(v['reason'])}" if v.get("reason") else ""
        return v["target_system"], (f"{v['status']} vector={_vector(v['vector'])} "
                                    f"id={v['command_id'][:12]}{reason}")
    if kind == "conflict":
        return v["incoming_system"], (f"{v['field']}: {v['decision']} by {v['policy']} "
                                      f"({v['canonical_system'] or '?'}={_short(v['canonical_value'], 30)} "
                                      f"vs {v['incoming_system']}={_short(v['incoming_value'], 30)}) "
                                      f"id={v['conflict_id'][:12]}")
    # audit
    return v["system"], f"{v['kind']} vector={_vector(v['vector'])} {_short(v['detail'])}"


async def read_key(settings, topics: list[str], key: str,
                   decoders: list[Callable[[bytes], Any]]) -> list[list[Any]]:
    """The records keyed ``key`` of each topic, reading only the key's partition (the one the
    default murmur2 partitioner picks, as every producer of the flow uses)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.partitioner import DefaultPartitioner

    from app.inspect import Record
    from app.topics import kafka_client_options

    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    try:
        await consumer.start()  # in the try: a failed start is stopped too
        await consumer._client.force_metadata_update()
        tps: dict[TopicPartition, int] = {}
        for i, topic in enumerate(topics):
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            if partitions:
                tps[TopicPartition(topic, DefaultPartitioner()(key.encode(), partitions, partitions))] = i
        out: list[list[Any]] = [[] for _ in topics]
        if not tps:
            return out
        consumer.assign(list(tps))
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(list(tps))
        left = {tp for tp in tps if ends[tp] > 0}
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000)
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset >= ends[tp]:
                        continue
                    if m.key is not None and m.key.decode(errors="replace") == key and m.value is not None:
                        out[tps[tp]].append(Record(key, decoders[tps[tp]](m.value), m.partition,
                                                   m.offset, m.timestamp))
                    if m.offset + 1 >= ends[tp]:
                        left.discard(tp)
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        return out
    finally:
        await consumer.stop()


async def _history(settings, key: str) -> list[dict[str, Any]]:
    from app.topics import TopicNames

    names = TopicNames(settings)
    sources: list[tuple[str, str, str]] = []  # (kind, topic, schema)
    for s in settings.systems:
        sources.append(("change", names.changes(s), "ChangeEvent"))
        sources += [("command", names.commands(s, lane), "Command") for lane in ("realtime", "bulk")]
        sources.append(("result", names.results(s), "CommandResult"))
    sources += [("conflict", names.conflicts, "Conflict"), ("audit", names.audit, "AuditRecord")]
    found = await read_key(settings, [t for _k, t, _s in sources], key,
                           [_decoder(schema) for _k, _t, schema in sources])
    rows = []
    for (kind, topic, _schema), records in zip(sources, found):
        for rec in records:
            if rec.value is None:
                continue
            system, summary = _summary(kind, rec.value)
            rows.append({"timestamp": rec.timestamp, "kind": kind, "system": system,
                         "summary": summary, "topic": topic, "partition": rec.partition,
                         "offset": rec.offset, "record": rec.value})
    rows.sort(key=lambda r: (r["timestamp"], r["topic"], r["offset"]))
    return rows


@click.command()
@click.argument("entity_key")
@json_option
@click.pass_context
def history(ctx: click.Context, entity_key: str, as_json: bool) -> None:
    """Everything that happened to one entity, in time order.

    Changes from every system, commands (both lanes), results, conflicts and audit records
    keyed ENTITY_KEY (<entity>/<origin system>/<origin id>), ordered by Kafka record time.
    Exit 1 when nothing is known about the key, 2 when it is not a valid entity key.
    """
    key = _parse_key(entity_key)
    settings = _settings(ctx)
    rows = _run(ctx, lambda: _history(settings, key))
    if not rows:
        from app.cli import explain_empty
        from app.topics import TopicNames

        # A mistyped HOLDED_SYNC_TOPIC_PREFIX looks like an unknown key: say so, as `list` does.
        with _broker(settings):
            explain_empty(settings, "history", TopicNames(settings).inbox, present=None)
        _fail(f"nothing known about {key}", 1)
    _emit([{"json": {"time": _iso(r["timestamp"]), "kind": r["kind"], "system": r["system"],
                     "summary": r["summary"], "topic": r["topic"], "partition": r["partition"],
                     "offset": r["offset"], "record": r["record"]},
            "cols": {"time": _iso(r["timestamp"]), "kind": r["kind"], "system": r["system"],
                     "summary": r["summary"]}} for r in rows],
          ["time", "kind", "system", "summary"], as_json)


# ---------------------------------------------------------------- conflicts

async def read_conflicts(settings, key: str | None = None):
    from app.inspect import read_topic
    from app.topics import TopicNames

    recs = await read_topic(settings, TopicNames(settings).conflicts, _decoder("Conflict"), key)
    recs = [r for r in recs if r.value is not None and "_undecodable" not in r.value]
    return sorted(recs, key=lambda r: (r.timestamp, r.partition, r.offset))


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
    key = _parse_key(entity_key) if entity_key is not None else None
    since_ms = parse_since(since)
    settings = _settings(ctx)
    recs = _run(ctx, lambda: read_conflicts(settings, key))
    if not recs:
        from app.topics import TopicNames

        _note_empty(ctx, "conflicts", TopicNames(settings).conflicts,
                    None if key is not None else "")
    if since_ms is not None:
        recs = [r for r in recs if r.timestamp >= since_ms]
    _emit([{"json": _conflict_json(r),
            "cols": {"id": r.value["conflict_id"][:12], "recorded": _iso(r.timestamp),
                     "source_time": _iso(_ms(r.value["ts"])),
                     "entity": r.value["entity_key"], "field": r.value["field"],
                     "decision": r.value["decision"], "policy": r.value["policy"]}} for r in recs],
          ["id", "recorded", "source_time", "entity", "field", "decision", "policy"], as_json)


def _conflict_json(rec) -> dict[str, Any]:
    """The conflict record as it is (``ts``: the incoming change's source time) plus both times
    named: ``source_time`` (that same time) and ``recorded_at`` (Kafka record time, when the
    engine settled it)."""
    return {**rec.value, "source_time": _iso(_ms(rec.value["ts"])), "recorded_at": _iso(rec.timestamp)}


@conflicts.command("show")
@click.argument("conflict_id")
@json_option
@click.pass_context
def conflicts_show(ctx: click.Context, conflict_id: str, as_json: bool) -> None:
    """Show one conflict (full id or a unique prefix): both values and the decision."""
    settings = _settings(ctx)
    recs = _run(ctx, lambda: read_conflicts(settings))
    try:
        rec = find_conflict(recs, conflict_id)
    except OperatorError as exc:
        _fail(exc.message, exc.code)
    v = rec.value
    if as_json:
        click.echo(json.dumps(_json_form(_conflict_json(rec)), ensure_ascii=False))
        return
    kept = v["decision"] == "kept_canonical"
    for label, value in [
        ("conflict", v["conflict_id"]), ("entity", v["entity_key"]), ("field", v["field"]),
        ("source time", f"{_iso(_ms(v['ts']))}   (of the incoming change)"),
        ("recorded", f"{_iso(rec.timestamp)}   (when the engine settled it)"),
        ("canonical", f"{v['canonical_system'] or '?'}: {v['canonical_value']}" + ("   <- kept" if kept else "")),
        ("incoming", f"{v['incoming_system']}: {v['incoming_value']}" + ("" if kept else "   <- taken")),
        ("decision", f"{v['decision']} (policy {v['policy']})"), ("vector", _vector(v["vector"])),
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
    source_ts = max(now_ms, _ms(newest) + 1)
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

    settings = _settings(ctx)
    newer = _run(ctx, lambda: switched_generation(settings))
    if newer is not None:  # the override is built from the table: a stale one would revert fields
        _fail(f"the workers run generation {newer}, and this would resolve from generation "
              f"{settings.generation}'s table, which they no longer keep: set "
              f"HOLDED_SYNC_GENERATION={newer} as they have it", 2)
    conflict, where, event = _run(ctx, lambda: resolve_conflict(settings, conflict_id, take))
    if event is None and where:
        _fail(where, 1)
    if event is None:
        msg = (f"{conflict['entity_key']} already holds the {take} value of {conflict['field']!r}; "
               "nothing published")
        out = {"conflict_id": conflict["conflict_id"], "published": False, "message": msg}
    else:
        # Said only when known: after the demo (its worker stopped) "the worker applies it"
        # sent people to `tables` to look for a change nothing would apply yet.
        applies = ("no worker runs now: the first to start applies it"
                   if _run(ctx, lambda: _members(settings)) == 0 else "the worker applies it")
        msg = (f"published operator change {event['event_id'][:12]} to {where}: "
               f"{conflict['entity_key']} {conflict['field']} = "
               f"{conflict[take + '_value']} ({take}); {applies}")
        out = {"conflict_id": conflict["conflict_id"], "published": True, "topic": where,
               "event": event, "message": msg}
    click.echo(json.dumps(_json_form(out), ensure_ascii=False) if as_json else msg)


async def _members(settings) -> int | None:
    """Workers in this generation's consumer group now; None when it cannot be described."""
    from aiokafka.errors import KafkaError

    from app.replay import group_members
    from app.topics import TopicNames

    try:
        return (await group_members(settings, TopicNames(settings).app_id))[1]
    except (KafkaError, KeyError):
        return None


# ---------------------------------------------------------------- dlq

async def read_dlq(settings):
    """[(n, record)] of the dead letters, numbered from 1 oldest first (as `dlq list`)."""
    from app.inspect import read_topic
    from app.topics import TopicNames

    recs = await read_topic(settings, TopicNames(settings).dlq, _decoder("DeadLetter"))
    recs = sorted((r for r in recs if r.value is not None), key=lambda r: (r.timestamp, r.partition, r.offset))
    return list(enumerate(recs, start=1))


def _decode_any(topic: str, data: bytes | None) -> tuple[str | None, Any]:
    """(schema name, decoded value) of a dead record, or (None, hex)."""
    from app.avro import codec

    if data is None:
        return None, None
    for name in ("ChangeEvent", "Command", "CommandResult", "Conflict", "AuditRecord",
                 "EntityState", "SinkLedger", "MappingDocument"):
        c = codec(name)
        if c.knows(data):
            try:
                return name, c.loads(data)
            except ValueError:
                break
    return None, data.hex()


def dlq_row(n: int, rec) -> dict[str, Any]:
    v = rec.value
    if "_undecodable" in v:
        return {"n": n, "time": _iso(rec.timestamp), "reason": v["_undecodable"], "error": "?",
                "source": "?", "key": None}
    key = v["key"].decode(errors="replace") if v["key"] is not None else None
    return {"n": n, "time": _iso(_ms(v["ts"])), "reason": v["reason"], "error": v["error"],
            "source": f"{v['source_topic']}[{v['partition']}]@{v['offset']}", "key": key}


@click.group()
def dlq() -> None:
    """Dead letters: records an agent could not process, with the reason."""


@dlq.command("list")
@click.option("--since", default=None, help="Only newer ones: 2026-03-01T10:00:00Z, 2026-03-01, 30m, 2h, 7d.")
@json_option
@click.pass_context
def dlq_list(ctx: click.Context, since: str | None, as_json: bool) -> None:
    """List dead letters, numbered from 1 (oldest first); the number is for `dlq show`."""
    since_ms = parse_since(since)
    settings = _settings(ctx)
    recs = _run(ctx, lambda: read_dlq(settings))
    if not recs:
        from app.topics import TopicNames

        _note_empty(ctx, "dead letters", TopicNames(settings).dlq)
    if since_ms is not None:
        recs = [(n, r) for n, r in recs if r.timestamp >= since_ms]
    rows = [dlq_row(n, r) for n, r in recs]
    _emit([{"json": row, "cols": {**row, "reason": _short(row["reason"], 70)}} for row in rows],
          ["n", "time", "error", "source", "key", "reason"], as_json)


@dlq.command("show")
@click.argument("n", type=int)
@json_option
@click.pass_context
def dlq_show(ctx: click.Context, n: int, as_json: bool) -> None:
    """Show dead letter N: reason, error, where it came from and its value (decoded or hex)."""
    if n < 1:
        _fail(f"N must be 1 or more, not {n}", 2)
    settings = _settings(ctx)
    recs = _run(ctx, lambda: read_dlq(settings))
    if n > len(recs):
        _fail(f"no dead letter {n} (there are {len(recs)})", 1)
    _n, rec = recs[n - 1]
    row = dlq_row(n, rec)
    schema, value = _decode_any(rec.value.get("source_topic", ""), rec.value.get("value"))
    row.update(schema=schema, value=value if schema else None, value_hex=None if schema else value)
    if as_json:
        click.echo(json.dumps(_json_form(row), ensure_ascii=False, default=str))
        return
    for label in ("n", "time", "reason", "error", "source", "key"):
        click.echo(f"{label:<7} {row[label]}")
    if schema:
        click.echo(f"value   ({schema})")
        click.echo(json.dumps(_json_form(value), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(f"value   (not a known record; hex) {value}")


async def _redrive_dlq(settings, picks: list[int] | None):
    recs = await read_dlq(settings)
    if picks is None:
        chosen = recs
    else:
        missing = [n for n in picks if n < 1 or n > len(recs)]
        if missing:
            return None, f"no dead letter {', '.join(map(str, missing))} (there are {len(recs)})"
        chosen = [recs[n - 1] for n in picks]
    return await redrive_dead_letters(settings, chosen)


async def redrive_dead_letters(settings, chosen) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Publish each (n, dead-letter record) again to its source topic: (done, skipped)."""
    from aiokafka import AIOKafkaProducer

    from app.topics import kafka_client_options

    done, skipped = [], []
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    try:
        await producer.start()  # in the try: a failed start is stopped too
        for n, rec in chosen:
            v = rec.value
            if "_undecodable" in v or v["value"] is None:
                skipped.append((n, "no original bytes to publish"))
                continue
            if settings.topic_prefix and not v["source_topic"].startswith(settings.topic_prefix):
                skipped.append((n, f"source topic {v['source_topic']} is not one of ours"))
                continue
            origin = f"dlq:{rec.partition}:{rec.offset}".encode()
            await producer.send_and_wait(v["source_topic"], key=v["key"], value=v["value"],
                                         headers=[(REDRIVE_HEADER, origin)])
            done.append((n, v["source_topic"]))
    finally:
        await producer.stop()
    return done, skipped


@dlq.command("redrive")
@click.argument("numbers", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every dead letter.")
@json_option
@click.pass_context
def dlq_redrive(ctx: click.Context, numbers: tuple[int, ...], all_: bool, as_json: bool) -> None:
    """Publish dead letters N... (or --all) again to their source topic, same key and bytes.

    A record that is still malformed comes back to the DLQ with its reason. Redriving twice
    publishes twice (the engine drops duplicates of changes and commands it has done).
    Exit 1 when some record could not be redriven.
    """
    if all_ == bool(numbers):
        _fail("give dead-letter numbers (see `dlq list`) or --all, not both or neither", 2)
    settings = _settings(ctx)
    done, skipped = _run(ctx, lambda: _redrive_dlq(settings, None if all_ else list(numbers)))
    if done is None:
        _fail(skipped, 1)
    for n, topic in done:
        click.echo(json.dumps({"n": n, "redriven_to": topic}) if as_json else f"{n}: redriven to {topic}")
    for n, why in skipped:
        click.echo(f"error: {n}: {why}", err=True)
    if not as_json:
        click.echo(f"redriven {len(done)} dead letter(s); {len(skipped)} skipped")
    sys.exit(1 if skipped else 0)


# ---------------------------------------------------------------- parked commands

async def read_parked(settings, systems: Iterable[str]) -> list[dict[str, Any]]:
    """Every parked command of ``systems``' ledgers, with its latest parked reason and time."""
    from app.avro import codec
    from app.inspect import read_topic
    from app.topics import TopicNames, ledger_table

    names = TopicNames(settings)
    ledger, command = codec("SinkLedger"), codec("Command")
    out = []
    for system in systems:
        state: dict[str, bytes | None] = {}
        for rec in await read_topic(settings, names.changelog(ledger_table(system))):
            state[rec.key] = rec.value
        reasons: dict[str, tuple[str | None, int, int | None]] = {}
        for rec in await read_topic(settings, names.results(system), _decoder("CommandResult")):
            v = rec.value
            if v and "_undecodable" not in v and v["status"] == "parked":
                reasons[v["command_id"]] = (v.get("reason"), _ms(v["completed_ts"]),
                                            v.get("mapping_version"))
        for key in sorted(k for k in state if k is not None):
            if state[key] is None:
                continue
            entry = ledger.loads(state[key])
            for cid, raw in entry["parked"].items():
                cmd = command.loads(raw)
                reason, when, tried = reasons.get(cid, (None, None, None))
                # Two versions: the one in force when the command was decided, and the one
                # the sink mapped it with when it parked it last (named in the reason).
                out.append({"system": system, "entity_key": key, "command_id": cid,
                            "op": cmd["op"], "vector": cmd["vector"],
                            # why it waits, the reason label of holded_sync_parked_commands
                            "kind": entry["parked_kinds"].get(cid, "review"),
                            "decided_under_mapping_version": cmd.get("mapping_version"),
                            "parked_under_mapping_version": tried, "reason": reason,
                            "parked_at": _iso(when) if when else None, "raw": raw})
    return out


def _systems(ctx: click.Context, system: str | None) -> list[str]:
    from app.settings import system_name

    settings = _settings(ctx)
    system = system_name(system)
    if system is None:
        return list(settings.systems)
    if system not in settings.systems:
        _fail(f"system {system!r} is not configured "
              f"(HOLDED_SYNC_SYSTEMS={','.join(settings.systems)})", 2)
    return [system]


@click.group()
def parked() -> None:
    """Commands a sink parked, kept in its ledger table: no mapping for them yet, a target not
    ready for them (a Business Central draft invoice), or a case for a person (docs/operations.md)."""


@parked.command("list")
@click.option("--system", default=None, help="Only this system's sink.")
@json_option
@click.pass_context
def parked_list(ctx: click.Context, system: str | None, as_json: bool) -> None:
    """List parked commands with the reason of their latest parked result, and its kind
    (mapping, not_ready, review: the reason label of holded_sync_parked_commands).

    --json gives two mapping versions: decided_under_mapping_version (in force when the
    command was decided) and parked_under_mapping_version (the one the sink last tried it
    with, the version its reason names).
    """
    systems = _systems(ctx, system)
    settings = _settings(ctx)
    rows = _run(ctx, lambda: read_parked(settings, systems))
    if not rows:
        from app.topics import TopicNames, ledger_table

        ledgers = [TopicNames(settings).changelog(ledger_table(s)) for s in systems]
        _note_empty(ctx, "parked commands", ledgers[0],
                    f"no command is parked in {', '.join(ledgers)}")
    _emit([{"json": {k: v for k, v in r.items() if k != "raw"},
            "cols": {**r, "command_id": r["command_id"][:12], "vector": _vector(r["vector"]),
                     "reason": _short(r["reason"] or "-", 70)}} for r in rows],
          ["system", "entity_key", "command_id", "op", "vector", "kind", "reason"], as_json)


async def redrive_parked(settings, systems: list[str],
                         command_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Publish parked commands again (all of ``systems``, or only ``command_ids``)."""
    from aiokafka import AIOKafkaProducer

    from app.topics import TopicNames, kafka_client_options

    rows = await read_parked(settings, systems)
    if command_ids is not None:
        wanted = set(command_ids)
        rows = [r for r in rows if r["command_id"] in wanted]
    if not rows:
        return rows
    names = TopicNames(settings)
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    try:
        await producer.start()  # in the try: a failed start is stopped too
        for r in rows:
            await producer.send_and_wait(names.commands(r["system"]), key=r["entity_key"].encode(),
                                         value=r["raw"])
    finally:
        await producer.stop()
    return rows


@parked.command("redrive")
@click.option("--system", default=None, help="Only this system's sink.")
@json_option
@click.pass_context
def parked_redrive(ctx: click.Context, system: str | None, as_json: bool) -> None:
    """Publish every parked command again to commands.<system> (same bytes, same command id).

    Do it after fixing the mapping (a new mapping version re-drives them by itself). A command
    that still cannot be mapped is parked again with its reason.
    """
    systems = _systems(ctx, system)
    settings = _settings(ctx)
    rows = _run(ctx, lambda: redrive_parked(settings, systems))
    for r in rows:
        if as_json:
            click.echo(json.dumps({"system": r["system"], "entity_key": r["entity_key"],
                                   "command_id": r["command_id"], "redriven": True}))
    if not as_json:
        click.echo(f"redriven {len(rows)} parked command(s)")


# ---------------------------------------------------------------- wiring

def register(cli: click.Group) -> None:
    """Add the operator commands to the `holded-sync` group."""
    for command in (history, conflicts, dlq, parked):
        cli.add_command(command)
