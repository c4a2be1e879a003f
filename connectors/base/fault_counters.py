"""The ``*_next`` fault switches of the ERP sandboxes: each one counts the requests it still
affects, and a request takes one."""
from __future__ import annotations

__all__ = ["FaultCounters"]


class FaultCounters:
    """Mixin of a sandbox's ``Faults`` dataclass (its counters are its int fields)."""

    __slots__ = ()

    def take(self, counter: str) -> bool:
        """True, and one less left, when ``counter`` still has requests to affect."""
        remaining = getattr(self, counter)
        if remaining > 0:
            setattr(self, counter, remaining - 1)
            return True
        return False
