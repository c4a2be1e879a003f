"""What the operator page says about each external system: last API answer, last poll, and
how much of the configured request rate the last minute used (429s are counted in METRICS).

Prometheus counters answer "how many since start"; an operator looking at one page needs
"what happened last, and when", so the HTTP hook and the poll loop also note it here.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["HEALTH", "SystemHealth", "SystemState"]

WINDOW_S = 60.0


@dataclass
class SystemState:
    last_status: int | None = None
    last_call_at: float | None = None
    last_poll_at: float | None = None
    last_poll_ok: bool | None = None
    last_poll_error: str | None = None
    last_poll_events: int = 0
    recent_calls: deque[float] = field(default_factory=deque)

    def calls_in_window(self, now: float) -> int:
        while self.recent_calls and self.recent_calls[0] <= now - WINDOW_S:
            self.recent_calls.popleft()
        return len(self.recent_calls)


class SystemHealth:
    """Per-system notes, written by the worker's HTTP clients and pollers (one event loop)."""

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._systems: dict[str, SystemState] = {}

    def state(self, system: str) -> SystemState:
        return self._systems.setdefault(system, SystemState())

    def api_call(self, system: str, status: int) -> None:
        s, now = self.state(system), self._clock()
        s.last_status, s.last_call_at = status, now
        s.recent_calls.append(now)
        s.calls_in_window(now)  # drop the old ones as we go: memory stays one minute's worth

    def poll(self, system: str, events: int = 0, error: str | None = None) -> None:
        s = self.state(system)
        s.last_poll_at, s.last_poll_ok = self._clock(), error is None
        s.last_poll_error, s.last_poll_events = error, events

    def now(self) -> float:
        return self._clock()


HEALTH = SystemHealth()
