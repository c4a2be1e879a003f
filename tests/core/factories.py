"""Factories for canonical records and change events (plain functions, no mocks)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from app.core.hashing import content_hash


def contact(**fields: Any) -> dict[str, Any]:
    base = {"kind": "customer", "name": "Talleres Gómez SL", "trade_name": None,
            "tax_id": "B12345678", "is_person": False, "email": None, "phone": None,
            "mobile": None, "iban": None, "swift": None, "address": None, "tax_regime": "general",
            "payment_method": None, "payment_due_days": 30, "price_list": None, "currency": "EUR",
            "language": "es", "sales_account": None, "purchases_account": None,
            "default_taxes": ["iva_21"], "withholding": None, "tags": []}
    base.update(fields)
    return base


def invoice(**fields: Any) -> dict[str, Any]:
    base = {"doc_type": "invoice", "number": "F-1", "series": None,
            "issue_date": dt.date(2026, 3, 1), "due_date": None, "customer_key": "contact/odoo/C1",
            "customer_tax_id": "B12345678", "currency": "EUR", "exchange_rate": None,
            "tax_regime": "general",
            "lines": [{"line_no": 1, "sku": "SKU-1", "product_key": "product/odoo/P1",
                       "description": "Pieza", "quantity": Decimal("2"),
                       "unit_price": Decimal("50.00"), "discount_pct": Decimal("0"),
                       "taxes": ["iva_21"], "withholding": None, "account": None}],
            "totals": {"subtotal": Decimal("100.00"), "tax_total": Decimal("21.00"),
                       "withholding_total": Decimal("0.00"), "total": Decimal("121.00")},
            "payment_method": None, "corrects": None, "status": "issued",
            "payment_status": "unpaid", "amount_paid": Decimal("0"), "notes": None}
    base.update(fields)
    return base


def payment(**fields: Any) -> dict[str, Any]:
    """A payment on an invoice; ``payment(invoice_key=None)`` is one on account."""
    base = {"invoice_key": "invoice/odoo/F-1", "contact_key": "contact/odoo/C1",
            "date": dt.date(2026, 3, 5), "amount": Decimal("121.00"), "currency": "EUR",
            "method": None, "treasury": None, "reference": None, "description": None}
    base.update(fields)
    return base


def change(system: str, payload: dict[str, Any] | None, *, key: str = "contact/odoo/C1",
           ts: int = 1_700_000_000_000, event_id: str | None = None, op: str = "upsert",
           lane: str = "realtime") -> dict[str, Any]:
    entity = key.split("/", 1)[0]
    digest = content_hash(payload)
    return {"event_id": event_id or f"{system}-{ts}-{digest[:8]}", "entity_key": key,
            "entity": entity, "source_system": system, "source_id": key.rsplit("/", 1)[-1],
            "source_ts": dt.datetime.fromtimestamp(ts / 1000, dt.timezone.utc), "op": op,
            "payload": payload, "content_hash": digest, "lane": lane}


def result_for(command: dict[str, Any], target_id: str = "h-1", status: str = "succeeded") -> dict[str, Any]:
    return {"command_id": command["command_id"], "entity_key": command["entity_key"],
            "target_system": command["target_system"], "status": status, "target_id": target_id,
            "vector": command["vector"], "content_hash": command["content_hash"], "reason": None,
            "mapping_version": None, "completed_ts": 1}
