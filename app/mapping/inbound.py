"""System code -> canonical code, for a record read from a system, collecting every failure.

The inbound twin of ``app.mapping.resolve.Resolver``: a connector's source mapping asks it for
each code of a record (a tax code, an account, a payment method...), then calls
``raise_if_any``. Either every code resolved, or ``Unmappable`` lists each one that did not,
so the record is parked once with everything the customer has to add to the mapping. Each
connector subclasses it for its own lookups (a tax by its title and rate, a tax rule group).
"""

from __future__ import annotations

from typing import Any

from app.mapping.errors import Unmappable
from app.mapping.model import Mapping
from app.mapping.resolve import SYSTEM_NAMES

__all__ = ["InboundResolver"]


class InboundResolver:
    """Reads the codes of one record of ``system`` into canonical ones under one mapping."""

    def __init__(self, mapping: Mapping, system: str) -> None:
        self.mapping = mapping
        self.system_name = SYSTEM_NAMES.get(system, system)
        self.map = mapping.system(system)  # None: the mapping has no section for the system
        self.reasons: list[str] = []
        if self.map is None:
            self.fail("", f"mapping v{mapping.version} has no section for {self.system_name}")

    def fail(self, where: str, reason: str) -> None:
        self.reasons.append(f"{where}: {reason}" if where else reason)

    def code(self, section: str, system_code: Any, where: str, what: str) -> str | None:
        """The canonical code of ``system_code`` in one section (``accounts``, ``series``...);
        ``what`` names the system's thing in the reason (``G/L account``)."""
        code_map = self.map.section(section) if self.map is not None else None
        canonical = code_map.to_canonical(system_code) if code_map is not None else None
        if canonical is None and self.map is not None:
            self.fail(where, f"{self.system_name} {what} {system_code!r} is not in the "
                      f"{self.map.system} section of mapping v{self.mapping.version}")
        return canonical

    def taxes(self, system_code: str, where: str) -> tuple[list[str], str | None]:
        """(VAT and surcharge codes, withholding code) of one system tax code that stands for
        several canonical taxes (a BC tax group, an SAP VAT group or withholding code)."""
        entry = self.map.taxes.entry(system_code) if self.map is not None else None
        if entry is None:
            if self.map is not None:
                self.fail(where, f"{self.system_name} tax code {system_code!r} is not in the "
                          f"{self.map.system} section of mapping v{self.mapping.version}")
            return [], None
        taxes = [c for c in entry.canonical if not self.mapping.taxes[c].is_withholding]
        withholding = [c for c in entry.canonical if self.mapping.taxes[c].is_withholding]
        return taxes, withholding[0] if withholding else None

    def raise_if_any(self) -> None:
        if self.reasons:
            raise Unmappable(self.reasons, mapping_version=self.mapping.version)
