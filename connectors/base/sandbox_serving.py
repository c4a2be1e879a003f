"""How every sandbox binds and runs: one place for the loopback address, the bind, the
run-until-signal loop of ``holded-sync sandbox <name>``, a held request's wait and the lost
response of a committed write, so the six sandboxes cannot drift apart on them (a sandbox
bound to another interface, one that leaves its store open on Ctrl-C, or a held request that
blocks its shutdown)."""
from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

HOST = "127.0.0.1"  # sandboxes are for this machine only
logger = logging.getLogger(__name__)


@dataclass
class RunningSandbox:
    """A sandbox serving on HOST. ``state`` is the one its handlers share (its ``faults``,
    ``requests`` log and ``store`` are live: tests flip fault switches between requests)."""

    url: str
    port: int
    state: Any
    _runner: web.AppRunner

    @property
    def faults(self) -> Any:
        return self.state.faults

    @property
    def requests(self) -> list[Any]:
        return self.state.requests

    @property
    def store(self) -> Any:
        return self.state.store

    async def stop(self) -> None:
        """Stop serving and close the store (idempotent)."""
        if self.state.stopping.is_set():
            return
        self.state.stopping.set()
        await self._runner.cleanup()
        await self.state.store.close()
        logger.info("%s on port %d stopped", type(self).__name__, self.port)


async def hold(stopping: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds`` (a slow or held request), but wake up when the sandbox stops, so a
    held request never blocks its shutdown."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass


class Dropped(Exception):
    """Raised by a handler whose write committed: the client must never hear of it."""


def drop_connection(request: web.Request) -> None:
    """Close a committed write's connection without an answer: the lost response."""
    if request.transport is not None:
        request.transport.abort()


def proxy_fault(faults: Any, record: Any, page: str) -> web.Response | None:
    """The answer of a proxy in front of the server, before the request reaches it (nothing
    runs): a 429 with ``Retry-After`` while ``faults.throttle_next`` lasts, else the
    ``error_status`` page ``page`` while ``faults.error_next`` does; None otherwise."""
    if faults.take("throttle_next"):
        record.status = 429
        return web.Response(status=429, text="Too Many Requests",
                            headers={"Retry-After": str(faults.retry_after)})
    if faults.take("error_next"):
        record.status = faults.error_status
        return web.Response(status=faults.error_status, content_type="text/html", text=page)
    return None


async def listen(app: web.Application, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on HOST:``port`` (0 = a free port); returns the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    return runner, int(runner.addresses[0][1])


async def run_until_signal(banner: str, stop: Callable[[], Awaitable[object]], *,
                           every: float | None = None,
                           tick: Callable[[], Awaitable[object]] | None = None) -> None:
    """Print ``banner``, then wait for SIGINT/SIGTERM, calling ``tick`` every ``every`` seconds
    (webhook deliveries), and ``stop`` the sandbox in any case."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    # The handlers first: a Ctrl-C right after the banner must stop it cleanly too.
    print(f"{banner}\n  it runs until Ctrl-C (or SIGTERM)", flush=True)
    try:
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), timeout=every if tick else None)
            except TimeoutError:
                await tick()
    finally:
        await stop()
