"""SQLite (aiosqlite) store of the PrestaShop sandbox: one JSON body per (resource, id).

Values are kept as PrestaShop outputs them: strings, ``id`` an int, multilang fields as
``[{"id", "value"}]``. ``date_add`` / ``date_upd`` are stamped in the shop's time zone on
every write, to the second, as PrestaShop does. Filtering and sorting happen in Python.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from connectors.prestashop.sandbox_schema import RESOURCES

__all__ = ["SandboxStore"]

Record = dict[str, Any]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    resource TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (resource, id));
"""


class SandboxStore:
    def __init__(self, db: aiosqlite.Connection, tz: ZoneInfo,
                 clock: Callable[[], dt.datetime]) -> None:
        self.db, self.tz, self.clock = db, tz, clock
        # One write at a time, from reading the next id (or the current record) to the
        # commit, as MySQL's AUTO_INCREMENT does: parallel POSTs never draw the same id.
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str = ":memory:", *, timezone: str = "Europe/Madrid",
                   clock: Callable[[], dt.datetime] | None = None) -> SandboxStore:
        db = await aiosqlite.connect(path)
        await db.executescript(_SCHEMA)
        await db.commit()
        return cls(db, ZoneInfo(timezone), clock or (lambda: dt.datetime.now(dt.UTC)))

    async def close(self) -> None:
        await self.db.close()

    def now_text(self) -> str:
        return self.clock().astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    async def all(self, resource: str) -> list[Record]:
        async with self.db.execute("SELECT body FROM records WHERE resource = ? ORDER BY id",
                                   (resource,)) as cursor:
            return [json.loads(row[0]) async for row in cursor]

    async def get(self, resource: str, record_id: int) -> Record | None:
        async with self.db.execute("SELECT body FROM records WHERE resource = ? AND id = ?",
                                   (resource, record_id)) as cursor:
            row = await cursor.fetchone()
        return json.loads(row[0]) if row else None

    async def insert(self, resource: str, values: Record, *, stamp: bool = True) -> Record:
        async with self.lock:
            return await self._insert(resource, values, stamp)

    async def _insert(self, resource: str, values: Record, stamp: bool) -> Record:
        async with self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM records "
                                   "WHERE resource = ?", (resource,)) as cursor:
            (next_id,) = await cursor.fetchone()  # type: ignore[misc]
        fields = RESOURCES[resource]
        record: Record = {name: "" for name in fields}
        record.update({k: v for k, v in values.items() if k in fields})
        record["id"] = int(values.get("id") or next_id)
        if stamp:
            now = self.now_text()
            for name in ("date_add", "date_upd"):
                if name in fields and not values.get(name):
                    record[name] = now
        await self.db.execute("INSERT INTO records (resource, id, body) VALUES (?, ?, ?)",
                              (resource, record["id"], json.dumps(record)))
        await self.db.commit()
        return record

    async def replace(self, resource: str, record_id: int, values: Record) -> Record:
        """PUT semantics: every field replaced (absent ones emptied), ``date_upd`` stamped."""
        async with self.lock:
            return await self._replace(resource, record_id, values)

    async def _replace(self, resource: str, record_id: int, values: Record) -> Record:
        current = await self.get(resource, record_id)
        if current is None:
            raise KeyError(record_id)
        fields = RESOURCES[resource]
        record: Record = {name: "" for name in fields}
        record.update({k: v for k, v in values.items() if k in fields})
        record["id"] = record_id
        if "date_add" in fields:
            record["date_add"] = current.get("date_add", "")
        if "date_upd" in fields:
            record["date_upd"] = self.now_text()
        await self.db.execute("UPDATE records SET body = ? WHERE resource = ? AND id = ?",
                              (json.dumps(record), resource, record_id))
        await self.db.commit()
        return record

    async def patch(self, resource: str, record_id: int, values: Record) -> Record:
        """Change some fields (seeding and tests; PrestaShop's own back office edits)."""
        async with self.lock:
            current = await self.get(resource, record_id)
            if current is None:
                raise KeyError(record_id)
            return await self._replace(resource, record_id, {**current, **values})
