"""The file source: canonical entities from a JSON Lines file, published as change events.

One entity per line (format in docs/events.md). Invalid lines are reported with their line
number and reason and are not published; every valid line is. Lines are decoded one by one, so
a line that is not text in the file's encoding (UTF-8 unless told) is just another invalid line.
Event ids are derived from the content, so ingesting the same file twice publishes events the
engine sees as duplicates.
"""
from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from app.avro import codec
from app.core.decide import BadEvent, validate_change
from app.core.hashing import content_hash
from app.core.keys import ENTITIES, EntityKey, KeyError_
from app.jsonform import JsonFormError, from_json, loads_exact
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options

__all__ = ["IngestReport", "LineError", "build_event", "ingest_file", "line_encoding", "parse_lines"]

MAX_LINE_BYTES = 1_000_000
LINE_FIELDS = {"entity", "id", "key", "updated_at", "op", "data", "event_id"}
# ChangeEvent fields -> the line's own names, for errors
_LINE_NAME = {"source_ts": "updated_at", "source_id": "id", "entity_key": "key"}


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class IngestReport:
    published: int = 0
    errors: list[LineError] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def build_event(obj: Any, system: str, lane: str = "realtime") -> dict[str, Any]:
    """One JSON line -> a validated ChangeEvent record (raises ValueError with the reason)."""
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    unknown = sorted(set(obj) - LINE_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(LINE_FIELDS))}")
    entity = obj.get("entity")
    if entity not in ENTITIES:
        raise ValueError(f"entity must be one of {', '.join(ENTITIES)}, got {entity!r}")
    source_id = obj.get("id")
    if not isinstance(source_id, str) or not source_id.strip():
        raise ValueError("id (the record's id in the source system) is required and must be a string")
    key = obj.get("key") or f"{entity}/{system}/{source_id}"
    parsed_key = EntityKey.parse(key)
    if parsed_key.entity != entity:
        raise ValueError(f"key {key!r} is not a {entity} key")
    op = obj.get("op", "upsert")
    if op not in ("upsert", "delete"):
        raise ValueError(f"op must be upsert or delete, got {op!r}")
    if "updated_at" not in obj:
        raise ValueError("updated_at (when the source changed the record, RFC 3339) is required")
    payload = None
    if op == "upsert":
        if "data" not in obj:
            raise ValueError("data (the canonical record) is required for an upsert")
        try:
            payload = from_json(entity.capitalize(), obj["data"])
        except JsonFormError as exc:
            raise JsonFormError(f"data.{exc.path}" if exc.path else "data", exc.reason) from None
    digest = content_hash(payload)
    event = {
        "entity_key": key, "entity": entity, "source_system": system, "source_id": source_id,
        "source_ts": obj["updated_at"], "op": op, "payload": None, "content_hash": digest,
        "lane": lane, "event_id": obj.get("event_id") or "",
    }
    try:
        record = from_json("ChangeEvent", event)
    except JsonFormError as exc:  # named as the line names it, not as the event does
        raise JsonFormError(_LINE_NAME.get(exc.path, exc.path), exc.reason) from None
    record["payload"] = payload
    if not record["event_id"]:
        stamp = int(record["source_ts"].timestamp() * 1000)
        record["event_id"] = hashlib.sha256(f"{system}\x00{key}\x00{stamp}\x00{digest}".encode()).hexdigest()[:32]
    validate_change(record)
    return record


def line_encoding(name: str) -> str:
    """The codec called ``name``, if a JSON Lines file in it can be split on newline bytes and
    decoded line by line (utf-8, cp1252, latin-1: not utf-16); ValueError saying why not."""
    sample = '{"a": "b"}\n'
    try:
        codec = codecs.lookup(name).name
        splits = sample.encode("ascii").decode(codec) == sample
    except LookupError:  # unknown, or a bytes-to-bytes codec such as base64
        raise ValueError(f"unknown encoding {name!r} (e.g. utf-8, cp1252, latin-1)") from None
    except UnicodeDecodeError:  # utf-16, utf-32
        splits = False
    if not splits:
        raise ValueError(f"encoding {name!r} cannot be read line by line; use an ASCII-compatible "
                         "one (e.g. utf-8, cp1252, latin-1)")
    return codec


def _decode(raw: bytes | str, encoding: str) -> str:
    """One line as text (str lines are taken as they are); ValueError with the reason."""
    if len(raw if isinstance(raw, bytes) else raw.encode()) > MAX_LINE_BYTES:
        raise ValueError(f"line longer than {MAX_LINE_BYTES} bytes")
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        column = len(raw[:exc.start].decode(encoding)) + 1  # in characters, as an editor counts
        utf8 = codecs.lookup(encoding).name.startswith("utf-8")
        hint = ("save the file as UTF-8 or pass --encoding cp1252" if utf8
                else f"is {encoding} the file's encoding?")
        raise ValueError(f"not {'UTF-8' if utf8 else encoding} text (byte 0x{raw[exc.start]:02x} "
                         f"at column {column}); {hint}") from None


def parse_lines(lines: Iterable[bytes | str], system: str, lane: str = "realtime",
                encoding: str = "utf-8") -> Iterator[tuple[int, dict[str, Any] | None, LineError | None]]:
    """Yield (line number, event, None) or (line number, None, error); blank lines are skipped.
    Lines read as bytes are decoded with ``encoding``; a BOM opening the first line (Excel's
    "UTF-8 CSV" writes one) is not part of the record."""
    for number, raw in enumerate(lines, start=1):
        try:
            line = _decode(raw, encoding)
        except ValueError as exc:
            yield number, None, LineError(number, str(exc))
            continue
        if number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        try:
            record = loads_exact(line)
        except ValueError as exc:  # not JSON at all, or NaN / Infinity (not JSON either)
            yield number, None, LineError(number, f"not valid JSON: {exc}")
            continue
        try:
            yield number, build_event(record, system, lane), None
        except (ValueError, JsonFormError, KeyError_, BadEvent) as exc:
            yield number, None, LineError(number, str(exc))


async def ingest_file(path: Path, system: str, settings: Settings, lane: str = "realtime",
                      progress: Any = None, encoding: str = "utf-8") -> IngestReport:
    """Publish every valid line of ``path`` to ``changes.<system>``; report the invalid ones.
    ``progress``, if given, is called with the number of each line read (valid or not).
    ``encoding`` is the file's (see ``line_encoding``)."""
    if system not in settings.systems:
        raise ValueError(f"system {system!r} is not configured (HOLDED_SYNC_SYSTEMS="
                         f"{','.join(settings.systems)})")
    encoding = line_encoding(encoding)
    topic = TopicNames(settings).changes(system)
    change = codec("ChangeEvent")
    report = IngestReport()
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all",
                                enable_idempotence=True, linger_ms=5)
    try:
        await producer.start()  # in the try: a failed start is stopped too
        pending = []
        with path.open("rb") as fh:  # bytes: a line that does not decode is reported, not raised
            for number, event, error in parse_lines(fh, system, lane, encoding):
                if progress:
                    progress(number)
                if error:
                    report.errors.append(error)
                    continue
                key = event["entity_key"]
                pending.append(await producer.send(topic, key=key.encode(), value=change.dumps(event)))
                report.keys.append(key)
        for fut in pending:
            await fut
        report.published = len(pending)
    finally:
        await producer.stop()
    return report
