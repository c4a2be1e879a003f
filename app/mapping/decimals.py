"""Exact decimal conversion for rates and money.

Money never passes through float: YAML floats are read as their source text (see ``yamlload``),
and a float handed in from Python is converted through ``repr`` so ``0.1`` stays ``0.1``. What
is still not exact after that (``0.30000000000000004``, NaN, infinity) is rejected, because a
rate that is not the rate the customer meant would silently shift every total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["CENT", "UNIT_PRICE", "InexactNumber", "gross_of_tax", "net_of_tax", "to_decimal",
           "round_money", "show_number"]

CENT = Decimal("0.01")
# The canonical unit-price scale (schemas: Product.price, InvoiceLine.unit_price, scale 6).
UNIT_PRICE = Decimal("0.000001")


class InexactNumber(ValueError):
    """The value is not a finite decimal with at most the allowed number of places."""


def to_decimal(value: object, *, places: int) -> Decimal:
    """Return ``value`` as a Decimal with at most ``places`` decimal places, or raise.

    Accepts int, Decimal, numeric str and float (via its shortest repr); rejects bool,
    NaN, infinities and anything with more decimal places than ``places``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InexactNumber(f"{type(value).__name__} {value!r} is not a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InexactNumber(f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise InexactNumber(f"{value!r} is not a finite number")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers have an int exponent
    if -exponent > places:
        raise InexactNumber(
            f"{value!r} has {-exponent} decimal places, more than {places}: "
            "probably a float that is not exact"
        )
    return number


def round_money(amount: Decimal) -> Decimal:
    """Round to the cent, half away from zero, as Spanish invoices do."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def net_of_tax(gross: Decimal, rate: Decimal) -> Decimal:
    """A price that includes a tax of ``rate`` percent, without it: ``gross * 100 / (100 + rate)``
    at the canonical unit-price scale, half up.

    Six places keep the shop's price: :func:`gross_of_tax` of the result gives back a gross
    price in cents exactly (the rounding error, at most 0.0000005 x 2, stays far below half a
    cent), so a round trip through a tax-excluded system is an echo, not a new price.
    """
    return (gross * 100 / (100 + rate)).quantize(UNIT_PRICE, rounding=ROUND_HALF_UP)


def gross_of_tax(net: Decimal, rate: Decimal) -> Decimal:
    """The price including a tax of ``rate`` percent, to the cent, half up (the inverse of
    :func:`net_of_tax` for prices in cents)."""
    return round_money(net * (100 + rate) / 100)


def show_number(value: Decimal) -> str:
    """``21`` for 21.00 and ``5.2`` as written, but ``1E+400`` rather than 401 digits.

    Messages quote rates back to the customer; a plain rendering of an absurd exponent would
    bury the message it is part of.
    """
    if not value.is_finite():
        return str(value)
    if value and not -12 <= value.adjusted() < 12:
        return str(value.normalize())
    return format(value.normalize(), "f")
