"""An ERP's stock levels in canonical warehouses: which of its warehouses the mapping reads,
and the canonical ``stock`` list they add up to (Odoo, SAP Business One).

Every mapped canonical warehouse is a level, 0 where the item has nothing, so stock that left
a warehouse is reported as 0 there, not left unsaid; quantities at the canonical scale.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping as MappingABC
from decimal import Decimal
from typing import Any, TypeVar

from app.mapping import Mapping

__all__ = ["Q4", "canonical_stock", "mapped_warehouses", "zero_levels"]

Q4 = Decimal("0.0001")  # the canonical scale of quantities
Code = TypeVar("Code")


def mapped_warehouses(mapping: Mapping, system: str, code: Callable[[Any], Code]
                      ) -> dict[Code, str]:
    """The system's warehouse code (as ``code`` reads it) -> canonical warehouse, for the
    warehouses the mapping's section of ``system`` reads."""
    section = mapping.system(system)
    if section is None:
        return {}
    return {code(e.code): e.canonical[0] for e in section.warehouses.entries}


def zero_levels(warehouses: MappingABC[Any, str]) -> dict[str, Decimal]:
    """Each canonical warehouse the map names at 0, in code order."""
    return {code: Decimal(0) for code in sorted(set(warehouses.values()))}


def canonical_stock(totals: MappingABC[str, Decimal]) -> list[dict[str, Any]]:
    """The canonical ``stock`` list of per-warehouse totals."""
    return [{"warehouse": code, "quantity": qty.quantize(Q4).normalize()}
            for code, qty in totals.items()]
