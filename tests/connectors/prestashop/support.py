"""Shared builders for the PrestaShop connector tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from app.core.hashing import content_hash
from app.mapping import Mapping, load_mapping, parse_mapping
from app.mapping.yamlload import safe_load
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.prestashop.client import PrestaShopClient
from connectors.prestashop.sandbox import KEY, PrestaShopSandbox

EXAMPLE = Path(__file__).resolve().parents[3] / "docs/examples/mapping-es.yaml"
MAPPING = load_mapping(EXAMPLE)


def make_client(sandbox: PrestaShopSandbox, http: httpx.AsyncClient, *, key: str = KEY,
                page_size: int = 100) -> PrestaShopClient:
    return PrestaShopClient(http, base_url=sandbox.url, api_key=key, page_size=page_size,
                            retry=RetryPolicy(max_attempts=3, base_delay=0.01),
                            limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000)))


def command(entity: str, key: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"command_id": f"cmd-{key}-{content_hash(payload)[:8]}", "entity_key": key,
            "entity": entity, "target_system": "prestashop", "op": "upsert",
            "vector": {"holded": 1}, "payload": payload, "content_hash": content_hash(payload),
            "target_id": None, "links": {}, "depends_on": [], "lane": "realtime",
            "mapping_version": 3, "caused_by": "evt-1", **extra}


def _contact(**values: Any) -> dict[str, Any]:
    base = {"kind": "customer", "trade_name": None, "iban": None, "swift": None,
            "tax_regime": None, "payment_method": None, "payment_due_days": None,
            "price_list": None, "currency": "EUR", "language": None, "sales_account": None,
            "purchases_account": None, "default_taxes": [], "withholding": None, "tags": []}
    return {**base, **values}


def levante(**over: Any) -> dict[str, Any]:
    """Seeded customer 1 (a company) as canonical, with overrides."""
    return _contact(**{"name": "Ferretería Levante S.L.", "tax_id": "ESB12345678",
                       "is_person": False, "email": "compras@levante.example",
                       "phone": "+34 963 000 000", "mobile": None,
                       "address": {"street": "Calle Colón 12", "city": "Valencia",
                                   "postal_code": "46004", "province": None,
                                   "country_code": "ES"}, **over})


def lucia(**over: Any) -> dict[str, Any]:
    """Seeded customer 2 (a person, NIF in dni) as canonical, with overrides."""
    return _contact(**{"name": "Lucía García Pérez", "tax_id": "12345678Z", "is_person": True,
                       "email": "lucia@example.es", "phone": None, "mobile": "+34 600 111 222",
                       "address": {"street": "Calle Mayor 5, 3º B", "city": "Madrid",
                                   "postal_code": "28013", "province": None,
                                   "country_code": "ES"}, **over})


def stock_mapping(stock_warehouse: str | None = "central", *, taller: bool = False) -> Mapping:
    """The example mapping whose PrestaShop shop sells from ``stock_warehouse`` (None: the
    section names none); with ``taller``, a second canonical warehouse ``taller``."""
    data = safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if stock_warehouse is not None:
        data["systems"]["prestashop"]["stock_warehouse"] = stock_warehouse
    if taller:
        data["warehouses"]["taller"] = "Taller"
        data["systems"]["holded"]["warehouses"]["64a1f0c2e4b0a10000000e02"] = "taller"
    return parse_mapping(data, source="mapping-es.yaml")
