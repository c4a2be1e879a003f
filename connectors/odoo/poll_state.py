"""Where the Odoo source's walks stand: a poll state per walk, and the bank accounts' holders.

Kept apart from connectors/odoo/source.py: the worker stores it between runs as JSON
(app/connections.py) without running the source.
"""
from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from connectors.base.polling import PollState

__all__ = ["HOLDERS", "OdooPollState"]


@dataclass(frozen=True, slots=True)
class OdooPollState:
    """One :class:`PollState` per entity; JSON-serialisable.

    ``bank_holders``: bank account id -> holder partner id, for every bank account the bank
    walk has read. A deleted account moves no write_date: the next run finds it missing from
    Odoo and re-reads its holder."""

    entities: MappingABC[str, PollState] = field(default_factory=dict)
    bank_holders: MappingABC[int, int] = field(default_factory=dict)

    def get(self, entity: str) -> PollState:
        return self.entities.get(entity) or PollState()

    def to_json(self) -> str:
        data: dict[str, Any] = {k: v.to_json() for k, v in sorted(self.entities.items())}
        if self.bank_holders:
            data[HOLDERS] = {str(b): p for b, p in sorted(self.bank_holders.items())}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str | None) -> OdooPollState:
        data = json.loads(text) if text else {}
        holders = {int(b): int(p) for b, p in (data.pop(HOLDERS, None) or {}).items()}
        return cls({k: PollState.from_json(v) for k, v in data.items()}, holders)


HOLDERS = "@bank_holders"  # not a walk name
