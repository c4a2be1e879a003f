"""Canonical code -> system code, collecting every failure instead of stopping at the first.

A connector's mapping module asks a ``Resolver`` for each code of a record, then calls
``raise_if_any``: either every code resolved, or ``Unmappable`` lists each one that did not, so a
parked command says everything the customer has to add to the mapping at once. There is no
fallback and no "closest" tax: a missing code is a reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.mapping.errors import Unmappable
from app.mapping.model import Mapping, SystemMap, Tax, TaxKind, TaxScope
from app.mapping.totals import AppliedTax

__all__ = ["SYSTEM_NAMES", "Resolver"]

SYSTEM_NAMES = {
    "holded": "Holded", "odoo": "Odoo", "business_central": "Business Central",
    "sap_b1": "SAP B1", "prestashop": "PrestaShop", "shopify": "Shopify",
}
_WHAT = {
    "accounts": "account", "payment_methods": "payment method", "treasuries": "treasury",
    "series": "series", "sales_channels": "sales channel", "currencies": "currency",
    "tax_regimes": "tax regime", "warehouses": "warehouse",
}
_CANONICAL = {
    "accounts": "accounts", "payment_methods": "payment_methods", "treasuries": "treasuries",
    "series": "series", "sales_channels": "sales_channels", "warehouses": "warehouses",
}


class Resolver:
    """Resolves canonical codes of one record for one target system under one mapping version."""

    def __init__(self, mapping: Mapping, system: str) -> None:
        self.mapping = mapping
        self.system_name = SYSTEM_NAMES.get(system, system)
        target = mapping.system(system)
        self.target: SystemMap = target if target is not None else SystemMap(system)
        self.reasons: list[str] = []
        if target is None:
            self.fail("", f"mapping v{mapping.version} has no section for {self.system_name}")

    def fail(self, where: str, reason: str) -> None:
        self.reasons.append(f"{where}: {reason}" if where else reason)

    def tax(self, code: str, where: str, *, kinds: Iterable[TaxKind], scope: TaxScope
            ) -> tuple[Tax, str | int] | None:
        """The canonical tax and its system code, if it exists, fits, and is mapped."""
        v = self.mapping.version
        tax = self.mapping.taxes.get(code)
        if tax is None:
            self.fail(where, f"canonical tax {code!r} is not in mapping v{v}")
            return None
        kinds = tuple(kinds)
        if tax.kind not in kinds or tax.scope is not scope:
            self.fail(where, f"canonical tax {code!r} is a {tax.scope.value} {tax.kind.value} "
                      f"tax, expected a {scope.value} " + " or ".join(k.value for k in kinds))
            return None
        system_code = self.target.taxes.to_system(code)
        if system_code is None:
            self.fail(where, f"canonical tax {code!r} has no {self.system_name} key "
                      f"in mapping v{v}")
            return None
        return tax, system_code

    def applied(self, code: str, where: str, *, kinds: Iterable[TaxKind], scope: TaxScope
                ) -> tuple[AppliedTax, str | int] | None:
        found = self.tax(code, where, kinds=kinds, scope=scope)
        if found is None:
            return None
        tax, system_code = found
        return AppliedTax(tax.code, tax.rate, tax.is_withholding), system_code

    def code(self, section: str, canonical: str, where: str) -> str | int | None:
        """System code for an account, payment method, treasury, series, channel, regime or
        warehouse."""
        v = self.mapping.version
        what = _WHAT[section]
        if section in _CANONICAL and canonical not in getattr(self.mapping, _CANONICAL[section]):
            self.fail(where, f"canonical {what} {canonical!r} is not in mapping v{v}")
            return None
        code_map = self.target.section(section)
        system_code = code_map.to_system(canonical) if code_map is not None else None
        if system_code is None:
            self.fail(where, f"canonical {what} {canonical!r} has no {self.system_name} "
                      f"{what} in mapping v{v}")
        return system_code

    def account_number(self, canonical: str, where: str) -> int | None:
        """The system's number for a canonical account (``account_numbers``), for fields that
        take an account number rather than an id: a Holded contact's default accounts."""
        v = self.mapping.version
        if canonical not in self.mapping.accounts:
            self.fail(where, f"canonical account {canonical!r} is not in mapping v{v} "
                      "(expected an account of the document's accounts)")
            return None
        number = self.target.account_numbers.to_system(canonical)
        if number is None:
            self.fail(where, f"canonical account {canonical!r} has no {self.system_name} "
                      f"account number in mapping v{v} (expected an entry under "
                      f"systems.{self.target.system}.account_numbers, e.g. "
                      f"<{self.system_name} account number>: {canonical!r})")
            return None
        return int(number)

    def currency(self, iso: str, where: str) -> str | None:
        """The currency as the system writes it; must be one of the mapping's currencies."""
        if iso not in self.mapping.currencies:
            self.fail(where, f"currency {iso!r} is not in mapping v{self.mapping.version} "
                      f"(currencies: {', '.join(self.mapping.currencies)})")
            return None
        if self.target.currencies is None:
            return iso
        system_code = self.target.currencies.to_system(iso)
        if system_code is None:
            self.fail(where, f"currency {iso!r} has no {self.system_name} currency "
                      f"in mapping v{self.mapping.version}")
            return None
        return str(system_code)

    def raise_if_any(self) -> None:
        if self.reasons:
            raise Unmappable(self.reasons, mapping_version=self.mapping.version)
