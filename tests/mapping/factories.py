"""Factories for mapping tests: fresh data every call, so a test can mutate what it gets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.mapping import Mapping, parse_mapping
from app.mapping.yamlload import safe_load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "mapping-es.yaml"


def example_data() -> dict[str, Any]:
    """The Spanish example document as raw data (exact decimals), ready to be edited."""
    return safe_load(EXAMPLE.read_text(encoding="utf-8"))


def example_mapping() -> Mapping:
    return parse_mapping(example_data(), source="mapping-es.yaml")


def small_data(*, version: int = 1, rate: Any = 21, holded_key: str = "s_iva_21",
               rounding: str = "line") -> dict[str, Any]:
    """A minimal valid document: one VAT, one withholding, a few accounts and codes."""
    return {
        "version": version,
        "currencies": ["EUR", "USD"],
        "accounts": {"700": "Ventas", "705": "Servicios", "4770": "IVA repercutido",
                     "4730": "Retenciones", "572": "Bancos"},
        "taxes": {
            "iva_general": {"rate": rate, "kind": "vat", "scope": "sales", "account": "4770"},
            "irpf_15": {"rate": 15, "kind": "withholding", "scope": "sales", "account": "4730"},
        },
        "treasuries": {"banco": {"name": "Banco", "account": "572"}},
        "payment_methods": {"transferencia": {"name": "Transferencia", "treasury": "banco"}},
        "series": {"F": {"name": "Facturas", "doc_types": ["invoice"]}},
        "systems": {
            "holded": {
                "rounding": rounding,
                "taxes": {holded_key: {"canonical": "iva_general", "rate": rate},
                          "s_ret_15": {"canonical": "irpf_15", "rate": 15}},
                "accounts": {"acc700": "700"},
                "series": {"serieF": "F"},
                "payment_methods": {"pm1": "transferencia"},
                "treasuries": {"tr1": "banco"},
            },
        },
    }


def small_mapping(**kwargs: Any) -> Mapping:
    return parse_mapping(small_data(**kwargs), source="small.yaml")


def line(line_no: int = 1, *, quantity: str = "1", unit_price: str = "100.00",
         discount: str = "0", taxes: tuple[str, ...] = ("iva_general",),
         withholding: str | None = None, sku: str | None = None,
         account: str | None = None, description: str = "Item") -> dict[str, Any]:
    return {
        "line_no": line_no, "sku": sku, "product_key": None, "description": description,
        "quantity": Decimal(quantity), "unit_price": Decimal(unit_price),
        "discount_pct": Decimal(discount), "taxes": list(taxes), "withholding": withholding,
        "account": account,
    }


def invoice(lines: list[dict[str, Any]], totals: tuple[str, str, str, str], **fields: Any
            ) -> dict[str, Any]:
    subtotal, tax, withholding, total = (Decimal(x) for x in totals)
    doc: dict[str, Any] = {
        "doc_type": "invoice", "number": None, "series": None,
        "issue_date": dt.date(2026, 3, 2), "due_date": None,
        "customer_key": "contact/odoo/7", "customer_tax_id": None, "currency": "EUR",
        "exchange_rate": None, "tax_regime": None, "lines": lines,
        "totals": {"subtotal": subtotal, "tax_total": tax, "withholding_total": withholding,
                   "total": total},
        "payment_method": None, "corrects": None, "status": "issued",
        "payment_status": "unpaid", "amount_paid": Decimal("0.00"), "notes": None,
    }
    doc.update(fields)
    return doc
