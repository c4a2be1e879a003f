"""Fault switches and the request log of the Odoo sandbox (plain data, flipped by tests)."""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.base.fault_counters import FaultCounters
from connectors.base.write_gate import WriteGate

__all__ = ["Faults", "RequestRecord", "WRITE_METHODS"]

# Calls that change persistent records: the ones a lost response matters for.
WRITE_METHODS = frozenset({"create", "write", "unlink", "action_post", "action_create_payments",
                           "button_draft", "button_cancel"})


@dataclass
class Faults(FaultCounters):
    """Mutable switches; ``*_next`` counters are consumed one per affected call.

    ``throttle_next``: HTTP 429 with ``Retry-After: retry_after`` (a proxy in front of Odoo;
    Odoo itself has no rate limit). ``error_next``: HTTP ``error_status`` before the call
    runs (nothing committed). ``lose_next_writes``: a write to a persistent model commits,
    then the connection is dropped. ``deny_next``: the next authenticated calls fail with
    AccessDenied, as when an API key was rotated under a running session. ``revoked``: keys
    that no longer authenticate at all. ``ignore_paging``: search ignores ``offset`` (an
    API that loops). ``writes``: closed, every write waits before it runs until it is
    opened again (a frozen sink).
    """

    latency_ms: int = 0
    throttle_next: int = 0
    retry_after: int = 1
    error_next: int = 0
    error_status: int = 503
    lose_next_writes: int = 0
    deny_next: int = 0
    revoked: set[str] = field(default_factory=set)
    ignore_paging: bool = False
    writes: WriteGate = field(default_factory=WriteGate, repr=False, compare=False)

    def clear(self) -> None:
        self.latency_ms = self.throttle_next = self.error_next = 0
        self.lose_next_writes = self.deny_next = 0
        self.revoked.clear()
        self.ignore_paging = False
        self.writes.open()


@dataclass(slots=True)
class RequestRecord:
    """One request. ``call`` is ``"<service>.<method>"`` or ``"<model>.<method>"``;
    ``outcome`` is "response", "fault" (an Odoo error answered) or "dropped"."""

    time: float
    protocol: str  # jsonrpc | xmlrpc | json2
    path: str
    call: str = ""
    status: int | None = None
    outcome: str = "response"
    fault: str | None = None

    @property
    def auth(self) -> bool:
        return self.call in ("common.authenticate", "common.login")
