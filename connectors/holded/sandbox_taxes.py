"""The standard Spanish tax table of the sandbox and document total arithmetic.

Shapes follow ``GET /taxes`` in the reference (§2.5): ``amount`` is a string, ``id``
is "" for Holded's standard taxes, reverse-charge / intra-EU purchases are
``type: "group"`` taxes whose parts cancel out (net effect 0 on the document).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["TAXES", "TAX_BY_KEY", "TAX_BASES", "Totals", "compute_totals", "default_vat_key", "line_rates",
           "product_total", "round2"]

logger = logging.getLogger(__name__)


def _tax(key: str, name: str, amount: str, group: str, *, items: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": "",
        "name": name,
        "amount": amount,
        "scope": "sales" if key.startswith("s_") else "purchases",
        "key": key,
        "group": group,
        "type": "group" if items else "percentage",
        "items": list(items),
        "status": 1,
        "visible": True,
    }


TAXES: tuple[dict[str, Any], ...] = (
    _tax("s_iva_21", "IVA 21%", "21", "iva"),
    _tax("s_iva_10", "IVA 10%", "10", "iva"),
    _tax("s_iva_4", "IVA 4%", "4", "iva"),
    _tax("s_iva_0", "IVA 0%", "0", "iva"),
    _tax("s_iva_exento", "Exento", "0", "iva"),
    _tax("s_iva_intrab", "Intracomunitario bienes", "0", "iva"),
    _tax("s_iva_intras", "Intracomunitario servicios", "0", "iva"),
    _tax("s_iva_export", "Exportación", "0", "iva"),
    _tax("s_iva_invsuj", "Inversión del sujeto pasivo", "0", "iva"),
    _tax("s_rec_52", "Recargo de equivalencia 5,2%", "5.2", "receq"),
    _tax("s_rec_14", "Recargo de equivalencia 1,4%", "1.4", "receq"),
    _tax("s_rec_05", "Recargo de equivalencia 0,5%", "0.5", "receq"),
    _tax("s_rec_0", "Recargo de equivalencia 0%", "0", "receq"),
    _tax("s_ret_19", "Retención 19%", "19", "retention"),
    _tax("s_ret_15", "Retención 15%", "15", "retention"),
    _tax("s_ret_7", "Retención 7%", "7", "retention"),
    _tax("s_ret_19_prestamos", "Retención 19% préstamos", "19", "retention"),
    _tax("p_iva_21", "IVA 21%", "21", "iva"),
    _tax("p_iva_10", "IVA 10%", "10", "iva"),
    _tax("p_iva_4", "IVA 4%", "4", "iva"),
    _tax("p_iva_0", "IVA 0%", "0", "iva"),
    _tax("p_iva_exento", "Exento", "0", "iva"),
    _tax("p_iva_bi_21", "IVA 21% bienes de inversión", "21", "iva"),
    _tax("p_iva_invsuj", "Inversión del sujeto pasivo", "0", "iva", items=("p_iva_21", "s_iva_21")),
    _tax("p_iva_adqintras_21", "Adq. intracomunitaria servicios 21%", "0", "iva", items=("p_iva_21", "s_iva_21")),
    _tax("p_iva_adqintrab_21", "Adq. intracomunitaria bienes 21%", "0", "iva", items=("p_iva_21", "s_iva_21")),
    _tax("p_ret_19", "Retención 19%", "19", "retention"),
    _tax("p_ret_15", "Retención 15%", "15", "retention"),
    _tax("p_ret_7", "Retención 7%", "7", "retention"),
    _tax("p_retrent_19", "Retención alquileres 19%", "19", "retention"),
)

TAX_BY_KEY: dict[str, dict[str, Any]] = {t["key"]: t for t in TAXES}

_CENT = Decimal("0.01")
TAX_BASES = ("exact", "cent")  # what a line's tax is taken from (compute_totals)


def round2(value: Decimal) -> float:
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def product_total(price: float, taxes: list[str]) -> float:
    """A product's ``total``: its price with its taxes, to the cent (v1 and v2 share the
    store). Raises InvalidOperation for a price too large to count to the cent."""
    rate = sum(Decimal(TAX_BY_KEY[k]["amount"]) for k in taxes)
    return round2(Decimal(str(price)) * (1 + rate / 100))


def default_vat_key(rate: Any, scope: str) -> str | None:
    """The key Holded derives from a numeric ``tax`` (e.g. 21 -> s_iva_21), if it exists."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate != int(rate):
        return None
    key = f"{'s' if scope == 'sales' else 'p'}_iva_{int(rate)}"
    return key if key in TAX_BY_KEY else None


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: float
    discount: float
    tax: float          # VAT + surcharge - withholding (retention counts negative)
    retention: float    # positive amount withheld, for tests and ledger entries
    total: float


def line_rates(taxes: list[str]) -> tuple[float, float]:
    """(VAT %, retention %) of a line, as read back on ``products[]`` (surcharge only in taxes[])."""
    vat = sum(Decimal(TAX_BY_KEY[k]["amount"]) for k in taxes if TAX_BY_KEY[k]["group"] == "iva")
    ret = sum(Decimal(TAX_BY_KEY[k]["amount"]) for k in taxes if TAX_BY_KEY[k]["group"] == "retention")
    return float(vat), float(ret)


def compute_totals(lines: list[dict[str, Any]], *, tax_base: str = "exact") -> Totals:
    """Line rounding, as Holded's help centre says it rounds VAT ("Holded uses a line rounding
    system", help.holded.com/en/articles/7894927): each line's base is rounded to the cent and
    summed, and each line's tax is rounded to the cent and summed.

    Which amount a line's tax is taken from is not documented: ``tax_base="exact"`` (the
    default) taxes quantity x price x (1 - discount) unrounded, ``"cent"`` the line's base
    rounded to the cent. Integrators send tax-included shop prices netted with many decimals
    and expect the gross back (docs/holded.md, rounding), which only the first reading gives;
    ``"cent"`` lets tests show what the sink does on a tenant that rounds first (UNVERIFIED).
    """
    if tax_base not in TAX_BASES:
        raise ValueError(f"tax_base is one of {', '.join(TAX_BASES)}")
    subtotal = Decimal(0)
    discount = Decimal(0)
    per_key: dict[str, Decimal] = {}
    for line in lines:
        gross = Decimal(str(line["units"])) * Decimal(str(line["price"]))
        line_discount = gross * Decimal(str(line.get("discount") or 0)) / 100
        exact = gross - line_discount
        base = _round(exact)
        subtotal += base
        discount += line_discount
        taxed = exact if tax_base == "exact" else base
        for key in line.get("taxes", []):
            amount = _round(taxed * Decimal(TAX_BY_KEY[key]["amount"]) / 100)
            per_key[key] = per_key.get(key, Decimal(0)) + amount
    retention = sum((v for k, v in per_key.items() if TAX_BY_KEY[k]["group"] == "retention"), Decimal(0))
    other = sum((v for k, v in per_key.items() if TAX_BY_KEY[k]["group"] != "retention"), Decimal(0))
    return Totals(
        subtotal=float(subtotal),
        discount=round2(discount),
        tax=float(other - retention),
        retention=float(retention),
        total=float(subtotal + other - retention),
    )


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)
