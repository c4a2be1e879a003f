"""The OData v4 subset the BC sandbox understands, strictly: ``$filter`` (eq ne gt ge lt le,
and / or / not, parentheses), ``$orderby``, ``$top``, ``$skip``, ``$expand``, ``$skiptoken``.

Literals are typed as BC types them: a DateTimeOffset is bare (``2024-01-01T00:00:00Z``), a
string is quoted, a GUID is bare. Comparing a property with a literal of another type is a
400, as in BC (``'2024-01-01T00:00:00Z'`` quoted against ``lastModifiedDateTime`` fails).
Anything outside the subset is refused with a 400, never silently ignored.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["GUID_RE", "ODataError", "bad", "sort_records", "Query", "compile_filter", "parse_query", "TYPE_NAMES"]

Record = dict[str, Any]
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
Predicate = Callable[[Record], bool]

# Property types: s string, g guid, d date, t DateTimeOffset, n decimal, i integer, b boolean.
TYPE_NAMES = {"s": "Edm.String", "g": "Edm.Guid", "d": "Edm.Date", "t": "Edm.DateTimeOffset",
              "n": "Edm.Decimal", "i": "Edm.Int32", "b": "Edm.Boolean"}
_OPS = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
        "lt": "LessThan", "le": "LessThanOrEqual"}
_KNOWN_OPTIONS = {"$filter", "$top", "$skip", "$orderby", "$expand", "$skiptoken", "$select",
                  "$count", "$schemaversion", "tenant", "company"}


class ODataError(Exception):
    """An answer in BC's error shape: ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": f"{self.message}  CorrelationId:  "
                          "00000000-0000-0000-0000-000000000000."}}


def bad(message: str, code: str = "BadRequest") -> ODataError:
    return ODataError(400, code, message)


_TOKEN = re.compile(r"""\s*(?:
    (?P<lp>\() | (?P<rp>\)) |
    (?P<str>'(?:[^']|'')*') |
    (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})) |
    (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}) |
    (?P<date>\d{4}-\d{2}-\d{2}) |
    (?P<num>-?\d+(?:\.\d+)?) |
    (?P<word>[A-Za-z_][A-Za-z0-9_]*)
)""", re.VERBOSE)


@dataclass(frozen=True, slots=True)
class _Lit:
    kind: str  # one of the property type letters
    value: Any


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise bad(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


# ODataLib refuses an expression nested deeper than its limit (800); Python's stack is
# shallower, so the sandbox refuses at 100 levels of parentheses and ``not`` (stricter).
MAX_DEPTH = 100


class _Parser:
    def __init__(self, text: str, types: Mapping[str, str], entity: str) -> None:
        self.tokens, self.pos, self.depth = _tokens(text), 0, 0
        self.types, self.entity, self.text = types, entity, text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise bad(f"Expression expected at the end of '{self.text}'.")
        self.pos += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1] in words:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise bad(f"Syntax error: unexpected '{self.peek()[1]}' in '{self.text}'.")  # type: ignore[index]
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.word("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.word("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def unary(self) -> Predicate:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise bad("The recursion limit has been exceeded.")
        try:
            if self.word("not"):
                inner = self.unary()
                return lambda r: not inner(r)
            token = self.peek()
            if token is not None and token[0] == "lp":
                self.take()
                inner = self.or_expr()
                if self.take()[0] != "rp":
                    raise bad(f"')' expected in '{self.text}'.")
                return inner
            return self.comparison()
        finally:
            self.depth -= 1

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "word":
            raise bad(f"A property name was expected in '{self.text}'.")
        if name not in self.types:
            raise bad(f"Could not find a property named '{name}' on type "
                      f"'Microsoft.NAV.{self.entity}'.")
        kind, op = self.take()
        if kind != "word" or op not in _OPS:
            raise bad(f"Operator '{op}' is not supported in '{self.text}'.")
        literal = self.literal()
        ptype = self.types[name]
        if literal.kind != "null" and not _compatible(ptype, literal.kind):
            raise bad("A binary operator with incompatible types was detected. Found operand "
                      f"types '{TYPE_NAMES[ptype]}' and '{TYPE_NAMES.get(literal.kind, 'Edm.Unknown')}' "
                      f"for operator kind '{_OPS[op]}'.")
        return _compare(name, op, ptype, literal)

    def literal(self) -> _Lit:
        kind, text = self.take()
        if kind == "str":
            return _Lit("s", text[1:-1].replace("''", "'"))
        if kind in ("dt", "date"):
            edm = "Edm.DateTimeOffset" if kind == "dt" else "Edm.Date"
            try:
                if kind == "dt":
                    return _Lit("t", parse_datetime(text))
                return _Lit("d", dt.date.fromisoformat(text))
            except ValueError:  # 2024-13-45, 0000-01-01, 2024-02-30: no day of the calendar
                raise bad(f"Unrecognized '{edm}' literal '{text}' in '{self.text}'.") from None
        if kind == "guid":
            return _Lit("g", text.lower())
        if kind == "num":
            return _Lit("i" if "." not in text else "n", Decimal(text))
        if kind == "word" and text in ("true", "false"):
            return _Lit("b", text == "true")
        if kind == "word" and text == "null":
            return _Lit("null", None)
        raise bad(f"A literal was expected in '{self.text}', found '{text}'.")


def _compatible(ptype: str, lit: str) -> bool:
    if ptype in ("n", "i"):
        return lit in ("n", "i")
    return ptype == lit


def _value(record: Record, name: str, ptype: str) -> Any:
    raw = record.get(name)
    if raw is None:
        return None
    if ptype == "t":
        return parse_datetime(str(raw))
    if ptype == "d":
        return dt.date.fromisoformat(str(raw))
    if ptype in ("n", "i"):
        return Decimal(str(raw))
    if ptype == "g":
        return str(raw).lower()
    return raw


def _compare(name: str, op: str, ptype: str, literal: _Lit) -> Predicate:
    def check(record: Record) -> bool:
        left, right = _value(record, name, ptype), literal.value
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if left is None or right is None:
            return False
        return {"gt": left > right, "ge": left >= right, "lt": left < right,
                "le": left <= right}[op]
    return check


def parse_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def compile_filter(text: str, types: Mapping[str, str], entity: str) -> Predicate:
    return _Parser(text, types, entity).parse()


@dataclass(frozen=True, slots=True)
class Query:
    filter: Predicate | None = None
    top: int | None = None
    skip: int = 0
    orderby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    expand: tuple[str, ...] = ()
    skiptoken: int = 0
    select: tuple[str, ...] = ()  # empty: every property


# What .NET's long.TryParse takes, which ODataLib reads $top and $skip with: ASCII digits
# with an optional sign and blanks around them, within Int64. Python's int() also takes "1_0"
# and digits of other scripts ("\u0661"), and any size; BC answers 400 to those.
_NET_LONG = re.compile(r"[\t\n\v\f\r ]*([+-]?)0*([0-9]{1,20})[\t\n\v\f\r ]*")
_INT64 = 2 ** 63


def _int(value: str, option: str) -> int:
    match = _NET_LONG.fullmatch(value)
    number = int(match.group(1) + match.group(2)) if match else None
    if number is None or not 0 <= number < _INT64:
        raise bad(f"Invalid value '{value}' for {option}: a non-negative integer is expected.")
    return number


def parse_query(params: Mapping[str, str], types: Mapping[str, str], entity: str,
                expandable: tuple[str, ...] = ()) -> Query:
    seen: set[str] = set()
    for name, _ in params.items():  # a MultiDict (request.query) yields every pair
        if not name.startswith("$"):
            continue
        if name not in _KNOWN_OPTIONS:
            raise bad(f"The query parameter '{name}' is not supported.")
        if name in seen:  # ODataLib's QueryOptionUtils_QueryParameterMustBeSpecifiedOnce
            raise bad(f"Query option '{name}' was specified more than once, but it must be "
                      "specified at most once.")
        seen.add(name)
    predicate = compile_filter(params["$filter"], types, entity) if params.get("$filter") else None
    orderby = []
    for part in filter(None, (p.strip() for p in params.get("$orderby", "").split(","))):
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower()
        if name not in types or direction not in ("", "asc", "desc"):
            raise bad(f"Could not find a property named '{name}' on type "
                      f"'Microsoft.NAV.{entity}'." if name not in types else
                      f"Invalid $orderby direction '{direction}'.")
        orderby.append((name, direction == "desc"))
    expand = tuple(filter(None, (p.strip() for p in params.get("$expand", "").split(","))))
    for name in expand:
        if name not in expandable:
            raise bad(f"Could not find a property named '{name}' on type "
                      f"'Microsoft.NAV.{entity}'.")
    select = tuple(filter(None, (p.strip() for p in params.get("$select", "").split(","))))
    for name in select:  # ODataLib binds each name to the type: an unknown one is a 400
        if name != "*" and name not in types and name not in expandable:
            raise bad(f"Could not find a property named '{name}' on type "
                      f"'Microsoft.NAV.{entity}'.")
    if "*" in select:
        select = ()
    count = params.get("$count")
    # ODataLib's ParseCount takes "true" or "false" (trimmed) only. What BC answers to
    # $count=true (an @odata.count?) is UNVERIFIED: the sandbox checks it and adds none.
    if count is not None and count.strip() not in ("true", "false"):
        raise bad(f"'{count}' is not a valid count option.")
    skiptoken_text = params.get("$skiptoken", "0")
    # Only a token this sandbox issues (a count of records already sent) is valid; a forged
    # negative one would move the page start backwards.
    if not re.fullmatch(r"[0-9]{1,18}", skiptoken_text):
        raise bad("The skip token is not valid.")
    skiptoken = int(skiptoken_text)
    return Query(predicate, _int(params["$top"], "$top") if "$top" in params else None,
                 _int(params.get("$skip", "0"), "$skip"), tuple(orderby), expand, skiptoken,
                 select)


def sort_records(records: list[Record], orderby: tuple[tuple[str, bool], ...],
                 types: Mapping[str, str]) -> list[Record]:
    """Stable multi-key sort; missing values sort first, as SQL nulls do in BC."""
    out = list(records)
    for name, descending in reversed(orderby):
        ptype = types[name]
        out.sort(key=lambda r: (_value(r, name, ptype) is not None,
                                _value(r, name, ptype) if _value(r, name, ptype) is not None
                                else 0), reverse=descending)
    return out


def check_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
