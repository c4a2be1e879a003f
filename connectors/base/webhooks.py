"""What every webhook receiver shares: the refusal taxonomy (each class carries the HTTP status
to answer) and a bounded memory of deliveries already accepted."""
from __future__ import annotations

from collections import OrderedDict

__all__ = ["BadContentType", "DeliveryLog", "Forged", "Malformed", "Replayed", "TooLarge",
           "WebhookError"]


class WebhookError(Exception):
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forged(WebhookError):
    status = 401


class TooLarge(WebhookError):
    status = 413


class BadContentType(WebhookError):
    status = 415


class Malformed(WebhookError):
    status = 400


class Replayed(WebhookError):
    status = 200  # acknowledged, so the sender stops retrying; nothing is done twice


class DeliveryLog:
    """A bounded LRU of delivery ids already processed (per worker: a duplicate that slips
    through after eviction or on another worker only causes one more re-read).

    A receiver that still has work to do after checking a delivery (re-read its records,
    publish them) calls :meth:`refuse_replay` first and :meth:`remember` only once that work
    succeeded: a delivery that failed half-way is then not remembered, so the sender's retry
    (same id) is processed instead of acknowledged as a duplicate."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, delivery: str) -> bool:
        return delivery in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def refuse_replay(self, delivery: str | None) -> None:
        """Raise Replayed if ``delivery`` was remembered already; remember nothing."""
        if delivery is not None and delivery in self._seen:
            self._seen.move_to_end(delivery)
            raise Replayed(f"delivery {delivery[:64]!r} already received")

    def remember(self, delivery: str | None) -> None:
        """Remember a processed ``delivery`` (None: nothing to remember)."""
        if delivery is None:
            return
        self._seen[delivery] = None
        self._seen.move_to_end(delivery)
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def check(self, delivery: str | None) -> None:
        """Refuse a replay, else remember ``delivery`` at once: only for a caller with nothing
        left that could fail. None is never a replay."""
        self.refuse_replay(delivery)
        self.remember(delivery)
