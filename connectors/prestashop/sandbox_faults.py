"""Fault switches and the request log of the PrestaShop sandbox (plain data, flipped by tests)."""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.base.fault_counters import FaultCounters

__all__ = ["Faults", "RequestRecord"]


@dataclass
class Faults(FaultCounters):
    """Mutable switches; ``*_next`` counters are consumed one per affected request.

    ``throttle_next``: HTTP 429 with ``Retry-After: retry_after`` (a proxy or security module in
    front of the shop; PrestaShop core has no rate limit). ``error_next``: HTTP ``error_status``
    before anything runs. ``lose_next_writes``: a POST/PUT commits, then the connection is
    dropped. ``revoked``: keys that are rejected from now on (as when a key is deleted or
    disabled in the back office). ``ignore_paging``: lists ignore the offset of ``limit``.
    ``latency_ms``: added to every request.
    """

    latency_ms: int = 0
    throttle_next: int = 0
    retry_after: int = 1
    error_next: int = 0
    error_status: int = 503
    lose_next_writes: int = 0
    revoked: set[str] = field(default_factory=set)
    ignore_paging: bool = False

    def clear(self) -> None:
        self.latency_ms = self.throttle_next = self.error_next = self.lose_next_writes = 0
        self.revoked.clear()
        self.ignore_paging = False


@dataclass(slots=True)
class RequestRecord:
    """One request as the sandbox saw it; ``outcome`` is response, error or dropped."""

    time: float
    method: str
    path: str
    query: str = ""
    status: int | None = None
    outcome: str = "response"
    auth: bool = False  # never: a webservice key has no login step
