"""The in-memory model of a customer's mapping document.

Canonical codes (accounts, taxes, payment methods, treasuries, series, sales channels,
currencies, warehouses) are the customer's own vocabulary; each system section maps that system's codes to
them. Taxes live here as data so that a new VAT rate is a new mapping version, not a release.
Instances are built only by ``app.mapping.loader`` after validation, so they are consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Literal

from app.mapping.errors import Issue

__all__ = [
    "SYSTEMS",
    "TaxKind",
    "TaxScope",
    "TaxRegime",
    "Rounding",
    "ROUNDINGS",
    "Account",
    "Tax",
    "PaymentMethod",
    "Treasury",
    "Warehouse",
    "Series",
    "SalesChannel",
    "SystemEntry",
    "CodeMap",
    "SystemMap",
    "Mapping",
]

SYSTEMS = ("holded", "odoo", "business_central", "sap_b1", "prestashop", "shopify")

# line: each line's tax on the line's amount rounded to the cent, rounded per line.
# line_exact: each line's tax on the line's exact amount (quantity x unit price x (1 - discount),
#   unrounded), rounded per line; how Holded is modelled (docs/mappings.md, section 4).
# document: the rounded line amounts summed per tax code, each tax rounded once.
Rounding = Literal["line", "line_exact", "document"]
ROUNDINGS: tuple[Rounding, ...] = ("line", "line_exact", "document")
SystemCode = str | int


class TaxKind(str, Enum):
    VAT = "vat"
    EQUIVALENCE_SURCHARGE = "equivalence_surcharge"
    WITHHOLDING = "withholding"


class TaxScope(str, Enum):
    SALES = "sales"
    PURCHASES = "purchases"


class TaxRegime(str, Enum):
    GENERAL = "general"
    INTRA_EU = "intra_eu"
    REVERSE_CHARGE = "reverse_charge"
    EXPORT = "export"
    EXEMPT = "exempt"
    NOT_SUBJECT = "not_subject"


@dataclass(frozen=True, slots=True)
class Account:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Tax:
    """A canonical tax; withholdings (IRPF) are taxes of kind ``withholding`` with a positive rate."""

    code: str
    name: str
    rate: Decimal
    kind: TaxKind
    scope: TaxScope
    regime: TaxRegime
    account: str | None = None

    @property
    def is_withholding(self) -> bool:
        return self.kind is TaxKind.WITHHOLDING


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    code: str
    name: str
    treasury: str | None = None


@dataclass(frozen=True, slots=True)
class Treasury:
    code: str
    name: str
    account: str
    iban: str | None = None


@dataclass(frozen=True, slots=True)
class Series:
    code: str
    name: str
    doc_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SalesChannel:
    code: str
    name: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Warehouse:
    """A place stock is counted in; a product's ``stock`` levels name these codes."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class SystemEntry:
    """One system code and the canonical code(s) it stands for.

    Several canonical codes may be sent as one system code (the first is what it reads back as);
    several system codes may stand for one canonical code, and then ``outbound`` picks the one to
    write. ``rate`` is the system's own rate, checked against the canonical tax; ``title`` is the
    Shopify tax-line title, matched together with the rate.
    """

    code: SystemCode
    canonical: tuple[str, ...]
    rate: Decimal | None = None
    outbound: bool | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class CodeMap:
    """Both directions between one system's codes and canonical codes, for one kind of code."""

    entries: tuple[SystemEntry, ...] = ()
    _inbound: dict[SystemCode, str] = field(init=False, repr=False, compare=False)
    _outbound: dict[str, SystemCode] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        inbound = {e.code: e.canonical[0] for e in self.entries if e.canonical}
        candidates: dict[str, list[SystemEntry]] = {}
        for entry in self.entries:
            for code in entry.canonical:
                candidates.setdefault(code, []).append(entry)
        outbound: dict[str, SystemCode] = {}
        for code, entries in candidates.items():
            chosen = [e for e in entries if e.outbound] if len(entries) > 1 else entries
            if len(chosen) == 1:  # ambiguity is reported by the validator, never guessed here
                outbound[code] = chosen[0].code
        object.__setattr__(self, "_inbound", inbound)
        object.__setattr__(self, "_outbound", outbound)

    def to_canonical(self, system_code: SystemCode) -> str | None:
        return self._inbound.get(system_code)

    def to_system(self, canonical_code: str) -> SystemCode | None:
        return self._outbound.get(canonical_code)

    def entry(self, system_code: SystemCode) -> SystemEntry | None:
        return next((e for e in self.entries if e.code == system_code), None)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True, slots=True)
class SystemMap:
    """How one system's codes map to canonical codes, and how that system rounds taxes."""

    system: str
    rounding: Rounding = "line"
    taxes: CodeMap = CodeMap()
    accounts: CodeMap = CodeMap()
    payment_methods: CodeMap = CodeMap()
    treasuries: CodeMap = CodeMap()
    series: CodeMap = CodeMap()
    sales_channels: CodeMap = CodeMap()
    warehouses: CodeMap = CodeMap()
    currencies: CodeMap | None = None  # None: the system uses ISO codes as they are
    tax_regimes: CodeMap = CodeMap()
    # Holded only: Holded account number (an integer, e.g. 70500000) -> canonical account, for
    # the fields that take a number rather than an id (a contact's default accounts).
    account_numbers: CodeMap = CodeMap()
    # Shopify only: the key of ``taxes`` (a sales VAT) a product without its own VAT (the
    # holded_sync.tax metafield) is taken to carry; None: such a product has no VAT.
    default_product_tax: SystemCode | None = None
    # Business Central and PrestaShop only: the canonical warehouse their single stock figure
    # per product is counted in (an item's total reported; the shop's quantity for sale set
    # from that warehouse's level). None: Business Central items report no stock, PrestaShop's
    # stock is not written.
    stock_warehouse: str | None = None

    def section(self, name: str) -> CodeMap | None:
        return getattr(self, name) if name in _SECTIONS else None


_SECTIONS = frozenset(
    ("taxes", "accounts", "payment_methods", "treasuries", "series", "sales_channels",
     "warehouses", "currencies", "tax_regimes", "account_numbers")
)


@dataclass(frozen=True, slots=True)
class Mapping:
    """One published version of a customer's mapping document."""

    version: int
    source: str
    accounts: dict[str, Account]
    taxes: dict[str, Tax]
    payment_methods: dict[str, PaymentMethod]
    treasuries: dict[str, Treasury]
    series: dict[str, Series]
    sales_channels: dict[str, SalesChannel]
    currencies: tuple[str, ...]
    systems: dict[str, SystemMap]
    name: str = ""
    base_currency: str = "EUR"
    # What validation accepted but will park records (printed by `mappings validate`).
    warnings: tuple[Issue, ...] = field(default=(), compare=False)
    # Optional: only a deployment that syncs stock levels defines warehouses.
    warehouses: dict[str, Warehouse] = field(default_factory=dict)

    def system(self, name: str) -> SystemMap | None:
        return self.systems.get(name)

    @property
    def withholdings(self) -> dict[str, Tax]:
        return {code: tax for code, tax in self.taxes.items() if tax.is_withholding}
