"""`dlq list|show|redrive`: records an agent could not process, with the reason, and their
redrive to the topic they came from."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from app.operator_cli.common import (
    decoder, emit, fail, iso, json_form, json_option, ms, note_empty, parse_since, run,
    settings_of, short)
from app.topics import REDRIVE_HEADER

__all__ = ["dlq", "dlq_row", "read_dlq", "redrive_dead_letters"]


async def read_dlq(settings):
    """[(n, record)] of the dead letters, numbered from 1 oldest first (as `dlq list`)."""
    from app.inspect import read_topic
    from app.topics import TopicNames

    recs = await read_topic(settings, TopicNames(settings).dlq, decoder("DeadLetter"))
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
        return {"n": n, "time": iso(rec.timestamp), "reason": v["_undecodable"], "error": "?",
                "source": "?", "key": None}
    key = v["key"].decode(errors="replace") if v["key"] is not None else None
    return {"n": n, "time": iso(ms(v["ts"])), "reason": v["reason"], "error": v["error"],
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
    settings = settings_of(ctx)
    recs = run(ctx, lambda: read_dlq(settings))
    if not recs:
        from app.topics import TopicNames

        note_empty(ctx, "dead letters", TopicNames(settings).dlq)
    if since_ms is not None:
        recs = [(n, r) for n, r in recs if r.timestamp >= since_ms]
    rows = [dlq_row(n, r) for n, r in recs]
    emit([{"json": row, "cols": {**row, "reason": short(row["reason"], 70)}} for row in rows],
          ["n", "time", "error", "source", "key", "reason"], as_json)


@dlq.command("show")
@click.argument("n", type=int)
@json_option
@click.pass_context
def dlq_show(ctx: click.Context, n: int, as_json: bool) -> None:
    """Show dead letter N: reason, error, where it came from and its value (decoded or hex)."""
    if n < 1:
        fail(f"N must be 1 or more, not {n}", 2)
    settings = settings_of(ctx)
    recs = run(ctx, lambda: read_dlq(settings))
    if n > len(recs):
        fail(f"no dead letter {n} (there are {len(recs)})", 1)
    _n, rec = recs[n - 1]
    row = dlq_row(n, rec)
    schema, value = _decode_any(rec.value.get("source_topic", ""), rec.value.get("value"))
    row.update(schema=schema, value=value if schema else None, value_hex=None if schema else value)
    if as_json:
        click.echo(json.dumps(json_form(row), ensure_ascii=False, default=str))
        return
    for label in ("n", "time", "reason", "error", "source", "key"):
        click.echo(f"{label:<7} {row[label]}")
    if schema:
        click.echo(f"value   ({schema})")
        click.echo(json.dumps(json_form(value), ensure_ascii=False, indent=2, default=str))
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
        fail("give dead-letter numbers (see `dlq list`) or --all, not both or neither", 2)
    settings = settings_of(ctx)
    done, skipped = run(ctx, lambda: _redrive_dlq(settings, None if all_ else list(numbers)))
    if done is None:
        fail(skipped, 1)
    for n, topic in done:
        click.echo(json.dumps({"n": n, "redriven_to": topic}) if as_json else f"{n}: redriven to {topic}")
    for n, why in skipped:
        click.echo(f"error: {n}: {why}", err=True)
    if not as_json:
        click.echo(f"redriven {len(done)} dead letter(s); {len(skipped)} skipped")
    sys.exit(1 if skipped else 0)

