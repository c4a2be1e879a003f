"""PrestaShop webservice errors and the one boundary where its answers become taxonomy errors.

PrestaShop reports errors in the body, as JSON when ``output_format=JSON`` was understood::

    {"errors": [{"code": 18, "message": "Invalid authentication key"}]}

and as XML otherwise (authentication failures can come before the output format is read)::

    <prestashop><errors><error><code><![CDATA[18]]></code>
        <message><![CDATA[Invalid authentication key]]></message></error></errors></prestashop>

Both land in :func:`check_response`::

    FatalError
     +-- KeyRejected           401 with an empty / unknown / disabled key: nothing to refresh
     +-- PermissionDenied      401 / 403 "Resource of type ... is not allowed": the key lacks a
                               per-resource permission (config; names the resource)
    SkipRecord
     +-- NotFound              404
     +-- Rejected              400 / 405 / 422 and other 4xx: a bad filter, field, body
    RateLimited                429 (a proxy or module in front of PrestaShop; core has no limit)
    RetryableError             5xx, timeouts, dropped connections (reads only: see client)

PrestaShop's error ``code`` numbers are kept on the exception as ``codes``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree

import httpx

from connectors.base.classify import DEFAULT_TABLE, Action, ClassificationTable, Rule, error_for
from connectors.base.classify import parse_retry_after, response_context
from connectors.base.errors import FatalError, Fault, SkipRecord

__all__ = ["SYSTEM", "TABLE", "KeyRejected", "NotFound", "PermissionDenied", "Rejected",
           "check_response", "parse_errors"]

SYSTEM = "prestashop"


class KeyRejected(FatalError):
    """The webservice key is empty, unknown or disabled (or the webservice is off)."""


class PermissionDenied(FatalError):
    """The key exists but lacks the permission for this resource and method."""


class NotFound(SkipRecord):
    """The record does not exist."""


class Rejected(SkipRecord):
    """PrestaShop refused the request (bad filter, unknown field, invalid value)."""


TABLE: ClassificationTable = DEFAULT_TABLE.override({
    400: Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by PrestaShop"),
    401: Rule(Action.FATAL, Fault.CONFIG, KeyRejected,
              "webservice key rejected: check the key and that the webservice is enabled"),
    403: Rule(Action.FATAL, Fault.CONFIG, PermissionDenied,
              "permission denied: give the webservice key this resource and method"),
    404: Rule(Action.SKIP, Fault.DATA, NotFound, "not found"),
    405: Rule(Action.SKIP, Fault.DATA, Rejected, "method not allowed"),
    "4xx": Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by PrestaShop"),
})
# A 401 whose message names a resource is a permission problem, not a bad key.
_RESOURCE_DENIED = re.compile(r"resource of type|not allowed|no permission", re.I)


def parse_errors(content: bytes) -> list[tuple[int | None, str]]:
    """``[(code, message)]`` from a PrestaShop error body (JSON or XML); [] if neither."""
    text = content.strip()
    if not text:
        return []
    if text[:1] in (b"{", b"["):
        try:
            body = json.loads(text)
        except ValueError:
            return []
        items = body.get("errors") if isinstance(body, dict) else None
        return [(_int(e.get("code")), str(e.get("message") or "")) for e in items or []
                if isinstance(e, dict)]
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return []
    return [(_int(e.findtext("code")), (e.findtext("message") or "").strip())
            for e in root.iter("error")]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def check_response(response: httpx.Response, *, secrets: Iterable[str] = ()) -> None:
    """Return on a 2xx answer; raise the taxonomy error for anything else."""
    if response.is_success:
        return
    errors = parse_errors(response.content)
    detail = "; ".join(f"[{code}] {message}" if code is not None else message
                       for code, message in errors)
    status = response.status_code
    if status == 401 and _RESOURCE_DENIED.search(detail):
        status = 403
    context = response_context(SYSTEM, response, tuple(secrets))
    error = error_for(TABLE.lookup(status), context, detail=detail,
                      retry_after=parse_retry_after(response.headers.get("retry-after"),
                                                    response.headers.get("date")))
    error.codes = tuple(code for code, _ in errors if code is not None)  # type: ignore[attr-defined]
    raise error
