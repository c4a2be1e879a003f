"""Can a reader schema read what a writer schema wrote? Avro's schema-resolution rules (the
specification's "Schema Resolution"), which a schema registry applies as BACKWARD
compatibility: the new schema must read data written with the latest registered one.

Used by the schema registry sandbox (app/devrun/schema_registry_sandbox.py), which must refuse
what a real registry refuses. Logical types are compared by their underlying type.
"""
from __future__ import annotations

from typing import Any

__all__ = ["incompatibilities"]

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
PROMOTIONS = {("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
              ("long", "double"), ("float", "double"), ("string", "bytes"), ("bytes", "string")}


def _full(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _definitions(schema: Any, namespace: str | None = None, out: dict | None = None) -> dict:
    """Every named type a schema defines, by full name (with the namespace it sets inside)."""
    out = {} if out is None else out
    if isinstance(schema, list):
        for branch in schema:
            _definitions(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            full = _full(schema["name"], schema.get("namespace", namespace))
            out[full] = (schema, full.rpartition(".")[0] or None)
            for field in schema.get("fields", []):
                _definitions(field["type"], full.rpartition(".")[0] or None, out)
        elif kind in ("array", "map"):
            _definitions(schema.get("items", schema.get("values")), namespace, out)
        elif isinstance(kind, (dict, list)):
            _definitions(kind, namespace, out)
    return out


class _Side:
    def __init__(self, schema: Any) -> None:
        self.named = _definitions(schema)

    def resolve(self, schema: Any, namespace: str | None) -> tuple[Any, str | None]:
        """(the definition, its namespace) of a schema that may be a name or wrap a type."""
        while True:
            if isinstance(schema, str) and schema not in PRIMITIVES:
                schema, namespace = self.named[_full(schema, namespace)]
            elif isinstance(schema, dict) and isinstance(schema.get("type"), (str, list, dict)) \
                    and schema.get("type") not in ("record", "enum", "fixed", "array", "map"):
                schema = schema["type"]  # {"type": "string", "logicalType": ...} and the like
            else:
                return schema, namespace


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    return schema if isinstance(schema, str) else schema["type"]


def incompatibilities(reader: Any, writer: Any) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer``; empty when it can."""
    found: list[str] = []
    _check(_Side(reader), reader, None, _Side(writer), writer, None, "", found, set())
    return found


def _check(rs: _Side, r: Any, rns: str | None, ws: _Side, w: Any, wns: str | None, at: str,
           found: list[str], seen: set) -> None:
    r, rns = rs.resolve(r, rns)
    w, wns = ws.resolve(w, wns)
    rk, wk = _kind(r), _kind(w)
    if wk == "union":
        for branch in w:
            _check(rs, r, rns, ws, branch, wns, at, found, seen)
        return
    if rk == "union":
        for branch in r:
            trial: list[str] = []
            _check(rs, branch, rns, ws, w, wns, at, trial, seen)
            if not trial:
                return
        found.append(f"{at or '/'}: no branch of the reader's union reads the writer's {wk}")
        return
    if rk in PRIMITIVES or wk in PRIMITIVES:
        if rk != wk and (wk, rk) not in PROMOTIONS:
            found.append(f"{at or '/'}: the reader's {rk} cannot read the writer's {wk}")
        return
    if rk != wk:
        found.append(f"{at or '/'}: the reader's {rk} cannot read the writer's {wk}")
        return
    if rk == "array":
        _check(rs, r["items"], rns, ws, w["items"], wns, f"{at}/items", found, seen)
        return
    if rk == "map":
        _check(rs, r["values"], rns, ws, w["values"], wns, f"{at}/values", found, seen)
        return
    rname, wname = _full(r["name"], r.get("namespace", rns)), _full(w["name"], w.get("namespace", wns))
    aliases = {_full(a, rname.rpartition(".")[0] or None) for a in r.get("aliases", [])}
    if rname != wname and wname not in aliases:
        found.append(f"{at or '/'}: the reader's {rname} is not the writer's {wname}")
        return
    if (rname, wname) in seen:  # a recursive type: being checked further up
        return
    seen = seen | {(rname, wname)}
    if rk == "fixed" and r["size"] != w["size"]:
        found.append(f"{at or '/'}: fixed {rname} has size {r['size']}, was {w['size']}")
    elif rk == "enum":
        missing = [s for s in w["symbols"] if s not in r["symbols"]]
        if missing and "default" not in r:
            found.append(f"{at or '/'}: enum {rname} lacks the writer's symbols {missing}")
    elif rk == "record":
        wfields = {f["name"]: f for f in w["fields"]}
        for field in r["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            match = next((wfields[n] for n in names if n in wfields), None)
            if match is None:
                if "default" not in field:
                    found.append(f"{at}/{field['name']}: new field without a default")
                continue
            _check(rs, field["type"], rname.rpartition(".")[0] or None, ws, match["type"],
                   wname.rpartition(".")[0] or None, f"{at}/{field['name']}", found, seen)
