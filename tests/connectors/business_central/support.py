"""Shared helpers for the Business Central tests: mapping, client factory, commands."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from app.mapping import Mapping, parse_mapping
from app.mapping.yamlload import safe_load
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.business_central.client import BusinessCentralClient
from connectors.business_central.sandbox import BCSandbox

ROOT = Path(__file__).resolve().parents[3]
MAPPING: Mapping = parse_mapping(
    safe_load((ROOT / "docs" / "examples" / "mapping-es.yaml").read_text(encoding="utf-8")),
    source="mapping-es.yaml")


def make_client(sandbox: BCSandbox, http: httpx.AsyncClient, *, page_size: int | None = None,
                attempts: int = 3, secret: str | None = None) -> BusinessCentralClient:
    return BusinessCentralClient(
        http, tenant=sandbox.tenant, environment=sandbox.environment,
        company_id=sandbox.company_id, client_id=sandbox.client_id,
        client_secret=secret or sandbox.client_secret, api_url=sandbox.url,
        token_url=sandbox.token_url, page_size=page_size,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05),
        # BC's budget would only slow the suite; the sandbox has no rate limit of its own.
        limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000)))


def command(entity: str, key: str, payload: dict[str, Any], *, links: dict[str, str] | None = None,
            vector: dict[str, int] | None = None, base_ts: int | None = None) -> dict[str, Any]:
    from app.core.hashing import content_hash

    vector = vector or {"holded": 1}
    command_id = hashlib.sha256(f"{key}|business_central|{sorted(vector.items())}".encode()
                                ).hexdigest()
    return {"command_id": command_id, "entity_key": key, "entity": entity,
            "target_system": "business_central", "op": "upsert", "vector": vector,
            "payload": payload, "content_hash": content_hash(payload), "target_id": None,
            "links": links or {}, "depends_on": [], "lane": "realtime", "mapping_version": 3,
            "caused_by": f"event-{key}", "base_ts": base_ts}


def payment_payload(invoice_id: str, amount: str, *, currency: str = "EUR") -> dict[str, Any]:
    return {"invoice_key": f"invoice/business_central/{invoice_id}", "contact_key": None,
            "date": dt.date(2026, 11, 20), "amount": Decimal(amount), "currency": currency,
            "method": "transferencia", "treasury": None, "reference": "TRF-0042",
            "description": "Cobro Holded"}


def contact_payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "kind": "customer", "name": "Ferretería Martínez S.L.", "trade_name": None,
        "tax_id": "B12345678", "is_person": False, "email": "pagos@ferreteria-martinez.es",
        "phone": "+34 960 111 222", "mobile": None, "iban": None, "swift": None,
        "address": {"street": "Calle Mayor 1", "city": "Valencia", "postal_code": "46001",
                    "province": None, "country_code": "ES"},
        "tax_regime": None, "payment_method": "transferencia", "payment_due_days": 60,
        "price_list": None, "currency": "EUR", "language": None, "sales_account": None,
        "purchases_account": None, "default_taxes": [], "withholding": None, "tags": [],
    }
    payload.update(changes)
    return payload


async def customer(sandbox: BCSandbox, number: str = "C00001") -> dict[str, Any]:
    return (await sandbox.all("customers", number=number))[0]


async def open_invoice(sandbox: BCSandbox, number: str = "V-FAC00001") -> dict[str, Any]:
    return (await sandbox.all("salesInvoices", number=number))[0]
