"""The Holded sandbox in a child process, for tests that measure request timing.

A sandbox in the test's own event loop stamps each request when that loop gets to it: while
the test decodes a table it can stamp two requests sent a second apart within the same
second and report a rate limit breach the clients never committed. In its own process the
sandbox's clock is the arrival clock, as Holded's is.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
from typing import Any

__all__ = ["ChildSandbox"]


def _serve(requests: int, per_seconds: float, conn: Any) -> None:
    from connectors.holded.sandbox import RateLimit, start_sandbox

    async def main() -> None:
        server = await start_sandbox(port=0, rate_limit=RateLimit(requests, per_seconds))
        conn.send(server.url)
        loop = asyncio.get_running_loop()
        while (order := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert order == "snapshot", order
            conn.send({
                "requests": [(r.time, r.method, r.path, r.status) for r in server.requests],
                "contacts": [c.get("customId") for c in await server.all("contacts")]})
        await server.stop()
        conn.send("stopped")

    asyncio.run(main())


class ChildSandbox:
    def __init__(self, requests: int, per_seconds: float = 1.0) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(requests, per_seconds, child),
                                        daemon=True)
        self.url = ""

    def start(self, timeout: float = 60.0) -> ChildSandbox:
        self._process.start()
        if not self._conn.poll(timeout):
            self.stop()
            raise RuntimeError(f"the sandbox child did not start within {timeout:.0f}s")
        self.url = self._conn.recv()
        return self

    def snapshot(self, timeout: float = 30.0) -> dict[str, Any]:
        """Every request (time, method, path, status) and every contact's customId so far."""
        self._conn.send("snapshot")
        if not self._conn.poll(timeout):
            raise RuntimeError("the sandbox child did not answer")
        return self._conn.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send("stop")
                if self._conn.poll(10):
                    self._conn.recv()
            except (BrokenPipeError, EOFError, OSError):
                pass
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(10)
