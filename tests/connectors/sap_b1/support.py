"""Shared helpers for the SAP B1 tests: mapping, client factory, commands, payloads."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from app.core.hashing import content_hash
from app.mapping import Mapping, parse_mapping
from app.mapping.yamlload import safe_load
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.sap_b1.client import SapB1Client
from connectors.sap_b1.sandbox import COMPANY_DB, PASSWORD, USER, SapSandbox

ROOT = Path(__file__).resolve().parents[3]
MAPPING: Mapping = parse_mapping(
    safe_load((ROOT / "docs" / "examples" / "mapping-es.yaml").read_text(encoding="utf-8")),
    source="mapping-es.yaml")
TRANSFER_ACCOUNT = "57200000"  # the example mapping has no sap_b1 account for treasury 572


class FakeClock:
    """The sandbox's wall clock, moved by the test."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def make_client(sandbox: SapSandbox, http: httpx.AsyncClient, *, page_size: int | None = None,
                attempts: int = 3, password: str = PASSWORD) -> SapB1Client:
    return SapB1Client(
        http, base_url=sandbox.url, company_db=COMPANY_DB, username=USER, password=password,
        page_size=page_size,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05),
        limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000)))


def command(entity: str, key: str, payload: dict[str, Any], *, links: dict[str, str] | None = None,
            vector: dict[str, int] | None = None, base_ts: int | None = None) -> dict[str, Any]:
    vector = vector or {"holded": 1}
    command_id = hashlib.sha256(f"{key}|sap_b1|{sorted(vector.items())}".encode()).hexdigest()
    return {"command_id": command_id, "entity_key": key, "entity": entity,
            "target_system": "sap_b1", "op": "upsert", "vector": vector, "payload": payload,
            "content_hash": content_hash(payload), "target_id": None, "links": links or {},
            "depends_on": [], "lane": "realtime", "mapping_version": 3,
            "caused_by": f"event-{key}", "base_ts": base_ts}


def payment_payload(doc_entry: int, amount: str, *, currency: str = "EUR",
                    reference: str | None = "TRF-0042") -> dict[str, Any]:
    return {"invoice_key": f"invoice/sap_b1/{doc_entry}", "contact_key": None,
            "date": dt.date(2026, 11, 20), "amount": Decimal(amount), "currency": currency,
            "method": "transferencia", "treasury": None, "reference": reference,
            "description": "Cobro Holded"}


def contact_payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "kind": "customer", "name": "Ferretería Martínez S.L.", "trade_name": None,
        "tax_id": "B12345679", "is_person": False, "email": "cobros@ferreteria-martinez.es",
        "phone": "+34 960 111 333", "mobile": None, "iban": None, "swift": None,
        "address": {"street": "Calle Mayor 3", "city": "Valencia", "postal_code": "46002",
                    "province": "Valencia", "country_code": "ES"},
        "tax_regime": None, "payment_method": None, "payment_due_days": 30,
        "price_list": None, "currency": "EUR", "language": None, "sales_account": None,
        "purchases_account": None, "default_taxes": [], "withholding": None, "tags": [],
    }
    payload.update(changes)
    return payload
