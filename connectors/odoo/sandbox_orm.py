"""The sandbox's ORM: Odoo's generic model methods over one SQLite table (aiosqlite).

``Orm.call(model, method, args, kwargs, user)`` is what ``execute_kw`` and JSON-2 reach:
search / search_read / search_count / read / create / write / unlink / fields_get /
name_search, plus the business methods of :mod:`connectors.odoo.sandbox_accounting`.
Every call runs in its own transaction, so a fault that drops the response after the call
finds the write committed, as in Odoo. Calls are serialized (one SQLite connection is one
transaction, and a call awaits between its reads and writes): concurrent clients never share
a half-done transaction, a failing call rolls back only itself, and ids come from a
per-model sequence that never hands an id out twice, as PostgreSQL's do.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import aiosqlite

from connectors.odoo.sandbox_domain import (
    AccessError, MissingError, OdooError, ServerError, ValidationError, evaluate, normalize_domain,
)
from connectors.odoo.sandbox_models import MODELS, Field, Model

__all__ = ["Orm", "User"]

Rec = dict[str, Any]
READ_ONLY_USERS = frozenset({"reader"})
# Models the API user may not write at all: the sandbox's AccessError example.
PROTECTED = frozenset({"account.account", "account.tax", "res.currency", "res.country",
                       "account.journal"})


class User:
    def __init__(self, uid: int, login: str) -> None:
        self.uid, self.login = uid, login

    @property
    def readonly(self) -> bool:
        return self.login in READ_ONLY_USERS


def now_str(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S.%f")


class Orm:
    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], dt.datetime] | None = None):
        self.db = db
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.methods: dict[tuple[str, str], Callable[..., Any]] = {}
        # One transaction at a time: held for a whole call, from its first read to its commit.
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str = ":memory:") -> Orm:
        db = await aiosqlite.connect(path)
        await db.execute("CREATE TABLE IF NOT EXISTS records (model TEXT, id INTEGER, data TEXT,"
                         " PRIMARY KEY (model, id))")
        await db.execute("CREATE TABLE IF NOT EXISTS sequences (model TEXT PRIMARY KEY,"
                         " last INTEGER)")
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    # ---- storage --------------------------------------------------------------------
    async def rows(self, model: str) -> list[Rec]:
        async with self.db.execute("SELECT data FROM records WHERE model = ? ORDER BY id",
                                   (model,)) as cur:
            return [json.loads(row[0]) async for row in cur]

    async def get(self, model: str, rid: int) -> Rec | None:
        async with self.db.execute("SELECT data FROM records WHERE model = ? AND id = ?",
                                   (model, rid)) as cur:
            row = await cur.fetchone()
        return json.loads(row[0]) if row else None

    async def put(self, model: str, rec: Rec) -> None:
        await self.db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                              (model, rec["id"], json.dumps(rec)))

    async def insert(self, model: str, rec: Rec) -> None:
        """Store a new record; an id already in use is an error, never an overwrite."""
        await self.db.execute("INSERT INTO records VALUES (?, ?, ?)",
                              (model, rec["id"], json.dumps(rec)))

    async def next_id(self, model: str) -> int:
        """The model's next id from its sequence (never reused, not even after an unlink).

        Call it inside the transaction that stores the record (``self.lock`` held)."""
        async with self.db.execute(
                "SELECT MAX(COALESCE((SELECT last FROM sequences WHERE model = ?), 0),"
                " COALESCE((SELECT MAX(id) FROM records WHERE model = ?), 0))",
                (model, model)) as cur:
            row = await cur.fetchone()
        rid = int(row[0]) + 1 if row else 1
        await self.db.execute("INSERT OR REPLACE INTO sequences VALUES (?, ?)", (model, rid))
        return rid

    async def insert_raw(self, model: str, rec: Rec) -> int:
        """Seed/test helper: store a record as is (magic fields filled in)."""
        async with self.lock:
            rec = dict(rec)
            if "id" not in rec:
                rec["id"] = await self.next_id(model)
            stamp = now_str(self.clock())
            rec.setdefault("create_date", stamp)
            rec.setdefault("write_date", stamp)
            await self.put(model, rec)
            await self.db.commit()
            return int(rec["id"])

    # ---- dispatch -------------------------------------------------------------------
    def model(self, name: str) -> Model:
        if not isinstance(name, str) or name not in MODELS:
            raise ServerError(f"Object {name} doesn't exist")
        return MODELS[name]

    async def call(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any],
                   user: User) -> Any:
        self.model(model)
        if method.startswith("_"):
            raise AccessError(f"Private methods (such as '{model}.{method}') cannot be called "
                              "remotely.")
        generic = getattr(self, f"m_{method}", None)
        handler = self.methods.get((model, method))
        if handler is None and generic is None:
            raise ServerError(f"The method '{method}' does not exist on the model '{model}'")
        if method in ("create", "write", "unlink") or handler is not None:
            if user.readonly or (model in PROTECTED and method != "read"):
                raise AccessError(
                    f"You are not allowed to modify '{MODELS[model].description}' ({model}) "
                    "records.\n\nContact your administrator to request access if necessary.")
        async with self.lock:
            try:
                if handler is not None:
                    result = await handler(self, model, args, kwargs, user)
                else:
                    assert generic is not None
                    result = await generic(model, *args, **kwargs)
            except TypeError as exc:
                await self.db.rollback()
                raise ServerError(f"{model}.{method}() {exc}") from exc
            except OdooError:
                await self.db.rollback()
                raise
            except Exception as exc:  # noqa: BLE001 - Odoo answers any exception with a fault
                await self.db.rollback()
                raise ServerError.of(exc, f"{model}.{method}()") from exc
            except BaseException:
                await self.db.rollback()
                raise
            await self.db.commit()
            return result

    # ---- generic methods ------------------------------------------------------------
    async def m_search(self, model: str, domain: Any = None, offset: int = 0,
                       limit: int | None = None, order: str | None = None,
                       context: Any = None) -> list[int]:
        _check_row_count("LIMIT", limit)
        _check_row_count("OFFSET", offset)
        recs = [r for r in await self.rows(model) if await self._match(model, domain, r)]
        if _active_test(self.model(model), domain, context):
            recs = [r for r in recs if r.get("active", True) is not False]
        recs = self._sort(model, recs, order)
        recs = recs[offset or 0:]
        if limit:
            recs = recs[:limit]
        return [r["id"] for r in recs]

    async def m_search_count(self, model: str, domain: Any = None, limit: int | None = None,
                             context: Any = None) -> int:
        return len(await self.m_search(model, domain, limit=limit, context=context))

    async def m_search_read(self, model: str, domain: Any = None, fields: list[str] | None = None,
                            offset: int = 0, limit: int | None = None, order: str | None = None,
                            context: Any = None) -> list[Rec]:
        ids = await self.m_search(model, domain, offset, limit, order, context)
        return await self.m_read(model, ids, fields)

    async def m_read(self, model: str, ids: Any, fields: list[str] | None = None,
                     context: Any = None, load: str = "_classic_read") -> list[Rec]:
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        spec = self.model(model)
        names = list(fields) if fields else [n for n in spec.fields]
        for name in names:
            if name not in spec.fields:
                raise ServerError(f"Invalid field {name!r} on model {model!r}")
        out = []
        for rid in ids:
            rec = await self.get(model, rid)
            if rec is None:
                raise MissingError(f"Record does not exist or has been deleted.\n"
                                   f"(Record: {model}({rid},), User: 2)")
            row: Rec = {"id": rid}
            for name in names:
                row[name] = await self._read_field(spec, rec, name)
            out.append(row)
        return out

    async def m_fields_get(self, model: str, allfields: list[str] | None = None,
                           attributes: list[str] | None = None, context: Any = None) -> Rec:
        spec = self.model(model)
        return {n: {"type": f.kind, "relation": f.relation or False, "required": f.required,
                    "readonly": f.readonly, "string": f.string or n}
                for n, f in spec.fields.items() if not allfields or n in allfields}

    async def m_name_search(self, model: str, name: str = "", args: Any = None,
                            operator: str = "ilike", limit: int = 100,
                            context: Any = None) -> list[list[Any]]:
        spec = self.model(model)
        ids = await self.m_search(model, [*(args or []), (spec.rec_name, operator, name)],
                                  limit=limit)
        return [[i, await self.display_name(model, i)] for i in ids]

    async def m_create(self, model: str, vals_list: Any, context: Any = None) -> Any:
        single = isinstance(vals_list, dict)
        ids = [await self.create_one(model, vals) for vals in ([vals_list] if single else vals_list)]
        return ids[0] if single else ids

    async def m_write(self, model: str, ids: Any, vals: Rec, context: Any = None) -> bool:
        ids = [ids] if isinstance(ids, int) else list(ids)
        for rid in ids:
            await self.write_one(model, rid, vals)
        return True

    async def m_unlink(self, model: str, ids: Any, context: Any = None) -> bool:
        ids = [ids] if isinstance(ids, int) else list(ids)
        for rid in ids:
            rec = await self.get(model, rid)
            if rec is None:
                raise MissingError(f"Record does not exist or has been deleted.\n"
                                   f"(Record: {model}({rid},), User: 2)")
            if model == "account.move" and rec.get("state") == "posted":
                raise ValidationError("You cannot delete an entry which has been posted once.")
            await self.db.execute("DELETE FROM records WHERE model = ? AND id = ?", (model, rid))
        return True

    # ---- record level ---------------------------------------------------------------
    async def create_one(self, model: str, vals: Rec, *, internal: bool = False) -> int:
        spec = self.model(model)
        if not isinstance(vals, dict):
            raise ServerError(f"create() expects a dict of values, got {vals!r}")
        rid = await self.next_id(model)
        stamp = now_str(self.clock())
        rec: Rec = {"id": rid, "create_date": stamp, "write_date": stamp}
        if "active" in spec.fields:
            rec["active"] = True  # Odoo's default
        later: dict[str, Any] = {}
        for name, value in vals.items():
            fld = self._writable(spec, name, internal)
            if fld.kind == "one2many":
                later[name] = value
            else:
                rec[name] = await self._convert(spec, name, fld, value, current=[])
        for name, fld in spec.fields.items():
            if fld.required and rec.get(name) in (None, False, ""):
                raise ValidationError(f"Missing required value for the field '{name}' "
                                      f"({model})" if name != "name" else
                                      f"The operation cannot be completed: missing required "
                                      f"field '{name}' on {spec.description}")
        await self.insert(model, rec)
        for name, commands in later.items():
            await self._o2m(spec.fields[name], rid, commands)
        return rid

    async def write_one(self, model: str, rid: int, vals: Rec, *, internal: bool = False) -> None:
        spec = self.model(model)
        rec = await self.get(model, rid)
        if rec is None:
            raise MissingError(f"Record does not exist or has been deleted.\n"
                               f"(Record: {model}({rid},), User: 2)")
        for name, value in vals.items():
            fld = self._writable(spec, name, internal)
            if fld.kind == "one2many":
                await self._o2m(fld, rid, value)
            else:
                rec[name] = await self._convert(spec, name, fld, value, current=rec.get(name))
            if fld.required and rec.get(name) in (None, False, "") and fld.kind != "one2many":
                raise ValidationError(f"The field '{name}' is required on {spec.description}")
        rec["write_date"] = now_str(self.clock())
        await self.put(model, rec)

    def _writable(self, spec: Model, name: str, internal: bool) -> Field:
        fld = spec.fields.get(name)
        if fld is None:
            raise ServerError(f"Invalid field {name!r} on model {spec.name!r}")
        if fld.readonly and not internal:
            raise ValidationError(f"The field '{name}' of {spec.description} is computed and "
                                  "cannot be written")
        return fld

    async def _convert(self, spec: Model, name: str, fld: Field, value: Any,
                       current: Any) -> Any:
        if value is False and fld.kind not in ("boolean", "many2many"):
            return None
        if fld.kind in ("char", "text"):
            if not isinstance(value, str):
                raise ValidationError(f"Wrong value for {spec.name}.{name}: {value!r}")
            return value
        if fld.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"Wrong value for {spec.name}.{name}: {value!r}")
            return value
        if fld.kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(f"Wrong value for {spec.name}.{name}: {value!r}")
            return float(value)
        if fld.kind == "boolean":
            return bool(value)
        if fld.kind == "selection":
            if value not in fld.selection:
                raise ValidationError(f"Wrong value for {spec.name}.{name}: {value!r}")
            return value
        if fld.kind == "date":
            return _to_date(value)
        if fld.kind == "datetime":
            return str(value)
        if fld.kind == "many2one":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"Wrong value for {spec.name}.{name}: {value!r}")
            await self._exists(fld.relation or "", value)
            return value
        if fld.kind == "many2many":
            return await self._m2m(fld, list(current or []), value)
        raise ServerError(f"field {name} of kind {fld.kind} cannot be set")

    async def _exists(self, model: str, rid: int) -> None:
        if await self.get(model, rid) is None:
            raise MissingError(f"Record does not exist or has been deleted.\n"
                               f"(Record: {model}({rid},), User: 2)")

    async def _m2m(self, fld: Field, ids: list[int], commands: Any) -> list[int]:
        if not isinstance(commands, list):
            raise ValidationError(f"x2many commands must be a list, got {commands!r}")
        for cmd in commands:
            if isinstance(cmd, int):  # a bare id list is accepted as a replacement
                cmd = [4, cmd]
            op = cmd[0]
            if op == 6:
                ids = list(cmd[2])
            elif op == 4:
                ids = ids if cmd[1] in ids else [*ids, cmd[1]]
            elif op == 3:
                ids = [i for i in ids if i != cmd[1]]
            elif op == 5:
                ids = []
            else:
                raise ValidationError(f"Unsupported many2many command {cmd!r}")
        for rid in ids:
            await self._exists(fld.relation or "", rid)
        return ids

    async def _o2m(self, fld: Field, parent: int, commands: Any) -> None:
        assert fld.relation and fld.inverse
        if not isinstance(commands, list):
            raise ValidationError(f"x2many commands must be a list, got {commands!r}")
        for cmd in commands:
            op = cmd[0]
            if op == 0:
                await self.create_one(fld.relation, {**cmd[2], fld.inverse: parent})
            elif op == 1:
                await self.write_one(fld.relation, cmd[1], cmd[2])
            elif op in (2, 3):
                await self.m_unlink(fld.relation, [cmd[1]])
            elif op == 5:
                for child in await self.children(fld, parent):
                    await self.m_unlink(fld.relation, [child])
            else:
                raise ValidationError(f"Unsupported one2many command {cmd!r}")

    async def children(self, fld: Field, parent: int) -> list[int]:
        return [r["id"] for r in await self.rows(fld.relation or "")
                if r.get(fld.inverse or "") == parent]

    # ---- reading --------------------------------------------------------------------
    async def display_name(self, model: str, rid: int) -> str:
        rec = await self.get(model, rid) or {}
        spec = MODELS[model]
        if model == "product.product":  # "[code] Template (Value, Value)"
            tmpl = await self.get("product.template", rec.get("product_tmpl_id") or 0) or {}
            values = [str((await self.get("product.template.attribute.value", v) or {}).get("name"))
                      for v in rec.get("product_template_attribute_value_ids") or []]
            name = str(tmpl.get("name")) + (f" ({', '.join(values)})" if values else "")
            code = rec.get("default_code")
            return f"[{code}] {name}" if code else name
        if model == "account.account":
            return f"{rec.get('code')} {rec.get('name')}"
        value = rec.get(spec.rec_name)
        return str(value) if value not in (None, False) else f"{model},{rid}"

    async def raw_value(self, spec: Model, rec: Rec, name: str) -> Any:
        """A field's value in stored form (m2o id, x2many ids), computed fields included."""
        fld = spec.fields[name]
        compute = self.methods.get((spec.name, f"compute:{name}"))
        if compute is not None:
            return await compute(self, rec)
        if fld.kind == "one2many":
            # Odoo reads an x2many with a search on the comodel: archived records are left
            # out (active_test), e.g. an archived bank account is not in ``bank_ids``.
            ids = await self.children(fld, rec["id"])
            if "active" not in MODELS[fld.relation or ""].fields:
                return ids
            return [i for i in ids
                    if (await self.get(fld.relation or "", i) or {}).get("active", True) is not False]
        if name == "display_name":
            return await self.display_name(spec.name, rec["id"])
        return rec.get(name)

    async def _read_field(self, spec: Model, rec: Rec, name: str) -> Any:
        fld = spec.fields[name]
        value = await self.raw_value(spec, rec, name)
        if fld.kind == "many2one":
            if not value:
                return False
            return [value, await self.display_name(fld.relation or "", value)]
        if fld.kind in ("one2many", "many2many"):
            return list(value or [])
        if fld.kind == "datetime":
            return str(value)[:19] if value else False
        if fld.kind == "boolean":
            return bool(value)
        if value is None:
            return False if fld.kind not in ("integer", "float") else 0
        return value

    async def _match(self, model: str, domain: Any, rec: Rec) -> bool:
        spec = MODELS[model]
        normalized = normalize_domain(domain)
        values: dict[str, Any] = {}
        for leaf in normalized:
            if isinstance(leaf, tuple):
                values[leaf[0]] = await self._path(spec, rec, leaf[0])
        return evaluate(normalized, rec, lambda _r, path: values[path])

    async def _path(self, spec: Model, rec: Rec, path: str) -> Any:
        head, _, rest = path.partition(".")
        if head not in spec.fields:
            raise ServerError(f"Invalid field {spec.name}.{head} in leaf {path!r}")
        value = await self.raw_value(spec, rec, head)
        if not rest:
            return value
        fld = spec.fields[head]
        if fld.kind != "many2one" or not value:
            return None
        target = await self.get(fld.relation or "", value)
        return await self._path(MODELS[fld.relation or ""], target, rest) if target else None

    def _sort(self, model: str, recs: list[Rec], order: str | None) -> list[Rec]:
        """Sorted as ``order`` says, checked as Odoo's BaseModel._check_qorder checks it
        (regex_order): comma-separated terms, none empty, each a field, then ``asc`` /
        ``desc``, then ``nulls first`` / ``nulls last``. Without a nulls clause NULLs go first
        ascending and last descending (the sandbox's choice; PostgreSQL's default is the
        opposite, UNVERIFIED whether Odoo 17 adds a clause of its own)."""
        spec = MODELS[model]
        keys = []
        for part in (order or "id").split(","):
            match = _ORDER_TERM.fullmatch(part)
            field = match["field"].strip('"') if match else None
            if field not in spec.fields:
                raise ServerError(f"Invalid \"order\" specified ({order}).")
            desc = (match["direction"] or "asc").lower() == "desc"
            nulls = match["nulls"].lower() == "first" if match["nulls"] else not desc
            keys.append((field, desc, nulls))
        for name, desc, nulls_first in reversed(keys):  # stable sorts, last key first
            absent = [r for r in recs if r.get(name) is None]
            present = sorted((r for r in recs if r.get(name) is not None), reverse=desc,
                             key=lambda r, n=name: r[n][0] if isinstance(r[n], list) and r[n]
                             else r[n])
            recs = absent + present if nulls_first else present + absent
        return recs


# One term of an order: a field, bare or in double quotes (Odoo 17's odoo/models.py
# regex_order, less the ``.property`` and ``:func`` forms the sandbox does not serve).
_ORDER_TERM = re.compile(r'\s*(?P<field>[a-z0-9_]+|"[a-z0-9_]+")(\s+(?P<direction>desc|asc))?'
                         r"(\s+nulls\ (?P<nulls>first|last))?\s*", re.IGNORECASE)


def _to_date(value: Any) -> str | None:
    """A date as Odoo 17 reads one (fields.Date.to_date): falsy is no date; text is cut to 10
    characters and read with strptime('%Y-%m-%d'), so '2026-1-2' and a datetime's text pass
    and '20261102' or an ISO week do not (ValueError); a number or list is a TypeError."""
    if not value:
        return None
    if not isinstance(value, str):
        raise TypeError(f"'{type(value).__name__}' object is not subscriptable")
    return dt.datetime.strptime(value[:10], "%Y-%m-%d").date().isoformat()


def _check_row_count(clause: str, value: Any) -> None:
    """Odoo 17 hands ``limit`` / ``offset`` to PostgreSQL as LIMIT / OFFSET parameters
    (odoo/tools/query.py) when they are truthy: PostgreSQL refuses a negative count and
    ``true`` (no cast to bigint); False, 0 and None mean no clause."""
    if value is True:
        raise ServerError(f"argument of {clause} must be type bigint, not type boolean")
    if isinstance(value, int) and value < 0:
        raise ServerError(f"{clause} must not be negative")


def _active_test(spec: Model, domain: Any, context: Any) -> bool:
    """Odoo hides archived records from a search on a model with ``active``, unless the
    domain names ``active`` or the context says ``active_test: False``."""
    if "active" not in spec.fields:
        return False
    if isinstance(context, dict) and context.get("active_test") is False:
        return False
    return not any(isinstance(leaf, list | tuple) and len(leaf) == 3 and leaf[0] == "active"
                   for leaf in domain or [])
