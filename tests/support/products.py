"""Canonical products for the stock tests of every shop connector."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["product_payload"]


def product_payload(sku: str | None, *levels: tuple[str, str]) -> dict[str, Any]:
    """A canonical product with ``stock`` levels given as (warehouse, quantity text)."""
    return {"kind": "product", "sku": sku, "name": f"Producto {sku}", "description": None,
            "price": Decimal("10.000000"), "cost": None, "currency": "EUR",
            "sales_taxes": ["iva_21"], "purchase_taxes": [], "sales_account": None,
            "purchases_account": None, "barcode": None,
            "stock": [{"warehouse": w, "quantity": Decimal(q)} for w, q in levels],
            "active": True}
