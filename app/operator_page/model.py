"""What the operator page shows and does, read from and written to Kafka.

The same reads and writes as the `conflicts`, `dlq` and `parked` commands (app.operator_cli),
gathered into one snapshot; the page never asks the worker's tables directly, so what it shows
is what any other worker or the CLI would show.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from app import operator_cli as ops
from app.metrics import METRICS, system_total
from app.settings import Settings
from app.system_health import HEALTH, SystemHealth

__all__ = ["ConflictRow", "DEAD_LETTER_REF", "DeadLetterRow", "KafkaOperatorData", "OperatorData", "OperatorError",
           "ParkedRow", "Snapshot", "SystemRow", "check_dead_letter_ref", "secret_values"]

OperatorError = ops.OperatorError
LIST_LIMIT = 200  # conflicts and dead letters, newest first; the CLI lists them all


@dataclass(frozen=True, slots=True)
class ConflictRow:
    conflict_id: str
    time: str
    entity_key: str
    field: str
    canonical_system: str
    canonical_value: str
    incoming_system: str
    incoming_value: str
    decision: str
    policy: str
    current_value: str | None  # the field's value in the entities table now (JSON)
    current_system: str | None  # and which system set it


@dataclass(frozen=True, slots=True)
class ParkedRow:
    system: str
    entity_key: str
    command_id: str
    op: str
    reason: str | None
    parked_at: str | None
    times_parked: int


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    ref: str  # "<partition>:<offset>" in the dlq topic: stable, unlike the list number
    n: int
    time: str
    error: str
    source: str
    key: str | None
    reason: str
    command_status: str | None  # a dead command's latest result since (e.g. succeeded)


@dataclass(frozen=True, slots=True)
class SystemRow:
    system: str
    api_calls: int
    rate_limited: int
    last_status: int | None
    last_call: str | None
    calls_last_minute: int
    allowed_per_minute: int | None
    last_poll: str | None
    last_poll_ok: bool | None
    last_poll_error: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    conflicts: list[ConflictRow] = field(default_factory=list)
    conflicts_total: int = 0
    parked: list[ParkedRow] = field(default_factory=list)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    dead_letters_total: int = 0
    systems: list[SystemRow] = field(default_factory=list)
    read_at: str = ""


class OperatorData(Protocol):
    """The page's source and its three actions; each action returns a one-line outcome or
    raises OperatorError (unknown id, refused)."""

    async def snapshot(self) -> Snapshot: ...

    async def override(self, conflict_id: str, take: str) -> str: ...

    async def redrive_dead_letter(self, ref: str) -> str: ...

    async def redrive_parked(self, system: str, command_id: str) -> str: ...


DEAD_LETTER_REF = re.compile(r"[0-9]+:[0-9]+")


def check_dead_letter_ref(ref: str) -> None:
    """A malformed ref is bad input (OperatorError code 2: 400), not an unknown dead letter."""
    if not DEAD_LETTER_REF.fullmatch(ref):
        raise OperatorError(f"dead letter ref {ref!r} is not <partition>:<offset> of the dlq "
                            "topic (e.g. 2:17)", 2)


def secret_values(settings: BaseSettings) -> list[str]:
    """Every secret in ``settings`` (nested too), so the page can mask one that an error echoed."""
    out: list[str] = []
    for _name, value in settings:
        if isinstance(value, SecretStr) and value.get_secret_value():
            out.append(value.get_secret_value())
        elif isinstance(value, BaseSettings):
            out += secret_values(value)
    return out


def _iso_s(ts: float | None) -> str | None:
    return ops.iso(int(ts * 1000)) if ts is not None else None


def system_rows(settings: Settings, health: SystemHealth = HEALTH) -> list[SystemRow]:
    rows = []
    now = health.now()
    for system in settings.systems:
        s = health.state(system)
        rps = getattr(getattr(settings, system, None), "requests_per_second", None)
        rows.append(SystemRow(
            system=system, api_calls=system_total(METRICS.api_calls, system),
            rate_limited=system_total(METRICS.api_rate_limited, system),
            last_status=s.last_status, last_call=_iso_s(s.last_call_at),
            calls_last_minute=s.calls_in_window(now),
            allowed_per_minute=int(rps * 60) if rps else None,
            last_poll=_iso_s(s.last_poll_at), last_poll_ok=s.last_poll_ok,
            last_poll_error=s.last_poll_error))
    return rows


def _json(value: Any) -> str:
    from app.core.hashing import canonical_json
    from app.jsonform import to_json
    try:
        return canonical_json(value)
    except (TypeError, ValueError):
        return str(to_json(value))


class KafkaOperatorData:
    """OperatorData over the real topics and changelogs of ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _results(self, systems: Iterable[str]) -> dict[str, tuple[str, int]]:
        """command id -> (latest status, how many times it was parked)."""
        from app.inspect import read_topic
        from app.topics import TopicNames

        names, out = TopicNames(self.settings), {}
        decode = ops.decoder("CommandResult")
        for system in systems:
            for rec in await read_topic(self.settings, names.results(system), decode):
                v = rec.value
                if not v or "_undecodable" in v:
                    continue
                _status, parked = out.get(v["command_id"], ("", 0))
                out[v["command_id"]] = (v["status"], parked + (v["status"] == "parked"))
        return out

    async def snapshot(self) -> Snapshot:
        from app.inspect import read_table

        s = self.settings
        conflicts, entities, dlq, parked, results = await asyncio.gather(
            ops.read_conflicts(s), read_table(s, "entities"), ops.read_dlq(s),
            ops.read_parked(s, s.systems), self._results(s.systems))
        return Snapshot(
            conflicts=[self._conflict_row(r, entities) for r in reversed(conflicts[-LIST_LIMIT:])],
            conflicts_total=len(conflicts),
            parked=[ParkedRow(p["system"], p["entity_key"], p["command_id"], p["op"], p["reason"],
                              p["parked_at"], results.get(p["command_id"], ("", 0))[1])
                    for p in parked],
            dead_letters=[self._dead_row(n, r, results) for n, r in reversed(dlq[-LIST_LIMIT:])],
            dead_letters_total=len(dlq),
            systems=system_rows(s), read_at=ops.iso(int(time.time() * 1000)))

    @staticmethod
    def _conflict_row(rec: Any, entities: dict[str, Any]) -> ConflictRow:
        v = rec.value
        state = entities.get(v["entity_key"]) or {}
        record = state.get("record") or {}
        current = _json(record[v["field"]]) if v["field"] in record else None
        prov = (state.get("provenance") or {}).get(v["field"]) or {}
        return ConflictRow(v["conflict_id"], ops.iso(ops.ms(v["ts"])), v["entity_key"], v["field"],
                           v["canonical_system"] or "?", v["canonical_value"], v["incoming_system"],
                           v["incoming_value"], v["decision"], v["policy"], current, prov.get("system"))

    @staticmethod
    def _dead_row(n: int, rec: Any, results: dict[str, tuple[str, int]]) -> DeadLetterRow:
        from app.avro import codec

        row = ops.dlq_row(n, rec)
        status = None
        raw = rec.value.get("value")
        if isinstance(raw, bytes) and codec("Command").knows(raw):
            try:
                status = results.get(codec("Command").loads(raw)["command_id"], (None, 0))[0]
            except ValueError:
                status = None
        return DeadLetterRow(f"{rec.partition}:{rec.offset}", n, row["time"], row["error"],
                             row["source"], row["key"], row["reason"], status)

    async def override(self, conflict_id: str, take: str) -> str:
        if take not in ("canonical", "incoming"):
            raise OperatorError(f"take must be 'canonical' or 'incoming', not {take!r}", 2)
        conflict, where, event = await ops.resolve_conflict(self.settings, conflict_id, take)
        if event is None and where:
            raise OperatorError(where, 1)
        if event is None:
            return (f"{conflict['entity_key']} already holds the {take} value of "
                    f"{conflict['field']!r}; nothing published")
        return (f"override published to {where}: {conflict['entity_key']} {conflict['field']} = "
                f"{conflict[take + '_value']} ({take}); the worker applies it")

    async def redrive_dead_letter(self, ref: str) -> str:
        check_dead_letter_ref(ref)
        chosen = [(n, r) for n, r in await ops.read_dlq(self.settings)
                  if f"{r.partition}:{r.offset}" == ref]
        if not chosen:
            raise OperatorError(f"no dead letter {ref!r} (partition:offset of the dlq topic)", 1)
        done, skipped = await ops.redrive_dead_letters(self.settings, chosen)
        if skipped:
            raise OperatorError(f"dead letter {ref} not re-driven: {skipped[0][1]}", 1)
        return f"dead letter {ref} re-driven to {done[0][1]}"

    async def redrive_parked(self, system: str, command_id: str) -> str:
        if system not in self.settings.systems:
            raise OperatorError(f"system {system!r} is not configured", 2)
        rows = await ops.redrive_parked(self.settings, [system], [command_id])
        if not rows:
            raise OperatorError(f"no parked command {command_id!r} for {system}", 1)
        return f"parked command {command_id[:12]} re-driven to commands.{system} ({rows[0]['entity_key']})"
