"""Line bases, taxes and totals, rounded per line or per document.

Systems disagree on where to round: per line (Odoo's default, PrestaShop, Holded) or once per tax
code over the whole document (Business Central, SAP B1, Odoo's round_globally). The same document
can differ by a cent between the two, so each target system's ``rounding`` setting decides, and a
sink verifies the read-back against what this module computed.

Line bases are always rounded to the cent for the subtotal, because every system shows them per
line. The tax of a line is taken from that rounded base (``line``, ``document``) or from the
line's exact amount (``line_exact``): a unit price netted from a tax-included price (8.264463 for
10.00 at 21 %) gives 8.26 + 1.74 = 10.00 taxed exactly, but 8.26 + 1.73 = 9.99 taxed on 8.26.
``total = subtotal + tax_total - withholding_total``.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.mapping.decimals import round_money
from app.mapping.errors import TotalsMismatch
from app.mapping.model import Rounding

__all__ = ["AppliedTax", "TaxedLine", "TaxAmount", "Totals", "line_amount", "line_base",
           "compute_totals", "check_totals"]

HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class AppliedTax:
    """A tax as applied to a line: its canonical code, its rate in %, and whether it withholds."""

    code: str
    rate: Decimal
    withholding: bool = False


@dataclass(frozen=True, slots=True)
class TaxedLine:
    line_no: int
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal
    taxes: tuple[AppliedTax, ...]

    @property
    def base(self) -> Decimal:
        return line_base(self.quantity, self.unit_price, self.discount_pct)

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price, self.discount_pct)


@dataclass(frozen=True, slots=True)
class TaxAmount:
    """One tax code's base and amount over the document."""

    code: str
    rate: Decimal
    base: Decimal
    amount: Decimal
    withholding: bool


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Decimal
    tax_total: Decimal
    withholding_total: Decimal
    total: Decimal
    rounding: Rounding
    taxes: tuple[TaxAmount, ...] = ()

    def as_dict(self) -> dict[str, Decimal]:
        """The four amounts of the canonical Totals record."""
        return {"subtotal": self.subtotal, "tax_total": self.tax_total,
                "withholding_total": self.withholding_total, "total": self.total}


def line_amount(quantity: Decimal, unit_price: Decimal, discount_pct: Decimal) -> Decimal:
    """quantity * unit_price * (1 - discount/100), exact (what ``line_exact`` taxes)."""
    return quantity * unit_price * (1 - discount_pct / HUNDRED)


def line_base(quantity: Decimal, unit_price: Decimal, discount_pct: Decimal) -> Decimal:
    """quantity * unit_price * (1 - discount/100), rounded to the cent (half up)."""
    return round_money(line_amount(quantity, unit_price, discount_pct))


def compute_totals(lines: Sequence[TaxedLine], rounding: Rounding) -> Totals:
    """Totals of a document under the given rounding; pure and exact (Decimal only)."""
    bases: dict[str, Decimal] = {}
    amounts: dict[str, Decimal] = {}
    applied: dict[str, AppliedTax] = {}
    for line in lines:
        base = line.base
        for tax in line.taxes:
            applied.setdefault(tax.code, tax)
            bases[tax.code] = bases.get(tax.code, ZERO) + base
            if rounding != "document":
                taxed = line.amount if rounding == "line_exact" else base
                amount = round_money(taxed * tax.rate / HUNDRED)
                amounts[tax.code] = amounts.get(tax.code, ZERO) + amount
    if rounding == "document":
        amounts = {code: round_money(bases[code] * applied[code].rate / HUNDRED) for code in bases}
    breakdown = tuple(
        TaxAmount(code, tax.rate, bases[code], amounts[code], tax.withholding)
        for code, tax in applied.items()
    )
    subtotal = sum((line.base for line in lines), ZERO)
    tax_total = sum((t.amount for t in breakdown if not t.withholding), ZERO)
    withholding_total = sum((t.amount for t in breakdown if t.withholding), ZERO)
    return Totals(subtotal, tax_total, withholding_total,
                  subtotal + tax_total - withholding_total, rounding, breakdown)


def check_totals(source: MappingABC[str, Decimal], computed: Totals, *,
                 mapping_version: int | None = None) -> None:
    """Raise TotalsMismatch when any amount differs from the source's totals to the cent."""
    differences = {
        name: (round_money(Decimal(source[name])), mapped)
        for name, mapped in computed.as_dict().items()
        if round_money(Decimal(source[name])) != mapped
    }
    if differences:
        raise TotalsMismatch(differences, mapping_version=mapping_version,
                             rounding=computed.rounding, mapped=computed.as_dict())
