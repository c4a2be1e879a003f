"""Async token bucket per API credential, with two lanes and self-correction on 429.

The rate is declared as data (:class:`RateLimit`) by each connector. A worker owning a
part of a credential's partitions takes ``share`` of its quota. ``acquire(lane)`` is
awaited before every request: waiting ``"realtime"`` requests always go before
``"bulk"`` ones, and bulk runs at the full rate whenever no realtime request waits.
``on_rate_limited(retry_after)`` pauses until the server's ``Retry-After`` (0 means
go now), shrinks the rate, which then recovers linearly over ``RateLimit.recovery``.

A server that counts requests in a sliding window (``RateLimit.window``) is overrun by a
bucket at its full rate: a burst plus the refill of one window, or the arrival jitter of
two requests a window apart, puts one request too many in some window, and the 429 costs a
shrink and a minute of recovery. So with ``window`` set the bucket also keeps the send times
of the last window's worth of requests and never sends more than ``rate * window`` within
``window + jitter``: the full quota less ``jitter / window``, never over it, and a stall
(a slow search, a dependency wait) can be caught up by a burst that still fits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Clock", "Lane", "Limiters", "RateLimit", "SystemClock", "TokenBucket"]

logger = logging.getLogger(__name__)

Lane = Literal["realtime", "bulk"]
LANES: tuple[Lane, ...] = ("realtime", "bulk")
_EPSILON = 1e-9


class Clock(Protocol):
    """Time source, injected so tests control it."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A credential's quota: ``rate`` requests per second, ``burst`` at once."""

    rate: float
    burst: float = 1.0
    shrink: float = 0.5  # multiply the current rate by this on each 429
    min_fraction: float = 0.05  # never shrink below this fraction of the full rate
    recovery: float = 60.0  # seconds to climb back from the shrunk rate to the full one
    window: float | None = None  # the server's sliding window in seconds, when it has one
    jitter: float = 0.02  # seconds added to the window: arrival jitter must not overrun it

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("RateLimit needs rate > 0 and burst >= 1")
        if self.window is not None and (self.window <= 0 or self.jitter < 0):
            raise ValueError("RateLimit needs window > 0 and jitter >= 0")
        if not 0 < self.shrink <= 1 or not 0 < self.min_fraction <= 1:
            raise ValueError("shrink and min_fraction must be in (0, 1]")


class TokenBucket:
    """One credential's bucket (or this worker's ``share`` of it)."""

    def __init__(self, limit: RateLimit, clock: Clock | None = None, share: float = 1.0):
        self.limit = limit
        self._clock = clock or SystemClock()
        self._share = _check_share(share)
        self._tokens = self.burst
        self._updated = self._clock.monotonic()  # tokens are valid as of this instant
        self._floor: float | None = None  # rate right after the last 429
        self._recover_from = 0.0
        self._queues: dict[Lane, deque[object]] = {lane: deque() for lane in LANES}
        self._changed = asyncio.Event()
        self._sent: deque[float] = deque()  # send times of the last window (window mode)

    @property
    def share(self) -> float:
        return self._share

    def set_share(self, share: float) -> None:
        """Change this worker's share, e.g. after a partition rebalance."""
        self._share = _check_share(share)
        self._tokens = min(self._tokens, self.burst)

    @property
    def burst(self) -> float:
        return max(1.0, self.limit.burst * self._share)

    @property
    def full_rate(self) -> float:
        return self.limit.rate * self._share

    @property
    def per_window(self) -> int:
        """Requests allowed in one window (window mode); at least one."""
        if self.limit.window is None:
            return 0
        return max(1, int(self.limit.rate * self._share * self.limit.window + _EPSILON))

    def rate(self, now: float | None = None) -> float:
        """The rate in force at ``now``: full, or shrunk and recovering."""
        now = self._clock.monotonic() if now is None else now
        if self._floor is None:
            return self.full_rate
        progress = (now - self._recover_from) / self.limit.recovery
        if progress >= 1:
            self._floor = None
            return self.full_rate
        return self._floor + (self.full_rate - self._floor) * max(0.0, progress)

    def tokens(self) -> float:
        now = self._clock.monotonic()
        self._refill(now)
        return self._tokens if now >= self._updated else 0.0

    def waiting(self, lane: Lane) -> int:
        return len(self._queues[lane])

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server said 429: pause until ``retry_after`` (if given) and shrink the rate."""
        now = self._clock.monotonic()
        floor = self.full_rate * self.limit.min_fraction
        self._floor = max(floor, self.rate(now) * self.limit.shrink)
        if retry_after is None:
            self._tokens, self._updated = 0.0, now
        else:
            # One token is ready the moment the pause ends: Retry-After 0 means retry now.
            self._tokens, self._updated = 1.0, now + max(0.0, retry_after)
        self._recover_from = self._updated
        logger.info(
            "rate limited: pausing %.3fs, rate %.3f/s -> %.3f/s",
            self._updated - now, self.full_rate, self._floor,
        )
        self._notify()

    async def acquire(self, lane: Lane = "realtime") -> None:
        """Wait for one token; realtime waiters are always served before bulk ones."""
        if lane not in self._queues:
            raise ValueError(f"unknown lane {lane!r}")
        ticket = object()
        self._queues[lane].append(ticket)
        try:
            while True:
                if self._is_next(lane, ticket):
                    delay = self._delay(self._clock.monotonic())
                    if delay <= 0:
                        self._tokens -= 1
                        self._record_send()
                        return
                    await self._clock.sleep(delay)
                else:
                    await self._changed.wait()
        finally:
            self._queues[lane].remove(ticket)
            self._notify()

    def _is_next(self, lane: Lane, ticket: object) -> bool:
        if lane == "bulk" and self._queues["realtime"]:
            return False
        return self._queues[lane][0] is ticket

    def _delay(self, now: float) -> float:
        if now < self._updated:  # paused by Retry-After
            return self._updated - now
        window = self._window_delay(now)
        self._refill(now)
        if self._tokens >= 1 - _EPSILON:
            return window
        return max(window, (1 - self._tokens) / self.rate(now))

    def _window_delay(self, now: float) -> float:
        """How long until one more send fits in every window (0 without a window)."""
        n = self.per_window
        if not n or len(self._sent) < n:
            return 0.0
        assert self.limit.window is not None
        return max(0.0, self._sent[-n] + self.limit.window + self.limit.jitter - now)

    def _record_send(self) -> None:
        n = self.per_window
        if n:
            self._sent.append(self._clock.monotonic())
            while len(self._sent) > n:
                self._sent.popleft()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            # The rate at the start of the interval: conservative while recovering.
            gained = (now - self._updated) * self.rate(self._updated)
            self._tokens = min(self.burst, self._tokens + gained)
            self._updated = now

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class Limiters:
    """One bucket per credential in this process, shared by every client using it.

    ``credential_id`` names a credential (tenant + key name), never the secret itself.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._buckets: dict[str, TokenBucket] = {}

    def for_credential(self, credential_id: str, limit: RateLimit, share: float = 1.0) -> TokenBucket:
        bucket = self._buckets.get(credential_id)
        if bucket is None:
            bucket = self._buckets[credential_id] = TokenBucket(limit, self._clock, share)
        return bucket


def _check_share(share: float) -> float:
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    return float(share)
