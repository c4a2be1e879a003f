"""One asyncio lock per entity key, dropped when nobody holds or waits for it.

Kafka orders one key's records within one topic partition, but a sink reads several topics
(real-time, bulk and retry lanes) and a backfill may run commands side by side: two commands
of one entity could then both search the target, find nothing and both create. Whoever
executes commands takes the key's lock around read-ledger, write and record.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["KeyLocks"]


class KeyLocks:
    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._locks.pop(key, None)

    def __len__(self) -> int:
        """Keys with a holder or a waiter (0 when idle: the map does not grow with keys seen)."""
        return len(self._locks)
