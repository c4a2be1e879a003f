"""Async token bucket per API credential, with two lanes and self-correction on 429.

The rate is declared as data (:class:`RateLimit`) by each connector. A worker owning a
part of a credential's partitions takes ``share`` of its quota. ``async with
bucket.slot(lane):`` wraps every request, from just before its send to the arrival of its
response (or the error, timeout or cancellation that ends it): waiting ``"realtime"``
requests always go before ``"bulk"`` ones, and bulk runs at the full rate whenever no
realtime request waits. ``on_rate_limited(retry_after)`` pauses until the server's
``Retry-After`` (0 means go now), shrinks the rate, which then recovers linearly over
``RateLimit.recovery``.

A server that counts requests in a sliding window (``RateLimit.window``) stamps each one
when its loop gets to it: anywhere between our send and the arrival of its response. Spacing
the SEND times (a bucket, or at most ``n = rate * window`` sends per window plus a guessed
jitter) is overrun whenever that delay varies by more than the guess. So in window mode each
request holds one of ``n`` slots from its send until ``window`` after its completion, and a
send waits for a free slot. Exact, with no guess: a request the server stamps in
``(t - window, t]`` was sent before ``t`` and completed after ``t - window``, so it held a slot
at ``t``, and at most ``n`` slots are ever held. The price is the latency: each slot serves one
request per ``window + latency``. ``jitter`` is only added to the hold as a margin for the
server's clock running faster than ours (ppm) and for the rounding of its stamps; a few ms do.
The one thing the proof cannot bound is a request the client gave up on (timeout) that the
server still handles later; its slot is held for a window after the give-up, as for any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Clock", "Lane", "Limiters", "RateLimit", "Slot", "SystemClock", "TokenBucket"]

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
    jitter: float = 0.005  # seconds a slot is held beyond the window: clock skew margin

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
        self._in_flight = 0  # window mode: slots held by requests sent, not yet completed
        self._completed: deque[float] = deque()  # ... and completion times of the last window

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
        """Requests that could be sent now (the bucket's tokens, or fewer free slots)."""
        now = self._clock.monotonic()
        self._refill(now)
        tokens = self._tokens if now >= self._updated else 0.0
        if self.per_window:
            tokens = min(tokens, float(max(0, self.per_window - self.busy_slots(now))))
        return tokens

    def busy_slots(self, now: float | None = None) -> int:
        """Window mode: requests in flight plus those completed within the last window."""
        self._expire(self._clock.monotonic() if now is None else now)
        return self._in_flight + len(self._completed)

    def waiting(self, lane: Lane) -> int:
        return len(self._queues[lane])

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server said 429: pause until ``retry_after`` (if given) and shrink the rate."""
        now = self._clock.monotonic()
        floor = self.full_rate * self.limit.min_fraction
        before = self.rate(now)  # the rate in force, maybe already shrunk by an earlier 429
        self._floor = max(floor, before * self.limit.shrink)
        if retry_after is None:
            self._tokens, self._updated = 0.0, now
        else:
            # One token is ready the moment the pause ends: Retry-After 0 means retry now.
            self._tokens, self._updated = 1.0, now + max(0.0, retry_after)
        self._recover_from = self._updated
        logger.info(
            "rate limited: pausing %.3fs, rate %.3f/s -> %.3f/s (recovers to %.3f/s)",
            self._updated - now, before, self._floor, self.full_rate,
        )
        self._notify()

    @contextlib.asynccontextmanager
    async def slot(self, lane: Lane = "realtime") -> AsyncIterator[Slot]:
        """Hold a slot around one request: enter before the send, leave on its response.

        Leaving by an exception (an error, a timeout, a cancellation) releases it too."""
        held = await self.acquire(lane)
        try:
            yield held
        finally:
            held.release()

    async def acquire(self, lane: Lane = "realtime") -> Slot:
        """Wait for one token (and, in window mode, a free slot); realtime waiters are always
        served before bulk ones. Call ``release()`` on the result when the response arrives
        (:meth:`slot` does); a slot dropped unreleased is released when it is collected."""
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
                        return self._take_slot()
                    if math.isinf(delay):  # every slot held by a request in flight
                        await self._changed.wait()
                    else:
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
        """How long until a slot is free: 0 without a window, infinite while every slot
        is held by a request in flight (its release notifies the waiters)."""
        n = self.per_window
        if not n or self.busy_slots(now) < n:
            return 0.0
        if not self._completed:
            return math.inf
        # The oldest completion frees first; a release in the meantime cannot free one sooner.
        return max(_EPSILON, self._completed[0] + self._hold - now)

    @property
    def _hold(self) -> float:
        """How long a completed request keeps its slot."""
        return (self.limit.window or 0.0) + self.limit.jitter

    def _expire(self, now: float) -> None:
        hold = self._hold
        while self._completed and self._completed[0] + hold <= now:
            self._completed.popleft()

    def _take_slot(self) -> Slot:
        if not self.per_window:
            return Slot(None)
        self._in_flight += 1
        return Slot(self)

    def _release(self) -> None:
        self._in_flight -= 1
        self._completed.append(self._clock.monotonic())
        self._notify()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            # The rate at the start of the interval: conservative while recovering.
            gained = (now - self._updated) * self.rate(self._updated)
            self._tokens = min(self.burst, self._tokens + gained)
            self._updated = now

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class Slot:
    """One request's place in a window-mode bucket, held until :meth:`release`.

    Without a window it holds nothing and releasing does nothing."""

    __slots__ = ("_bucket",)

    def __init__(self, bucket: TokenBucket | None) -> None:
        self._bucket = bucket

    def release(self) -> None:
        """The response arrived (or the request ended otherwise); idempotent."""
        bucket, self._bucket = self._bucket, None
        if bucket is not None:
            bucket._release()

    def __del__(self) -> None:
        # A caller that lost its slot without releasing it must not shrink the quota forever.
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown, no loop: nothing to free
            pass


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
