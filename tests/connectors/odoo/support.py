"""Shared builders for the Odoo connector tests."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from app.mapping import load_mapping
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.odoo.client import OdooClient
from connectors.odoo.sandbox import OdooSandbox

MAPPING = load_mapping(Path(__file__).resolve().parents[3] / "docs/examples/mapping-es.yaml")
KEY = "sandbox-key"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_client(sandbox: OdooSandbox, http: httpx.AsyncClient, protocol: str = "jsonrpc",
                key: str = KEY, login: str = "admin") -> OdooClient:
    return OdooClient(http, base_url=sandbox.url, db=sandbox.db, login=login, api_key=key,
                      protocol=protocol,  # type: ignore[arg-type]
                      retry=RetryPolicy(max_attempts=3, base_delay=0.01),
                      limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000)))


def command(entity: str, key: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    from app.core.hashing import content_hash

    return {"command_id": f"cmd-{key}-{content_hash(payload)[:8]}", "entity_key": key,
            "entity": entity, "target_system": "odoo", "op": "upsert", "vector": {"holded": 1},
            "payload": payload, "content_hash": content_hash(payload), "target_id": None,
            "links": {}, "depends_on": [], "lane": "realtime", "mapping_version": 3,
            "caused_by": "evt-1", **extra}


def payment_payload(invoice_id: int, amount: str = "100.00") -> dict[str, Any]:
    return {"invoice_key": f"invoice/odoo/{invoice_id}", "contact_key": None,
            "date": dt.date(2026, 3, 1), "amount": Decimal(amount), "currency": "EUR",
            "method": None, "treasury": "banco", "reference": None, "description": None}


def contact_payload(name: str = "Ferretería Norte S.L.", **over: Any) -> dict[str, Any]:
    base = {"kind": "customer", "name": name, "trade_name": None, "tax_id": "ESB87654321",
            "is_person": False, "email": "compras@norte.example", "phone": "+34 944 000 000",
            "mobile": None, "iban": "ES7620770024003102575766", "swift": None,
            "address": {"street": "Gran Vía 1", "city": "Bilbao", "postal_code": "48001",
                        "province": None, "country_code": "ES"},
            "tax_regime": None, "payment_method": None, "payment_due_days": 30,
            "price_list": None, "currency": "EUR", "language": None, "sales_account": None,
            "purchases_account": None, "default_taxes": [], "withholding": None, "tags": []}
    return {**base, **over}
