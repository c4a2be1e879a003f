"""Hand-written fakes shared by connector tests (no MagicMock)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx


async def settle(rounds: int = 50) -> None:
    """Let every runnable task run until all of them are blocked again."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """A manual clock. ``sleep`` blocks until ``advance`` passes its deadline.

    With ``autojump=True`` a sleep returns at once after moving time forward, which suits
    single-task code such as the retrier.
    """

    def __init__(self, start: float = 1000.0, autojump: bool = False) -> None:
        self.now = start
        self.autojump = autojump
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.autojump or seconds <= 0:
            self.now += max(0.0, seconds)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own deadline, in order."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self.now = target
        await settle()


class SequenceRandom:
    """Returns the given values in turn (then repeats the last)."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls = 0

    def __call__(self) -> float:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return value


@dataclass
class Route:
    method: str
    path: str
    respond: Callable[[httpx.Request], httpx.Response]
    calls: int = 0


@dataclass
class FakeApi:
    """A scripted HTTP server for ``httpx.MockTransport``.

    Routes are (method, path) -> handler; ``script`` queues one-shot responses in front
    of a route. Unmatched requests fail the test loudly. ``requests`` records them all.
    """

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    scripts: dict[tuple[str, str], list[Callable[[httpx.Request], httpx.Response]]] = field(
        default_factory=dict
    )
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str,
           respond: Callable[[httpx.Request], httpx.Response] | httpx.Response) -> Route:
        handler = respond if callable(respond) else (lambda _r, _resp=respond: _resp)
        route = self.routes[(method, path)] = Route(method, path, handler)
        return route

    def script(self, method: str, path: str,
               *responses: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        queue = self.scripts.setdefault((method, path), [])
        for response in responses:
            queue.append(response if callable(response) else (lambda _r, _resp=response: _resp))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if self.scripts.get(key):
            return self.scripts[key].pop(0)(request)
        route = self.routes.get(key)
        if route is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        route.calls += 1
        return route.respond(request)

    def client(self, base_url: str = "https://api.example.test") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), base_url=base_url)

    def sent_json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def json_response(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> httpx.Response:
    return httpx.Response(status, json=body, headers=list(headers))


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler
