"""SQLite (aiosqlite) document store of the Holded sandbox: one JSON body per record.

Records live in one table keyed by (collection, id); ``seq`` keeps creation order,
which v1 lists and v2 cursors both rely on. Filtering is done in Python by the
routes: the sandbox holds thousands of records, not millions.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable
from typing import Any

import aiosqlite

__all__ = ["SandboxStore", "is_object_id", "camel"]

logger = logging.getLogger(__name__)

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (collection, id)
);
CREATE INDEX IF NOT EXISTS records_by_collection ON records (collection, seq);
"""


def is_object_id(value: str) -> bool:
    return bool(_OBJECT_ID.match(value))


def camel(name: str) -> str:
    """``doc_type`` -> ``docType`` (test helpers take Python-style filter names)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class SandboxStore:
    """Async CRUD over JSON records. ``lock`` serialises read-modify-write handlers."""

    def __init__(self, db: aiosqlite.Connection, rng: random.Random) -> None:
        self._db = db
        self._rng = rng
        self._counter = rng.randrange(1 << 24)
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, db_path: str | os.PathLike[str] = ":memory:", seed: int = 0) -> SandboxStore:
        db = await aiosqlite.connect(str(db_path))
        await db.executescript(_SCHEMA)
        await db.commit()
        return cls(db, random.Random(seed))

    async def close(self) -> None:
        await self._db.close()

    def new_id(self) -> str:
        """A Mongo-style ObjectId: 4-byte time, 5 random bytes (seeded), 3-byte counter."""
        self._counter = (self._counter + 1) % (1 << 24)
        return f"{int(time.time()):08x}{self._rng.randrange(1 << 40):010x}{self._counter:06x}"

    async def insert(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        body.setdefault("id", self.new_id())
        await self._db.execute(
            "INSERT INTO records (collection, id, body) VALUES (?, ?, ?)",
            (collection, body["id"], json.dumps(body)),
        )
        await self._db.commit()
        return body

    async def insert_many(self, collection: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for body in bodies:
            body = dict(body)
            body.setdefault("id", self.new_id())
            out.append(body)
        await self._db.executemany(
            "INSERT INTO records (collection, id, body) VALUES (?, ?, ?)",
            [(collection, b["id"], json.dumps(b)) for b in out],
        )
        await self._db.commit()
        return out

    async def get(self, collection: str, record_id: str) -> dict[str, Any] | None:
        async with self._db.execute(
            "SELECT body FROM records WHERE collection = ? AND id = ?", (collection, record_id)
        ) as cursor:
            row = await cursor.fetchone()
        return json.loads(row[0]) if row else None

    async def put(self, collection: str, body: dict[str, Any]) -> None:
        """Replace an existing record (its ``seq`` and so its list position are kept)."""
        await self._db.execute(
            "UPDATE records SET body = ? WHERE collection = ? AND id = ?",
            (json.dumps(body), collection, body["id"]),
        )
        await self._db.commit()

    async def delete(self, collection: str, record_id: str) -> bool:
        cursor = await self._db.execute(
            "DELETE FROM records WHERE collection = ? AND id = ?", (collection, record_id)
        )
        await self._db.commit()
        return cursor.rowcount > 0

    async def list(
        self, collection: str, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        return [body for _, body in await self.list_with_seq(collection, where)]

    async def list_with_seq(
        self,
        collection: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        after_seq: int = 0,
    ) -> list[tuple[int, dict[str, Any]]]:
        async with self._db.execute(
            "SELECT seq, body FROM records WHERE collection = ? AND seq > ? ORDER BY seq",
            (collection, after_seq),
        ) as cursor:
            rows = await cursor.fetchall()
        out = [(seq, json.loads(body)) for seq, body in rows]
        return [(seq, body) for seq, body in out if where is None or where(body)]

    async def is_empty(self) -> bool:
        async with self._db.execute("SELECT 1 FROM records LIMIT 1") as cursor:
            return await cursor.fetchone() is None

    async def find(self, collection: str, **fields: Any) -> list[dict[str, Any]]:
        """Records whose fields equal ``fields`` (names may be snake_case: doc_type)."""
        wanted = {camel(k): v for k, v in fields.items()}
        return await self.list(collection, lambda b: all(b.get(k) == v for k, v in wanted.items()))
