"""Shared helpers for the Shopify tests: mapping, client factory, commands."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from app.core.hashing import content_hash
from app.mapping import Mapping, parse_mapping
from app.mapping.yamlload import safe_load
from connectors.base.limiter import Clock, RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.shopify.client import ShopifyClient
from connectors.shopify.sandbox import ShopifySandbox

ROOT = Path(__file__).resolve().parents[3]
MAPPING: Mapping = parse_mapping(
    safe_load((ROOT / "docs" / "examples" / "mapping-es.yaml").read_text(encoding="utf-8")),
    source="mapping-es.yaml")


def mapping_with(*, default_product_tax: str | None) -> Mapping:
    """The example mapping with ``shopify.default_product_tax`` set to a key, or left out."""
    data = safe_load((ROOT / "docs" / "examples" / "mapping-es.yaml").read_text(encoding="utf-8"))
    data["systems"]["shopify"].pop("default_product_tax", None)
    if default_product_tax is not None:
        data["systems"]["shopify"]["default_product_tax"] = default_product_tax
    return parse_mapping(data, source="mapping-es.yaml")


def make_client(sandbox: ShopifySandbox, http: httpx.AsyncClient, *, page_size: int = 50,
                attempts: int = 3, token: str | None = None, clock: Clock | None = None
                ) -> ShopifyClient:
    return ShopifyClient(
        http, shop_url=sandbox.url, access_token=token or sandbox.access_token,
        api_version=sandbox.api_version, page_size=page_size, clock=clock,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05),
        limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000), clock))


def command(entity: str, key: str, payload: dict[str, Any], *,
            links: dict[str, str] | None = None, vector: dict[str, int] | None = None
            ) -> dict[str, Any]:
    vector = vector or {"holded": 1}
    command_id = hashlib.sha256(f"{key}|shopify|{sorted(vector.items())}".encode()).hexdigest()
    return {"command_id": command_id, "entity_key": key, "entity": entity,
            "target_system": "shopify", "op": "upsert", "vector": vector, "payload": payload,
            "content_hash": content_hash(payload), "target_id": None, "links": links or {},
            "depends_on": [], "lane": "realtime", "mapping_version": 3,
            "caused_by": f"event-{key}"}


def contact_payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "kind": "customer", "name": "Lucía Fernández Gómez", "trade_name": None,
        "tax_id": "12345678Z", "is_person": True, "email": "lucia@nuevo-correo.es",
        "phone": "+34600999888", "mobile": None, "iban": None, "swift": None,
        "address": None, "tax_regime": None, "payment_method": None, "payment_due_days": None,
        "price_list": None, "currency": "EUR", "language": None, "sales_account": None,
        "purchases_account": None, "default_taxes": [], "withholding": None, "tags": [],
    }
    payload.update(changes)
    return payload


def invoice_payload(number: str = "F2026-0042") -> dict[str, Any]:
    import datetime as dt
    from decimal import Decimal
    return {"doc_type": "invoice", "number": number, "series": None,
            "issue_date": dt.date(2026, 11, 20), "due_date": None,
            "customer_key": "contact/shopify/8100000000001", "customer_tax_id": None,
            "currency": "EUR", "exchange_rate": None, "tax_regime": None, "lines": [],
            "totals": {"subtotal": Decimal("16.27"), "tax_total": Decimal("1.63"),
                       "withholding_total": Decimal(0), "total": Decimal("17.90")},
            "payment_method": "tarjeta", "corrects": None, "status": "issued",
            "payment_status": "paid", "amount_paid": Decimal("17.90"), "notes": None}


def numeric(record: dict[str, Any]) -> str:
    return str(record["id"]).rsplit("/", 1)[1]


def stock_mapping(location: str, *, taller: str | None = None) -> Mapping:
    """The example mapping whose ``central`` warehouse is the Shopify ``location``; with
    ``taller``, a second warehouse ``taller`` (in Holded too) at that Shopify location, or
    ``""`` for a warehouse the shop has no location for."""
    data = safe_load((ROOT / "docs" / "examples" / "mapping-es.yaml").read_text(encoding="utf-8"))
    data["systems"]["shopify"]["warehouses"] = {location: "central"}
    if taller is not None:
        data["warehouses"]["taller"] = "Taller"
        data["systems"]["holded"]["warehouses"]["64a1f0c2e4b0a10000000e02"] = "taller"
        if taller == location:  # one location for both: a system code for two canonical ones
            data["systems"]["shopify"]["warehouses"][location] = ["central", "taller"]
        elif taller:
            data["systems"]["shopify"]["warehouses"][taller] = "taller"
    return parse_mapping(data, source="mapping-es.yaml")
