"""Fault switches and the request log of the Shopify sandbox.

Plain data plus a seeded RNG: a test flips a switch on ``server.faults`` between two
requests. ``*_next`` counters are consumed one per affected request; ``*_rate`` values are
probabilities.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Faults", "RequestRecord"]


@dataclass
class Faults:
    latency_ms: int = 0              # added to every API request
    error_next: int = 0              # next N API requests: 5xx before anything runs
    error_rate: float = 0.0
    error_status: int = 503
    lose_next_writes: int = 0        # next N mutations commit, then the connection is dropped
    lose_rate: float = 0.0
    storm_next: int = 0              # next N API requests: HTTP 429 with Retry-After
    storm_retry_after: float | None = 1
    ignore_cursor: bool = False      # listings ignore $after: every page is the first one
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def clear(self) -> None:
        self.latency_ms = self.error_next = self.lose_next_writes = self.storm_next = 0
        self.error_rate = self.lose_rate = 0.0
        self.ignore_cursor = False

    def _take(self, counter: str, rate: float = 0.0) -> bool:
        remaining = getattr(self, counter)
        if remaining > 0:
            setattr(self, counter, remaining - 1)
            return True
        return rate > 0 and self._rng.random() < rate

    def take_error(self) -> bool:
        return self._take("error_next", self.error_rate)

    def take_lose(self) -> bool:
        return self._take("lose_next_writes", self.lose_rate)

    def take_storm(self) -> bool:
        return self._take("storm_next")


@dataclass(slots=True)
class RequestRecord:
    """One request as the sandbox saw it (never the token).

    ``outcome``: "response", "dropped" (a committed mutation lost its response) or
    "throttled" (a GraphQL THROTTLED answer, HTTP 200)."""

    time: float
    method: str
    path: str
    operation: str | None = None
    authorized: bool = False
    status: int | None = None
    outcome: str = "response"
    cost: dict[str, float] = field(default_factory=dict)
