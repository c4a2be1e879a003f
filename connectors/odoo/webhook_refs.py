"""An Odoo webhook body read as ids to re-fetch (the body itself is never trusted as data).

An Odoo automation rule with a "Send Webhook Notification" server action posts
``{"_action": ..., "_model": "res.partner", "_id": 7, ...}``; :func:`parse_webhook` turns that
into ids and ``OdooSource.fetch`` re-reads them.
"""
from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Any

from connectors.base.errors import SkipRecord
from connectors.odoo.walks import MODEL_ENTITY

__all__ = ["WebhookRefs", "parse_webhook"]


@dataclass(frozen=True, slots=True)
class WebhookRefs:
    model: str
    ids: tuple[int, ...]

    @property
    def entity(self) -> str | None:
        return MODEL_ENTITY.get(self.model)


def parse_webhook(body: bytes | str | MappingABC[str, Any] | list[Any]) -> list[WebhookRefs]:
    """Ids to re-fetch from an Odoo webhook body (one notification or a list of them)."""
    data = json.loads(body) if isinstance(body, bytes | str) else body
    items = data if isinstance(data, list) else [data]
    found: dict[str, list[int]] = {}
    for item in items:
        if not isinstance(item, MappingABC):
            raise SkipRecord(f"webhook body is not an object: {item!r}")
        model, rid = item.get("_model"), item.get("_id", item.get("id"))
        if not isinstance(model, str) or isinstance(rid, bool) or not isinstance(rid, int):
            raise SkipRecord("webhook body lacks _model / _id")
        if not 0 < rid < 1 << 31:  # Odoo's ids are PostgreSQL integers
            raise SkipRecord(f"webhook body names _id {str(rid)[:40]}, which no Odoo record has")
        found.setdefault(model, [])
        if rid not in found[model]:
            found[model].append(rid)
    return [WebhookRefs(model, tuple(ids)) for model, ids in found.items()]
