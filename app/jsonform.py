"""The JSON form of our Avro records, for people and files (JSON Lines ingest, CLI output).

Decimals are JSON strings (``"12.50"``; exact JSON numbers are accepted too, never floats
read through binary floating point), dates ``"2026-03-01"``, timestamps RFC 3339 or epoch
milliseconds. Conversion is driven by the parsed `.avsc` schemas, so the JSON form can never
drift from the binary one. Every problem is reported with the path of the offending field.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from app.avro import NAMESPACE, load_schemas, named_types

__all__ = ["JsonFormError", "from_json", "to_json", "loads_exact"]


class JsonFormError(ValueError):
    """A JSON value does not fit its schema; ``path`` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")
        self.path = path
        self.reason = message


def loads_exact(text: str) -> Any:
    """json.loads that reads numbers as Decimal and refuses NaN and Infinity."""
    def bad_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number we accept")
    return json.loads(text, parse_float=Decimal, parse_constant=bad_constant)


def _named() -> dict[str, Any]:
    return named_types()


def from_json(schema_name: str, value: Any, *, payload_entity: str | None = None) -> dict[str, Any]:
    """Convert a JSON-form object into an in-memory record of ``schema_name``."""
    schema = load_schemas()[schema_name]
    return _in(schema, value, "", _named(), payload_entity)


def _decimal(schema: dict, value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise JsonFormError(path, f"expected a decimal as a string like \"12.50\", got {value!r}")
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise JsonFormError(path, f"{value!r} is not a decimal number") from None
    if not d.is_finite():
        raise JsonFormError(path, f"{value!r} is not a finite amount")
    scale, precision = schema.get("scale", 0), schema["precision"]
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > scale:
        raise JsonFormError(path, f"{value} has more than {scale} decimals")
    if d.adjusted() + 1 > precision - scale:
        raise JsonFormError(path, f"{value} is too large (at most {precision - scale} integer digits)")
    return d


def _logical(schema: dict, value: Any, path: str) -> Any:
    logical = schema["logicalType"]
    if logical == "decimal":
        return _decimal(schema, value, path)
    if logical == "date":
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise JsonFormError(path, f"expected a date like \"2026-03-01\", got {value!r}") from None
    if logical == "timestamp-millis":
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
            except (OverflowError, OSError, ValueError):
                raise JsonFormError(path, f"{value} is not a time in epoch milliseconds") from None
        try:
            ts = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise JsonFormError(path, f"expected an RFC 3339 timestamp, got {value!r}") from None
        if ts.tzinfo is None:
            raise JsonFormError(path, f"timestamp {value!r} needs a time zone (e.g. Z or +01:00)")
        return ts
    raise JsonFormError(path, f"unsupported logical type {logical}")


def _in(schema: Any, value: Any, path: str, named: dict, entity: str | None) -> Any:
    if isinstance(schema, str):
        if schema in named:
            return _in(named[schema], value, path, named, entity)
        return _primitive(schema, value, path)
    if isinstance(schema, list):
        return _union(schema, value, path, named, entity)
    if "logicalType" in schema:
        return _logical(schema, value, path)
    kind = schema["type"]
    if kind == "record":
        return _record(schema, value, path, named, entity)
    if kind == "enum":
        if value not in schema["symbols"]:
            raise JsonFormError(path, f"{value!r} is not one of {', '.join(schema['symbols'])}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise JsonFormError(path, f"expected a list, got {type(value).__name__}")
        return [_in(schema["items"], v, f"{path}[{i}]", named, entity) for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise JsonFormError(path, f"expected an object, got {type(value).__name__}")
        return {str(k): _in(schema["values"], v, f"{path}.{k}", named, entity) for k, v in value.items()}
    return _in(kind, value, path, named, entity)


def _record(schema: dict, value: Any, path: str, named: dict, entity: str | None) -> dict:
    if not isinstance(value, dict):
        raise JsonFormError(path, f"expected an object ({schema['name'].split('.')[-1]}), got {type(value).__name__}")
    fields = {f["name"]: f for f in schema["fields"]}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise JsonFormError(path, f"unknown field(s) {', '.join(unknown)}")
    if "entity" in value and isinstance(value["entity"], str):
        entity = value["entity"]
    out = {}
    for name, field in fields.items():
        sub = f"{path}.{name}" if path else name
        if name in value:
            out[name] = _in(field["type"], value[name], sub, named, entity)
        elif "default" in field:
            out[name] = _in(field["type"], field["default"], sub, named, entity) \
                if not _is_decimal(field["type"]) else Decimal(0)
        else:
            raise JsonFormError(sub, "required field is missing")
    return out


def _is_decimal(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("logicalType") == "decimal"


def _union(branches: list, value: Any, path: str, named: dict, entity: str | None) -> Any:
    if value is None:
        if "null" in branches:
            return None
        raise JsonFormError(path, "must not be null")
    others = [b for b in branches if b != "null"]
    if entity and all(isinstance(b, str) and b in named for b in others) and len(others) > 1:
        wanted = f"{NAMESPACE}.{entity.capitalize()}"
        if wanted not in others:
            raise JsonFormError(path, f"no payload type for entity {entity!r}")
        return _in(wanted, value, path, named, entity)
    errors = []
    for branch in others:
        try:
            return _in(branch, value, path, named, entity)
        except JsonFormError as exc:
            errors.append(exc.reason)
    raise JsonFormError(path, "; ".join(errors))


_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "int": (int,), "long": (int,), "bytes": (str,),
    "double": (int, Decimal), "float": (int, Decimal)}


def _primitive(kind: str, value: Any, path: str) -> Any:
    expected = _PRIMITIVES.get(kind)
    if expected is None:
        raise JsonFormError(path, f"unsupported type {kind}")
    if not isinstance(value, expected) or (kind in ("int", "long") and isinstance(value, bool)):
        raise JsonFormError(path, f"expected {kind}, got {type(value).__name__} {value!r}"[:200])
    if kind == "int" and not -(2**31) <= value < 2**31:
        raise JsonFormError(path, f"{value} does not fit a 32-bit int")
    if kind == "bytes":
        return value.encode("latin-1")
    return value


def to_json(value: Any) -> Any:
    """In-memory record -> JSON-ready value (Decimal -> str, dates -> ISO)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value
