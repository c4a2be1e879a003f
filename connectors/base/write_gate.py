"""A gate a sandbox holds its writes at, so a test can freeze what a sink sends.

Some behaviour only shows when a sink's write lands *after* something else happened (an
edit on the other side, a poll): a conflict between two systems' edits, for one. Closing the
gate holds every write request before it runs (nothing commits, reads still pass); opening
it lets the held writes run in arrival order. A stopping server releases them, so shutdown
never hangs on a held request.
"""

from __future__ import annotations

import asyncio

__all__ = ["WriteGate"]


class WriteGate:
    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.held = 0

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def wait(self, stopping: asyncio.Event) -> None:
        """Return at once while open; otherwise wait for :meth:`open` or ``stopping``."""
        if self._open.is_set():
            return
        self.held += 1
        waits = [asyncio.ensure_future(self._open.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.held -= 1
            for task in waits:
                task.cancel()
