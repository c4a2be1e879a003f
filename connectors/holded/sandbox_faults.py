"""Fault switches, rate limiting and request recording of the Holded sandbox.

Everything here is plain data plus a seeded RNG, so a test can set a switch on
``server.faults`` between two requests and get the same outcome on every run.
"""
from __future__ import annotations

import logging
import math
import random
from collections import deque
from dataclasses import dataclass, field

from connectors.base.write_gate import WriteGate

__all__ = ["Faults", "RateLimit", "RateLimitDecision", "RequestRecord", "SlidingWindowLimiter"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` accepted requests per key in any ``per_seconds`` window."""

    requests: int = 100
    per_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError("RateLimit needs requests >= 1 and per_seconds > 0")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"N/S"`` (N requests per S seconds), e.g. ``"10/1"``."""
        count, _, seconds = text.partition("/")
        return cls(requests=int(count), per_seconds=float(seconds or 1))


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds, rounded down: 0 means "the window frees within a second"


class SlidingWindowLimiter:
    """A sliding-window log per key: only accepted requests occupy the window."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str, now: float) -> RateLimitDecision:
        hits = self._hits.setdefault(key, deque())
        window_start = now - self.limit.per_seconds
        while hits and hits[0] <= window_start:
            hits.popleft()
        if len(hits) < self.limit.requests:
            hits.append(now)
            return RateLimitDecision(True, self.limit.requests, self.limit.requests - len(hits), 0)
        frees_in = hits[0] + self.limit.per_seconds - now
        return RateLimitDecision(False, self.limit.requests, 0, max(0, math.floor(frees_in)))


@dataclass
class Faults:
    """Mutable fault switches; a test flips them on ``server.faults`` at run time.

    ``*_next`` counters are consumed one per affected request; ``*_rate`` values are
    probabilities drawn from a RNG seeded with ``seed`` (drawn only when the rate is
    non-zero, so switching one fault on does not shift the others' sequence).
    """

    latency_ms: int = 0
    error_rate: float = 0.0          # probability of a 5xx before the handler runs (no commit)
    error_next: int = 0
    error_status: int = 503
    timeout_rate: float = 0.0        # probability of holding the request for timeout_seconds
    timeout_next: int = 0
    timeout_seconds: float = 30.0
    timeout_commits: bool = False    # True: the write commits before the hold; False: 504, no commit
    lose_rate: float = 0.0           # probability that a write commits and its response is lost
    lose_next_writes: int = 0
    lose_mode: str = "drop"          # "drop": close the connection; "error": answer lose_status
    lose_status: int = 502
    lose_path: str = ""              # only writes whose path ends with this are lost ("": any)
    storm_next: int = 0              # next N authenticated requests get 429
    storm_retry_after: int | None = 1  # None: the storm's 429s carry no Retry-After
    html_next: int = 0               # next N authenticated requests get the HTML app page (200)
    account_blocked: bool = False    # every request gets 402 "Account has been blocked"
    # writes.close(): every write waits before it runs until writes.open() (a frozen sink);
    # lists.close(): every list (a GET of a collection) waits the same way (a stalled poller)
    seed: int = 0
    writes: WriteGate = field(default_factory=WriteGate, repr=False, compare=False)
    lists: WriteGate = field(default_factory=WriteGate, repr=False, compare=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.lose_mode not in ("drop", "error"):
            raise ValueError("lose_mode must be 'drop' or 'error'")
        self._rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def clear(self) -> None:
        """Switch every fault off (the RNG keeps its position)."""
        for name in ("error_next", "timeout_next", "lose_next_writes", "storm_next", "html_next"):
            setattr(self, name, 0)
        self.latency_ms = 0
        self.lose_path = ""
        self.error_rate = self.timeout_rate = self.lose_rate = 0.0
        self.account_blocked = False
        self.writes.open()
        self.lists.open()

    def _take(self, counter: str, rate: float) -> bool:
        remaining = getattr(self, counter)
        if remaining > 0:
            setattr(self, counter, remaining - 1)
            return True
        return rate > 0 and self._rng.random() < rate

    def take_storm(self) -> bool:
        return self._take("storm_next", 0.0)

    def take_html(self) -> bool:
        return self._take("html_next", 0.0)

    def take_error(self) -> bool:
        return self._take("error_next", self.error_rate)

    def take_timeout(self) -> bool:
        return self._take("timeout_next", self.timeout_rate)

    def take_lose(self) -> bool:
        return self._take("lose_next_writes", self.lose_rate)


@dataclass(slots=True)
class RequestRecord:
    """One request as the sandbox saw it. ``time`` is the loop's monotonic clock at arrival.

    ``status`` is None while the request is in flight; ``outcome`` says what the
    client got: "response", "dropped" (connection closed after commit) or "held".
    """

    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    key_id: str | None
    status: int | None = None
    outcome: str = "response"
