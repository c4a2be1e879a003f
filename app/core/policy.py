"""Routing and conflict policy: data the operator sets, read by the pure decision code."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Policy", "default_policy"]


@dataclass(frozen=True, slots=True)
class Policy:
    """Where each entity type is written, and which system owns which field.

    ``routes``: entity -> systems that receive its canonical state.
    ``held_fields``: system -> entity -> the canonical fields that system stores and reports
    back (a connector's ``HELD_FIELDS``); echoes, duplicates and merges from that system look
    only at those, so a field it cannot store never causes a ping-pong.
    ``reported_view``: (system, entity, record) -> what that system will report back after we
    write ``record`` (it may fill blanks with its defaults), or None when unknown; the echo
    of a write is expected to match it.
    ``owners``: ``"<entity>.<field>"`` -> the system whose value wins a conflict on that field
    (e.g. the ERP owns product prices, Holded owns payment status); fields without an owner
    are settled by last-writer-wins on the source timestamp.
    """

    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=dict)
    held_fields: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    reported_view: Callable[[str, str, Mapping[str, Any]], Mapping[str, Any] | None] | None = None

    def targets(self, entity: str) -> tuple[str, ...]:
        return tuple(self.routes.get(entity, ()))

    def held(self, system: str, entity: str) -> frozenset[str] | None:
        return self.held_fields.get(system, {}).get(entity)

    def expected_report(self, system: str, entity: str, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if self.reported_view is None or record is None:
            return None
        return self.reported_view(system, entity, record)

    def owner(self, entity: str, field_name: str) -> str | None:
        return self.owners.get(f"{entity}.{field_name}")


def default_policy(erps: tuple[str, ...],
                   held_fields: Mapping[str, Mapping[str, frozenset[str]]] | None = None,
                   reported_view: Callable[[str, str, Mapping[str, Any]], Mapping[str, Any] | None]
                   | None = None, field_owners: Mapping[str, str] | None = None,
                   stock_targets: tuple[str, ...] = ()) -> Policy:
    """Holded plus the ERPs in use: master data and documents go to Holded, contact tax data
    flows both ways, payments flow to every other system. ERPs own prices; Holded owns
    payment state. ``field_owners`` (``"<entity>.<field>"`` -> system, the operator's
    HOLDED_SYNC_FIELD_OWNERS) adds owners and overrides these defaults. ``stock_targets``:
    the shops whose sink writes stock (SHOPIFY_WRITE_STOCK, PRESTASHOP_WRITE_STOCK); products
    go to them too, and they write nothing of a product but its stock.
    """
    owners: dict[str, str] = {"invoice.payment_status": "holded", "invoice.amount_paid": "holded"}
    if len(erps) == 1:
        owners["product.price"] = erps[0]
    owners.update(field_owners or {})
    return Policy(
        routes={
            "contact": ("holded", *erps),
            "product": ("holded", *stock_targets),
            "invoice": ("holded",),
            # Payments go everywhere but their origin: a Holded payment to the ERPs, a shop's
            # payment to Holded (and the ERPs); our own writes come back under their first key.
            "payment": ("holded", *erps),
        },
        owners=owners,
        held_fields=dict(held_fields or {}),
        reported_view=reported_view,
    )
