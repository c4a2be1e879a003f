"""SQLite (aiosqlite) store of the Business Central sandbox: one JSON body per record.

Records live in one table keyed by (collection, id) with a ``seq`` for creation order.
Amounts are kept as exact decimals (JSON numbers read back as ``Decimal``). Each record
carries a private ``_version`` (the etag source) and ``_company``; keys starting with ``_``
never leave the sandbox. Filtering happens in Python: thousands of records, not millions.
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import random
import uuid
from collections.abc import Callable
from typing import Any

import aiosqlite

from connectors.base.jsonio import dumps_json, loads_json

__all__ = ["SandboxStore", "etag", "public", "utcnow"]

Record = dict[str, Any]
Clock = Callable[[], dt.datetime]

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


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def stamp(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def etag(record: Record) -> str:
    """A weak etag in BC's style: changes whenever the record's version does."""
    token = base64.b64encode(f"'{record.get('_version', 1)};{record['id']};'".encode()).decode()
    return f'W/"{token}"'


def public(record: Record) -> Record:
    """The record as the API shows it: ``@odata.etag`` first, private keys dropped."""
    return {"@odata.etag": etag(record),
            **{k: v for k, v in record.items() if not k.startswith("_")}}


class SandboxStore:
    """Async CRUD over JSON records; ``lock`` serialises read-modify-write handlers."""

    def __init__(self, db: aiosqlite.Connection, rng: random.Random, clock: Clock) -> None:
        self._db, self._rng, self.clock = db, rng, clock
        self.lock = asyncio.Lock()
        self._last = dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    @classmethod
    async def open(cls, path: str | os.PathLike[str] = ":memory:", *, seed: int = 0,
                   clock: Clock = utcnow) -> SandboxStore:
        db = await aiosqlite.connect(str(path))
        await db.executescript(_SCHEMA)
        await db.commit()
        return cls(db, random.Random(seed), clock)

    async def close(self) -> None:
        await self._db.close()

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now(self) -> dt.datetime:
        """The sandbox clock, truncated to BC's millisecond precision, never going back."""
        moment = self.clock()
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        self._last = max(self._last, moment)
        return self._last

    async def insert(self, collection: str, body: Record, *, touch: bool = True) -> Record:
        body = dict(body)
        body.setdefault("id", self.new_id())
        body["_version"] = 1
        if touch:
            body["lastModifiedDateTime"] = stamp(self.now())
        await self._db.execute("INSERT INTO records (collection, id, body) VALUES (?, ?, ?)",
                               (collection, body["id"], dumps_json(body)))
        await self._db.commit()
        return body

    async def put(self, collection: str, body: Record, *, touch: bool = True) -> Record:
        """Replace a record, bumping its version (and so its etag) and modified time."""
        body = dict(body)
        body["_version"] = int(body.get("_version", 1)) + 1
        if touch:
            body["lastModifiedDateTime"] = stamp(self.now())
        await self._db.execute("UPDATE records SET body = ? WHERE collection = ? AND id = ?",
                               (dumps_json(body), collection, body["id"]))
        await self._db.commit()
        return body

    async def get(self, collection: str, record_id: str) -> Record | None:
        async with self._db.execute("SELECT body FROM records WHERE collection = ? AND id = ?",
                                    (collection, record_id.lower())) as cursor:
            row = await cursor.fetchone()
        return loads_json(row[0]) if row else None

    async def delete(self, collection: str, record_id: str) -> bool:
        cursor = await self._db.execute("DELETE FROM records WHERE collection = ? AND id = ?",
                                        (collection, record_id))
        await self._db.commit()
        return cursor.rowcount > 0

    async def list(self, collection: str, **equals: Any) -> list[Record]:
        async with self._db.execute(
                "SELECT body FROM records WHERE collection = ? ORDER BY seq",
                (collection,)) as cursor:
            rows = await cursor.fetchall()
        records = [loads_json(row[0]) for row in rows]
        return [r for r in records if all(r.get(k) == v for k, v in equals.items())]
