"""Odoo domains, evaluated in Python over stored records, and the sandbox's ORM exceptions.

A domain is Polish notation: ``['|', ('a', '=', 1), '!', ('b', 'in', [2, 3])]``; leaves not
joined by an operator are implicitly AND-ed. Operators: ``= != > >= < <= in not in like
ilike not like not ilike =like =ilike``. Dotted paths follow many2one fields
(``('partner_id.vat', '=', 'ESB...')``). Anything else is rejected as Odoo rejects it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["AccessDenied", "AccessError", "MissingError", "OdooError", "UserError",
           "ValidationError", "ServerError", "evaluate", "normalize_domain"]


class OdooError(Exception):
    """An exception the sandbox reports as an Odoo fault. ``name`` is Odoo's class path."""

    name = "odoo.exceptions.UserError"
    fault_code = 2  # XML-RPC faultCode (odoo/addons/base/controllers/rpc.py)
    http_status = 422  # JSON-2 status

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(OdooError):
    pass


class ValidationError(OdooError):
    name = "odoo.exceptions.ValidationError"


class MissingError(OdooError):
    name = "odoo.exceptions.MissingError"
    http_status = 404


class AccessError(OdooError):
    name = "odoo.exceptions.AccessError"
    fault_code = 4
    http_status = 403


class AccessDenied(OdooError):
    name = "odoo.exceptions.AccessDenied"
    fault_code = 3
    http_status = 401

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class ServerError(OdooError):
    """Anything else (ValueError, KeyError...): XML-RPC faultCode 1 with a traceback text."""

    name = "builtins.ValueError"
    fault_code = 1
    http_status = 500

    @classmethod
    def of(cls, exc: Exception, where: str) -> ServerError:
        """Any other exception of a method, as Odoo reports one: named after its class (a
        builtin's, ``builtins.KeyError``; the store's own errors stand for PostgreSQL's and
        read as ``builtins.ValueError``)."""
        error = cls(f"{where}: {exc}")
        if type(exc).__module__ == "builtins":
            error.name = f"builtins.{type(exc).__name__}"
        return error


Getter = Callable[[dict[str, Any], str], Any]
_OPS = ("=", "!=", ">", ">=", "<", "<=", "in", "not in", "like", "ilike", "not like",
        "not ilike", "=like", "=ilike")


def normalize_domain(domain: Any) -> list[Any]:
    """Check the shape; return a list with explicit '&' for implicit ANDs."""
    if domain in (None, False):
        return []
    if not isinstance(domain, list | tuple):
        raise ServerError(f"Invalid domain {domain!r}")
    items = list(domain)
    expected = 1
    out: list[Any] = []
    for item in items:
        if expected == 0:  # implicit AND of consecutive terms
            out.insert(0, "&")
            expected = 1
        if item in ("&", "|"):
            expected += 1
        elif item == "!":
            pass
        elif isinstance(item, list | tuple) and len(item) == 3 and isinstance(item[0], str):
            if item[1] not in _OPS:
                raise ServerError(f"Invalid leaf {list(item)!r}: unknown operator {item[1]!r}")
            expected -= 1
        elif item in (True, False) or item in ([1, "=", 1], [0, "=", 1]):
            expected -= 1
        else:
            raise ServerError(f"Invalid leaf {item!r}")
        out.append(tuple(item) if isinstance(item, list) else item)
    if items and expected != 0:
        raise ServerError(f"Invalid domain {domain!r}: operators and terms do not match")
    return out


def evaluate(domain: list[Any], record: dict[str, Any], get: Getter) -> bool:
    if not domain:
        return True
    value, rest = _eval(domain, 0, record, get)
    return value


def _eval(domain: list[Any], i: int, record: dict[str, Any], get: Getter) -> tuple[bool, int]:
    item = domain[i]
    if item == "!":
        value, j = _eval(domain, i + 1, record, get)
        return not value, j
    if item in ("&", "|"):
        left, j = _eval(domain, i + 1, record, get)
        right, k = _eval(domain, j, record, get)
        return (left and right) if item == "&" else (left or right), k
    if item is True or item is False:
        return bool(item), i + 1
    name, op, wanted = item
    return _leaf(get(record, name), op, wanted), i + 1


def _like(pattern: str, value: Any, insensitive: bool, exact: bool) -> bool:
    if value in (None, False):
        return False
    if exact:
        regex = "^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$"
    else:
        regex = re.escape(pattern)
    return re.search(regex, str(value), re.I if insensitive else 0) is not None


def _leaf(value: Any, op: str, wanted: Any) -> bool:
    if isinstance(value, list) and op in ("=", "!=", "in", "not in"):  # x2many: any match
        values = value
    else:
        values = None
    if op == "=":
        if wanted is False and value in (None, False, []):
            return True
        return wanted in values if values is not None else _norm(value) == _norm(wanted)
    if op == "!=":
        return not _leaf(value, "=", wanted)
    if op in ("in", "not in"):
        if not isinstance(wanted, list | tuple):
            raise ServerError(f"The domain term '{op}' needs a list, got {wanted!r}")
        pool = [_norm(w) for w in wanted]
        found = (any(v in pool for v in values) if values is not None
                 else _norm(value) in pool or (value in (None, False) and False in wanted))
        return found if op == "in" else not found
    if op in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        insensitive = "ilike" in op
        hit = _like(str(wanted), value, insensitive, op.startswith("="))
        return not hit if op.startswith("not") else hit
    if value in (None, False):
        return False
    left, right = _norm(value), _norm(wanted)
    try:
        return {">": left > right, ">=": left >= right, "<": left < right,
                "<=": left <= right}[op]
    except TypeError as exc:
        raise ServerError(f"cannot compare {value!r} {op} {wanted!r}") from exc


def _norm(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
        return value[0]  # many2one as read: [id, name]
    return value
