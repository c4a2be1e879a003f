"""What a shop's stock writer made of one product command (Shopify, PrestaShop)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StockOutcome", "join_notes"]


@dataclass(frozen=True, slots=True)
class StockOutcome:
    """What became of a product's stock: ``parked`` with a reason, or ``succeeded``
    (``target_id`` the shop's id of the record written, ``reason`` what was already held or
    left out). ``redrive``: a parked command kept for `parked redrive` (and counted by the
    parked alert); False for a SKU the shop does not sell, which is routine when it sells
    part of the catalogue."""

    status: str  # succeeded | parked
    target_id: str | None = None
    reason: str | None = None
    redrive: bool = True


def join_notes(*parts: str | None) -> str | None:
    """A result's reason from the notes that apply (``;``-separated), None when none does."""
    return "; ".join(p for p in parts if p) or None
