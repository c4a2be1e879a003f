"""The OData v3 query options the SAP sandbox understands: $filter, $select, $orderby.

Strict on purpose: an unknown property or an operator outside ``eq ne gt ge lt le and or not``
and parentheses is an error in SAP's shape (code -1000 is the sandbox's choice; the codes the
real Service Layer uses for a bad query are UNVERIFIED). Dates and times are strings
(``'2026-11-20'`` or ``datetime'2026-11-20'``, ``'14:05:09'``) compared as text once the
caller's ``literal`` has read them, numbers as Decimal.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["QueryError", "parse_filter", "parse_orderby", "parse_select"]

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<str>(?:datetime)?'(?:[^']|'')*')"
                    r"|(?P<num>-?\d+(?:\.\d+)?)"
                    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*))")
_OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_NULL = object()


class QueryError(ValueError):
    code = -1000


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"Syntax error in $filter at position {pos}: {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":  # 'text', or datetime'...' (the SL manual's date literal)
            out.append(("lit", value[value.index("'") + 1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(("lit", Decimal(value)))
        elif kind == "paren":
            out.append((value, value))
        elif value in ("null", "true", "false"):
            out.append(("lit", {"null": _NULL, "true": True, "false": False}[value]))
        else:
            out.append(("word", value))
    return out


# Levels of parentheses and ``not`` a $filter may nest (SL's own limit is UNVERIFIED; deeper
# than Python's stack allows is refused, the strict reading).
MAX_DEPTH = 100


Literal = Callable[[str, Any], Any]


class _Parser:
    def __init__(self, text: str, fields: Collection[str], literal: Literal) -> None:
        self.toks, self.i, self.fields, self.depth = _tokens(text), 0, fields, 0
        self.literal = literal

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise QueryError("Syntax error in $filter: unexpected end")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.disjunction()
        if self.peek() is not None:
            raise QueryError(f"Syntax error in $filter at token {self.i}")
        return pred

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def unary(self) -> Predicate:
        tok = self.take()
        if tok == ("word", "not") or tok[0] == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(f"$filter is nested deeper than {MAX_DEPTH} levels")
            try:
                if tok[0] != "(":
                    inner = self.unary()
                    return lambda r: not inner(r)
                inner = self.disjunction()
                if self.take()[0] != ")":
                    raise QueryError("Syntax error in $filter: missing ')'")
                return inner
            finally:
                self.depth -= 1
        if tok[0] != "word":
            raise QueryError(f"Syntax error in $filter near {tok[1]!r}")
        name = tok[1]
        if name not in self.fields:
            raise QueryError(f"Property '{name}' is invalid")
        op = self.take()
        if op[0] != "word" or op[1] not in _OPS:
            raise QueryError(f"Operator {op[1]!r} is not supported")
        lit = self.take()
        if lit[0] != "lit":
            raise QueryError(f"Syntax error in $filter: expected a literal after {op[1]}")
        return _compare(name, op[1], self.literal(name, lit[1]))


def _compare(name: str, op: str, literal: Any) -> Predicate:
    def test(record: dict[str, Any]) -> bool:
        value = record.get(name)
        if literal is _NULL or value is None:
            same = (value is None) == (literal is _NULL)
            return same if op == "eq" else (not same) if op == "ne" else False
        if isinstance(literal, Decimal) != isinstance(value, int | float | Decimal) \
                or isinstance(literal, bool) != isinstance(value, bool):
            raise QueryError(f"Property '{name}' compared with a literal of another type")
        if isinstance(literal, Decimal):
            value = Decimal(str(value))
        return bool(_OPS[op](value, literal))
    return test


def parse_filter(text: str | None, fields: Collection[str],
                 literal: Literal = lambda name, value: value) -> Predicate:
    """``literal(property, value)`` reads a literal as the property's values are kept (an
    enumeration's value as its name, a date's other forms as YYYY-MM-DD)."""
    if not text:
        return lambda record: True
    return _Parser(text, fields, literal).parse()


def parse_orderby(text: str | None, fields: Collection[str]) -> list[tuple[str, bool]]:
    """``[(field, descending)]``."""
    order = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        if words[0] not in fields or len(words) > 2 or (
                len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryError(f"Invalid $orderby {part.strip()!r}")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order


def parse_select(text: str | None, fields: Collection[str]) -> Sequence[str] | None:
    """The properties to answer, None for all (no $select, or ``$select=*`` as the SL manual
    shows it)."""
    if not text or text.strip() == "*":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in fields:
            raise QueryError(f"Property '{name}' is invalid in $select")
    return names
