"""The Shopify sandbox's records in SQLite (aiosqlite): one table, JSON bodies, GIDs as keys.

Ids come from one shop-wide counter, as Shopify's ids are unique across resources in
practice. Every write stamps ``updatedAt`` from the injected clock (millisecond ISO, ``Z``).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Callable
from typing import Any

import aiosqlite

__all__ = ["SandboxStore", "iso", "utcnow"]

FIRST_ID = 8_100_000_000_001


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SandboxStore:
    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], dt.datetime]) -> None:
        self._db, self._clock = db, clock
        # Held by every read-modify-write (id counter, mutations), from read to commit.
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | os.PathLike[str] = ":memory:",
                   clock: Callable[[], dt.datetime] = utcnow) -> SandboxStore:
        db = await aiosqlite.connect(str(path))
        await db.execute("CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id INTEGER "
                         "NOT NULL, updated_at TEXT NOT NULL, body TEXT NOT NULL, "
                         "PRIMARY KEY (kind, id))")
        await db.execute("CREATE TABLE IF NOT EXISTS ids (next INTEGER NOT NULL)")
        async with db.execute("SELECT next FROM ids") as cursor:
            if await cursor.fetchone() is None:
                await db.execute("INSERT INTO ids VALUES (?)", (FIRST_ID,))
        await db.commit()
        return cls(db, clock)

    def now(self) -> str:
        return iso(self._clock())

    async def new_id(self) -> int:
        """The next shop-wide id; call it with ``lock`` held."""
        async with self._db.execute("SELECT next FROM ids") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await self._db.execute("UPDATE ids SET next = next + 1")
        return int(row[0])

    async def insert(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store a new record of ``kind`` (Customer, Order, Product); assigns ``id``."""
        async with self.lock:
            record = dict(body)
            if "id" not in record:
                record["id"] = f"gid://shopify/{kind}/{await self.new_id()}"
            stamp = self.now()
            record.setdefault("createdAt", stamp)
            record.setdefault("updatedAt", stamp)
            await self._db.execute("INSERT INTO records VALUES (?, ?, ?, ?)",
                                   (kind, _num(record["id"]), record["updatedAt"],
                                    json.dumps(record)))
            await self._db.commit()
            return record

    async def put(self, kind: str, record: dict[str, Any], *, touch: bool = True
                  ) -> dict[str, Any]:
        record = dict(record)
        if touch:
            record["updatedAt"] = self.now()
        await self._db.execute("UPDATE records SET updated_at = ?, body = ? WHERE kind = ? AND "
                               "id = ?", (record["updatedAt"], json.dumps(record), kind,
                                          _num(record["id"])))
        await self._db.commit()
        return record

    async def get(self, kind: str, record_id: int | str) -> dict[str, Any] | None:
        async with self._db.execute("SELECT body FROM records WHERE kind = ? AND id = ?",
                                    (kind, _num(record_id))) as cursor:
            row = await cursor.fetchone()
        return json.loads(row[0]) if row else None

    async def find(self, record_id: int | str) -> tuple[str, dict[str, Any]] | None:
        async with self._db.execute("SELECT kind, body FROM records WHERE id = ?",
                                    (_num(record_id),)) as cursor:
            row = await cursor.fetchone()
        return (str(row[0]), json.loads(row[1])) if row else None

    async def list(self, kind: str) -> list[dict[str, Any]]:
        """Every record of ``kind`` in (updatedAt, id) order."""
        async with self._db.execute("SELECT body FROM records WHERE kind = ? ORDER BY "
                                    "updated_at, id", (kind,)) as cursor:
            return [json.loads(row[0]) async for row in cursor]

    async def close(self) -> None:
        await self._db.close()


def _num(record_id: int | str) -> int:
    return int(str(record_id).rsplit("/", 1)[-1].split("?")[0])
