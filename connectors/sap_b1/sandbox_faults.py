"""Fault switches and the request log of the SAP B1 sandbox (plain data, flipped by tests)."""
from __future__ import annotations

from dataclasses import dataclass

from connectors.base.fault_counters import FaultCounters

__all__ = ["Faults", "RequestRecord"]


@dataclass
class Faults(FaultCounters):
    """Mutable switches; ``*_next`` counters are consumed one per affected request.

    ``latency_ms``: added to every request. ``throttle_next``: HTTP 429 with ``Retry-After``
    (a reverse proxy; SL itself documents no limit). ``error_next``: HTTP ``error_status``
    before anything runs (nothing committed). ``lose_next_writes``: the next POST/PATCH
    commits, then the connection is dropped. ``expire_next``: the next API request finds its
    session expired (401, SL code 301). ``revoked``: every session and every login is refused.
    ``ignore_paging``: listings ignore ``$skip`` (a server that loops).
    """

    latency_ms: int = 0
    throttle_next: int = 0
    retry_after: int = 1
    error_next: int = 0
    error_status: int = 503
    lose_next_writes: int = 0
    expire_next: int = 0
    revoked: bool = False
    ignore_paging: bool = False

    def clear(self) -> None:
        self.latency_ms = self.throttle_next = self.error_next = 0
        self.lose_next_writes = self.expire_next = 0
        self.revoked = self.ignore_paging = False


@dataclass(slots=True)
class RequestRecord:
    """One request as the sandbox saw it. ``outcome``: "response", "error" (an SAP error
    body was answered) or "dropped" (committed, connection cut)."""

    time: float
    method: str
    path: str
    query: str = ""
    status: int | None = None
    outcome: str = "response"
    code: int | None = None  # SAP's error code, when one was answered

    @property
    def auth(self) -> bool:
        return self.path.endswith(("/Login", "/Logout"))
