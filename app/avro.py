"""Avro schemas of the event log, and their single-object binary encoding.

Every record on our topics is Avro *single-object encoded* (Avro spec): the two marker bytes
``C3 01``, the schema's 8-byte CRC-64-AVRO fingerprint, then the schemaless body. The
fingerprint is the header that says which schema wrote the record, so a reader can decode
records written by any earlier version of a schema it still knows (``schemas/history``) into
the current shape. The `.avsc` files in ``schemas/`` are the only definition; nothing here
repeats them.

With a schema registry (:func:`use_registry`, app/schema_registry.py) records are written in
the Confluent wire format instead: byte ``0``, the registry's 4-byte schema id, the same body.
Both framings are read either way, so a deployment can switch without rewriting its topics.

The fingerprint covers the whole writer schema: the named types of other ``.avsc`` files it
uses are written out at their first use (Avro's Parsing Canonical Form of a self-contained
schema). Releases up to 2026-11 fingerprinted the record with those types *by name* only, so
a change inside a nested type (Payment's ``invoice_key`` becoming nullable) left the
container's fingerprint as it was, and a reader took an old record for today's layout. Those
*by-name* fingerprints are still read (:func:`by_name_fingerprint`): each earlier version
answers to its own, and the by-name fingerprint of today's schema means the layout the last
such release wrote under it (:data:`LAST_BY_NAME`).
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from app.core import provenance

__all__ = ["SCHEMA_DIR", "AvroCodec", "DecodeError", "by_name_fingerprint", "codec",
           "fingerprint_of", "load_schemas", "named_types", "self_contained",
           "use_registry"]

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
MARKER = b"\xc3\x01"
CONFLUENT = 0  # the first byte of a record in the Confluent wire format
NAMESPACE = "holdedsync"
# The history version whose layout the last by-name release wrote under today's schema's
# by-name fingerprint, where that is not today's layout: records carrying a Payment, written
# before Payment v2 (invoice_key nullable). Every other schema: today's layout.
LAST_BY_NAME = {"ChangeEvent": 2, "Command": 3, "EntityState": 2}


class DecodeError(ValueError):
    """Bytes that are not a record of the expected schema (reason in the message)."""


def _read_dir(directory: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.avsc"))}


def _parse_all(raw: Mapping[str, dict]) -> dict[str, Any]:
    """Parse schemas that reference each other by name, whatever the file order."""
    named: dict[str, Any] = {}
    parsed: dict[str, Any] = {}
    pending = dict(raw)
    while pending:
        progress = False
        for name, schema in list(pending.items()):
            try:
                parsed[name] = fastavro.parse_schema(schema, named_schemas=named)
            except fastavro.schema.UnknownType:
                continue
            del pending[name]
            progress = True
        if not progress:
            raise ValueError(f"unresolvable schema references in {sorted(pending)}")
    return parsed


@cache
def load_schemas(directory: Path = SCHEMA_DIR) -> dict[str, Any]:
    """Current parsed schemas by short name (``ChangeEvent``, ``Invoice``...)."""
    return _parse_all(_read_dir(directory))


@cache
def named_types(directory: Path = SCHEMA_DIR) -> dict[str, Any]:
    """Every named type by full name, including enums and records defined inline."""
    named: dict[str, Any] = {}
    for parsed in load_schemas(directory).values():
        fastavro.parse_schema(parsed, named_schemas=named)
    return named


@cache
def _history(directory: Path = SCHEMA_DIR) -> dict[str, dict[int, dict]]:
    """Earlier versions, ``schemas/history/<Name>.v<N>.avsc``, raw, by short name and N."""
    out: dict[str, dict[int, dict]] = {}
    for p in sorted((directory / "history").glob("*.avsc")):
        name, version = p.name.split(".")[:2]
        out.setdefault(name, {})[int(version.lstrip("v"))] = json.loads(p.read_text())
    return out


def _defined_names(schema: Any, namespace: str = NAMESPACE) -> set[str]:
    """Full names of the named types a schema defines inline."""
    found: set[str] = set()
    if isinstance(schema, list):
        for branch in schema:
            found |= _defined_names(branch, namespace)
    elif isinstance(schema, dict):
        ns = schema.get("namespace", namespace)
        if schema.get("type") in ("record", "enum", "fixed") and "name" in schema:
            found.add(schema["name"] if "." in schema["name"] else f"{ns}.{schema['name']}")
        for f in schema.get("fields", []):
            found |= _defined_names(f["type"], ns)
        for k in ("items", "values"):
            if k in schema:
                found |= _defined_names(schema[k], ns)
    return found


def _parse_old(old: dict, directory: Path) -> Any:
    """Parse an earlier version against today's other named types."""
    named = dict(named_types(directory))
    for full_name in _defined_names(old):
        named.pop(full_name, None)
    return fastavro.parse_schema(old, named_schemas=named)


def _crc(canonical: str) -> bytes:
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))[::-1]


def self_contained(schema: Any, named: dict[str, Any], defined: set[str] | None = None) -> Any:
    """``schema`` with each named type it uses defined inline at its first use, as a registry
    needs it (ours reference types of other .avsc files by name). fastavro's own keys go."""
    defined = set() if defined is None else defined
    if isinstance(schema, str):
        if schema in named and schema not in defined:
            return self_contained(named[schema], named, defined)
        return schema
    if isinstance(schema, list):
        return [self_contained(branch, named, defined) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if not k.startswith("__")}
    if out.get("type") in ("record", "enum", "fixed") and "name" in out:
        defined.add(out["name"])
    if "fields" in out:
        out["fields"] = [{**{k: v for k, v in f.items() if not k.startswith("__")},
                          "type": self_contained(f["type"], named, defined)}
                         for f in out["fields"]]
    for key in ("items", "values"):
        if key in out:
            out[key] = self_contained(out[key], named, defined)
    if isinstance(out.get("type"), (dict, list)):
        out["type"] = self_contained(out["type"], named, defined)
    return out


def fingerprint_of(parsed: Any, directory: Path = SCHEMA_DIR) -> bytes:
    """CRC-64-AVRO of the schema's Parsing Canonical Form, every named type it uses written
    out: a change anywhere in the layout changes it."""
    return _crc(to_parsing_canonical_form(
        fastavro.parse_schema(self_contained(parsed, named_types(directory)))))


def _collapse(node: Any, files: frozenset[str], top: bool = True) -> Any:
    """A canonical form with each type of its own .avsc file named, not defined."""
    if isinstance(node, list):
        return [_collapse(n, files, False) for n in node]
    if not isinstance(node, dict):
        return node
    if not top and node.get("name") in files and node.get("type") in ("record", "enum"):
        return node["name"]
    return {k: _collapse(v, files, False) for k, v in node.items()}


def by_name_fingerprint(parsed: Any, directory: Path = SCHEMA_DIR) -> bytes:
    """The fingerprint releases up to 2026-11 wrote: the types of other .avsc files by name
    (an earlier version's inlined copy of such a type is named again, as it was written)."""
    files = frozenset(p["name"] for p in load_schemas(directory).values())
    form = json.loads(to_parsing_canonical_form(parsed))
    return _crc(json.dumps(_collapse(form, files), separators=(",", ":")))


# Records whose in-memory form differs from their wire form: (to wire, from wire).
WIRE_FORMS: dict[str, tuple[Callable[[Mapping[str, Any]], Mapping[str, Any]],
                            Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "EntityState": (provenance.to_wire, provenance.from_wire),
}


def _same(record: Any) -> Any:
    return record


class _Registered:
    """The schema registry this process writes with, if any, and the ids it knows."""

    registry: Any = None  # an app.schema_registry.Registry
    ids: dict[str, int] = {}  # full record name -> the id our current schema has
    writers: dict[int, tuple[str, Any]] = {}  # id -> (full record name, parsed writer schema)


def use_registry(registry: Any, directory: Path = SCHEMA_DIR) -> None:
    """Write every record in the Confluent wire format with ``registry``'s ids (None: back to
    single-object encoding). Registers each current schema under its full record name now, so
    no write waits on the registry later."""
    ids: dict[str, int] = {}
    writers: dict[int, tuple[str, Any]] = {}
    if registry is not None:
        named = named_types(directory)
        for parsed in load_schemas(directory).values():
            name = parsed["name"]
            schema_id = registry.register(name, self_contained(parsed, named))
            ids[name], writers[schema_id] = schema_id, (name, parsed)
    _Registered.registry, _Registered.ids, _Registered.writers = registry, ids, writers


def _registered_writer(schema_id: int) -> tuple[str, Any]:
    """(full name, parsed schema) of a registry id; fetched from the registry once. A registry
    that cannot answer raises its own error (not a DecodeError: the record is not at fault)."""
    known = _Registered.writers.get(schema_id)
    if known is None:
        try:
            schema = _Registered.registry.schema(schema_id)
        except Exception as exc:
            if getattr(exc, "status", None) == 404:  # an id nobody registered: not our record
                raise DecodeError(f"schema id {schema_id} is not in the schema registry") from exc
            raise
        try:
            known = (schema.get("name", ""), fastavro.parse_schema(schema))
        except Exception as exc:
            raise DecodeError(f"registry schema {schema_id} is not a valid Avro record: {exc}"
                              ) from exc
        _Registered.writers[schema_id] = known
    return known


class AvroCodec:
    """Encode/decode one record type; decodes every known version of it."""

    def __init__(self, name: str, directory: Path = SCHEMA_DIR) -> None:
        schemas = load_schemas(directory)
        self.name = name
        self.to_wire, self.from_wire = WIRE_FORMS.get(name, (_same, _same))
        self.schema = schemas[name]
        self.fingerprint = fingerprint_of(self.schema, directory)
        self._writers: dict[bytes, Any] = {self.fingerprint: self.schema}
        versions = {n: _parse_old(old, directory)
                    for n, old in _history(directory).get(name, {}).items()}
        for parsed in versions.values():
            self._writers[fingerprint_of(parsed, directory)] = parsed
            self._writers[by_name_fingerprint(parsed, directory)] = parsed
        # Last: today's by-name fingerprint is what the last by-name release wrote.
        self._writers[by_name_fingerprint(self.schema, directory)] = (
            versions[LAST_BY_NAME[name]] if name in LAST_BY_NAME else self.schema)

    def _writer(self, fingerprint: bytes) -> Any:
        """The parsed version of this schema with ``fingerprint`` (DecodeError if none)."""
        writer = self._writers.get(fingerprint)
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {fingerprint.hex()} for {self.name}")
        return writer

    def knows(self, data: bytes | None) -> bool:
        """Was ``data`` written with (a version of) this codec's schema? (A registry id the
        registry does not know raises DecodeError: the record is bad either way.)"""
        if not data:
            return False
        if data[0] == CONFLUENT and len(data) >= 5 and _Registered.registry is not None:
            return _registered_writer(int.from_bytes(data[1:5], "big"))[0] == self.schema["name"]
        return data[:2] == MARKER and data[2:10] in self._writers

    def dumps(self, record: Mapping[str, Any]) -> bytes:
        record = _tag_payload(self.to_wire(record))
        buf = io.BytesIO()
        if _Registered.registry is not None:
            buf.write(bytes((CONFLUENT,)))
            buf.write(_Registered.ids[self.schema["name"]].to_bytes(4, "big"))
        else:
            buf.write(MARKER)
            buf.write(self.fingerprint)
        try:
            fastavro.schemaless_writer(buf, self.schema, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ValueError(f"cannot encode {self.name}: {exc}") from exc
        return buf.getvalue()

    def loads(self, data: bytes | None) -> dict[str, Any]:
        if data and len(data) >= 5 and data[0] == CONFLUENT and _Registered.registry is not None:
            schema_id = int.from_bytes(data[1:5], "big")
            name, writer = _registered_writer(schema_id)
            if name != self.schema["name"]:
                raise DecodeError(f"schema id {schema_id} is {name}, not {self.schema['name']}")
            body = data[5:]
        else:
            if not data or len(data) < 10 or data[:2] != MARKER:
                hint = (" (its first byte would start the Confluent wire format, but no schema "
                        "registry is configured: HOLDED_SYNC_SCHEMA_REGISTRY_URL)"
                        if data and data[0] == CONFLUENT else "")
                raise DecodeError(f"not an Avro single-object encoded {self.name}{hint}")
            writer = self._writer(data[2:10])
            body = data[10:]
        try:
            # Payload unions are read as plain dicts: the record's `entity` says which branch.
            # Schema resolution is skipped when the writer is today's schema (the usual case).
            record = fastavro.schemaless_reader(
                io.BytesIO(body), writer, None if writer is self.schema else self.schema)
        except Exception as exc:  # fastavro raises many kinds on corrupt input
            raise DecodeError(f"corrupt {self.name} record: {exc.__class__.__name__}: {exc}") from exc
        return self.from_wire(record)

    def upgrade(self, record: Mapping[str, Any], fingerprint: bytes) -> dict[str, Any]:
        """A record in the wire form of the earlier version ``fingerprint``, in today's wire
        form: Avro's resolution (written with the old schema, read with today's)."""
        writer = self._writer(fingerprint)
        buf = io.BytesIO()
        try:
            fastavro.schemaless_writer(buf, writer, _tag_payload(record))
            buf.seek(0)
            return fastavro.schemaless_reader(buf, writer, self.schema)
        except Exception as exc:
            raise DecodeError(f"corrupt {self.name} record of version {fingerprint.hex()}: "
                              f"{exc.__class__.__name__}: {exc}") from exc


# Entity payloads are a union of records; in memory they are plain dicts next to `entity`.
PAYLOAD_FIELDS = ("payload", "record")


def _tag_payload(record: Mapping[str, Any]) -> Mapping[str, Any]:
    for field in PAYLOAD_FIELDS:
        value = record.get(field)
        if isinstance(value, Mapping) and "entity" in record:
            return {**record, field: (f"{NAMESPACE}.{str(record['entity']).capitalize()}", value)}
    return record


@cache
def codec(name: str) -> AvroCodec:
    return AvroCodec(name)
