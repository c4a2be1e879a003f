"""`history`: everything that happened to one entity, read from every topic keyed by it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from app.operator_cli.common import (
    broker, decoder, emit, fail, iso, json_option, ms, parse_key, run, settings_of, short,
    vector_text)

__all__ = ["history", "read_key"]


def _summary(kind: str, v: dict[str, Any]) -> tuple[str, str]:
    """(system, one-line summary) of a decoded record of ``kind``."""
    if "_undecodable" in v:
        return "?", f"undecodable: {short(v['_undecodable'])}"
    if kind == "change":
        return v["source_system"], (f"{v['op']} event={v['event_id'][:12]} "
                                    f"source_ts={iso(ms(v['source_ts']))} hash={v['content_hash'][:8]}")
    if kind == "command":
        return v["target_system"], (f"{v['op']} lane={v['lane']} vector={vector_text(v['vector'])} "
                                    f"id={v['command_id'][:12]}")
    if kind == "result":
        reason = f" reason={short(v['reason'])}" if v.get("reason") else ""
        return v["target_system"], (f"{v['status']} vector={vector_text(v['vector'])} "
                                    f"id={v['command_id'][:12]}{reason}")
    if kind == "conflict":
        return v["incoming_system"], (f"{v['field']}: {v['decision']} by {v['policy']} "
                                      f"({v['canonical_system'] or '?'}={short(v['canonical_value'], 30)} "
                                      f"vs {v['incoming_system']}={short(v['incoming_value'], 30)}) "
                                      f"id={v['conflict_id'][:12]}")
    # audit
    return v["system"], f"{v['kind']} vector={vector_text(v['vector'])} {short(v['detail'])}"


async def read_key(settings, topics: list[str], key: str,
                   decoders: list[Callable[[bytes], Any]]) -> list[list[Any]]:
    """The records keyed ``key`` of each topic, reading only the key's partition (the one the
    default murmur2 partitioner picks, as every producer of the flow uses)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.partitioner import DefaultPartitioner

    from app.inspect import Record, read_to_end
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
        async for tp, m in read_to_end(consumer, list(tps)):
            if m.key is not None and m.key.decode(errors="replace") == key and m.value is not None:
                out[tps[tp]].append(Record(key, decoders[tps[tp]](m.value), m.partition,
                                           m.offset, m.timestamp))
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
                           [decoder(schema) for _k, _t, schema in sources])
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
    key = parse_key(entity_key)
    settings = settings_of(ctx)
    rows = run(ctx, lambda: _history(settings, key))
    if not rows:
        from app.cli import explain_empty
        from app.topics import TopicNames

        # A mistyped HOLDED_SYNC_TOPIC_PREFIX looks like an unknown key: say so, as `list` does.
        with broker(settings):
            explain_empty(settings, "history", TopicNames(settings).inbox, present=None)
        fail(f"nothing known about {key}", 1)
    emit([{"json": {"time": iso(r["timestamp"]), "kind": r["kind"], "system": r["system"],
                     "summary": r["summary"], "topic": r["topic"], "partition": r["partition"],
                     "offset": r["offset"], "record": r["record"]},
            "cols": {"time": iso(r["timestamp"]), "kind": r["kind"], "system": r["system"],
                     "summary": r["summary"]}} for r in rows],
          ["time", "kind", "system", "summary"], as_json)

