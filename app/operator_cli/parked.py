"""`parked list|redrive`: commands a sink parked in its ledger table, with why they wait."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click

from app.operator_cli.common import (
    decoder, emit, fail, iso, json_option, ms, note_empty, run, settings_of, short, vector_text)

__all__ = ["parked", "read_parked", "redrive_parked"]


async def read_parked(settings, systems: Iterable[str]) -> list[dict[str, Any]]:
    """Every parked command of ``systems``' ledgers, with its latest parked reason and time."""
    from app.avro import codec
    from app.inspect import read_topic
    from app.topics import TopicNames, ledger_table
    from connectors.base.contracts import DEFAULT_PARKED_KIND

    names = TopicNames(settings)
    ledger, command = codec("SinkLedger"), codec("Command")
    out = []
    for system in systems:
        state: dict[str, bytes | None] = {}
        for rec in await read_topic(settings, names.changelog(ledger_table(system))):
            state[rec.key] = rec.value
        reasons: dict[str, tuple[str | None, int, int | None]] = {}
        for rec in await read_topic(settings, names.results(system), decoder("CommandResult")):
            v = rec.value
            if v and "_undecodable" not in v and v["status"] == "parked":
                reasons[v["command_id"]] = (v.get("reason"), ms(v["completed_ts"]),
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
                            "kind": entry["parked_kinds"].get(cid, DEFAULT_PARKED_KIND),
                            "decided_under_mapping_version": cmd.get("mapping_version"),
                            "parked_under_mapping_version": tried, "reason": reason,
                            "parked_at": iso(when) if when else None, "raw": raw})
    return out


def _systems(ctx: click.Context, system: str | None) -> list[str]:
    from app.settings import system_name

    settings = settings_of(ctx)
    system = system_name(system)
    if system is None:
        return list(settings.systems)
    if system not in settings.systems:
        fail(f"system {system!r} is not configured "
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
    settings = settings_of(ctx)
    rows = run(ctx, lambda: read_parked(settings, systems))
    if not rows:
        from app.topics import TopicNames, ledger_table

        ledgers = [TopicNames(settings).changelog(ledger_table(s)) for s in systems]
        note_empty(ctx, "parked commands", ledgers[0],
                    f"no command is parked in {', '.join(ledgers)}")
    emit([{"json": {k: v for k, v in r.items() if k != "raw"},
            "cols": {**r, "command_id": r["command_id"][:12], "vector": vector_text(r["vector"]),
                     "reason": short(r["reason"] or "-", 70)}} for r in rows],
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
    settings = settings_of(ctx)
    rows = run(ctx, lambda: redrive_parked(settings, systems))
    for r in rows:
        if as_json:
            click.echo(json.dumps({"system": r["system"], "entity_key": r["entity_key"],
                                   "command_id": r["command_id"], "redriven": True}))
    if not as_json:
        click.echo(f"redriven {len(rows)} parked command(s)")

