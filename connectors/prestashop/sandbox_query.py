"""List parameters of the PrestaShop sandbox: ``display``, ``filter[...]``, ``sort``, ``limit``,
``date=1``, parsed strictly (an unknown field or a malformed value is a 400) and applied in
Python to a resource's records."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.prestashop.sandbox_schema import RESOURCES

__all__ = ["ApiError", "Query", "php_cast", "php_int", "select"]

DATE_FIELDS = frozenset({"date_add", "date_upd", "invoice_date", "delivery_date"})
_FILTER = re.compile(r"^filter\[(\w+)\]$")
_SORT = re.compile(r"^(\w+)_(ASC|DESC)$")
# The number PHP's (int) reads at the start of a string, after blanks ("1e3" is 1000).
_PHP_NUMBER = re.compile(r"[ \t\n\r\v\f]*([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
PHP_INT_MAX = (1 << 63) - 1


def php_int(digits: str) -> int:
    """ASCII digits as PHP's ``(int)`` reads them: beyond PHP_INT_MAX, PHP_INT_MAX (Python's
    int() refuses over 4,300 digits, SQLite over 64 bits: both answered 500)."""
    digits = digits.lstrip("0") or "0"
    return PHP_INT_MAX if len(digits) > 19 else min(int(digits), PHP_INT_MAX)


def php_cast(text: str) -> int:
    """PHP's ``(int)`` of a string: its leading number, 0 when there is none ("abc", "١"),
    truncated ("1.9" is 1), clamped to PHP's ints (UNVERIFIED for a float beyond them)."""
    match = _PHP_NUMBER.match(text)
    if match is None:
        return 0
    sign, number, exponent = match.groups()
    if exponent is None and "." not in number:
        return -php_int(number) if sign == "-" else php_int(number)
    value = float(sign + number + (exponent or ""))  # inf past a float's range
    if abs(value) >= 2.0 ** 63:
        return PHP_INT_MAX if value > 0 else -PHP_INT_MAX - 1
    return int(value)


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class Query:
    display: tuple[str, ...] | None  # None: ids only; () never; "full" -> every field
    filters: tuple[tuple[str, str], ...]
    sort: tuple[tuple[str, bool], ...]  # (field, descending)
    offset: int
    limit: int | None

    @classmethod
    def parse(cls, resource: str, query: Mapping[str, str], *, ignore_offset: bool = False
              ) -> Query:
        fields = RESOURCES[resource]
        dated = query.get("date") == "1"
        display: tuple[str, ...] | None = None
        if "display" in query:
            raw = query["display"]
            if raw == "full":
                display = fields
            elif raw.startswith("[") and raw.endswith("]"):
                display = tuple(f.strip() for f in raw[1:-1].split(",") if f.strip())
                bad = [f for f in display if f not in fields]
                if bad or not display:
                    raise ApiError(400, 35, f"Unable to display this field \"{','.join(bad)}\". "
                                   f"However, these are available: {', '.join(fields)}")
            else:
                raise ApiError(400, 34, 'The "display" syntax is wrong: use full or [f1,f2]')
        filters = []
        for name, value in query.items():
            match = _FILTER.match(name)
            if match is None:
                continue
            fname = match.group(1)
            if fname not in fields:
                raise ApiError(400, 32, f'Unable to filter by this field "{fname}". However, '
                               f"these are available: {', '.join(fields)}")
            if fname in DATE_FIELDS and not dated:
                raise ApiError(400, 33, f'The "{fname}" field is a date: add date=1 to filter '
                               "on it")
            filters.append((fname, value))
        sort = []
        if "sort" in query:
            raw = query["sort"]
            if not (raw.startswith("[") and raw.endswith("]")):
                raise ApiError(400, 37, 'The "sort" value has to be formed as [field_ASC]')
            for part in raw[1:-1].split(","):
                match = _SORT.match(part.strip())
                if match is None or match.group(1) not in fields:
                    raise ApiError(400, 38, f'Unable to sort by "{part}"')
                if match.group(1) in DATE_FIELDS and not dated:
                    raise ApiError(400, 33, f'Sorting on "{match.group(1)}" needs date=1')
                sort.append((match.group(1), match.group(2) == "DESC"))
        offset, limit = 0, None
        if "limit" in query:
            # WebserviceRequest::manageFilters: more than two parts is error 39, else each
            # part goes to SQL as (int) (limit=abc lists nothing, as LIMIT 0 does).
            parts = query["limit"].split(",")
            if len(parts) > 2:
                raise ApiError(400, 39, 'The "limit" value has to be formed as this example: '
                               '"5,25" or "10"')
            numbers = [php_cast(part) for part in parts]
            if min(numbers) < 0:  # MySQL refuses a negative LIMIT; PrestaShop's answer to
                # that failed query is UNVERIFIED: refused here
                raise ApiError(400, 40, 'The "limit" value has to be formed as N or offset,N')
            offset, limit = (0, numbers[0]) if len(numbers) == 1 else numbers
        return cls(display, tuple(filters), tuple(sort), 0 if ignore_offset else offset, limit)


def _number(value: str) -> Decimal | None:
    """A finite number, else None: ``nan`` is text (Decimal("nan") refuses to be compared; an
    interval or a sort on it answered 500)."""
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _cmp_key(value: Any) -> tuple[int, Any]:
    text = str(value if not isinstance(value, list) else "")
    number = _number(text) if text else None
    return (0, number) if number is not None else (1, text.casefold())


def matches(value: Any, spec: str) -> bool:
    text = str(value) if not isinstance(value, list) else " ".join(
        str(v.get("value", "")) for v in value)
    folded = text.casefold()
    if spec.startswith("%[") and spec.endswith("]%"):
        return spec[2:-2].casefold() in folded
    if spec.startswith("[") and spec.endswith("]%"):
        return folded.startswith(spec[1:-2].casefold())
    if spec.startswith("%[") and spec.endswith("]"):
        return folded.endswith(spec[2:-1].casefold())
    inner = spec[1:-1] if spec.startswith("[") and spec.endswith("]") else spec
    if "|" in inner:
        return any(folded == v.casefold() for v in inner.split("|"))
    if "," in inner:
        low, high = (p.strip() for p in inner.split(",", 1))
        key = _cmp_key(text)
        lo, hi = _cmp_key(low), _cmp_key(high)
        if not (key[0] == lo[0] == hi[0]):
            raise ApiError(400, 36, f"interval [{inner}] does not fit the field's values")
        return lo[1] <= key[1] <= hi[1]
    return folded == inner.casefold()


def select(records: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    rows = [r for r in records if all(matches(r.get(f), spec) for f, spec in query.filters)]
    for name, descending in reversed(query.sort):
        rows.sort(key=lambda r, n=name: _cmp_key(r.get(n)), reverse=descending)
    if query.limit is not None:
        rows = rows[query.offset:query.offset + query.limit]
    if query.display is None:
        return [{"id": r["id"]} for r in rows]
    return [{k: r.get(k, "") for k in ("id", *query.display) if k in r or k == "id"}
            for r in rows]
