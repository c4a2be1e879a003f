"""Shopify errors and the one boundary where Admin API answers become taxonomy errors.

    SkipRecord
     +-- NotFound              the node does not exist (``null`` node, REST 404)
     +-- Rejected              GraphQL ``errors`` about the query or its variables, or 4xx
     +-- UserErrors            a mutation answered ``userErrors`` (validation of our input)
    FatalError
     +-- AccessDenied          401 / 403 / ``ACCESS_DENIED``: the token is wrong, revoked or
                               lacks a scope. Shopify tokens are static: nothing to refresh.
    RateLimited                HTTP 429 (``Retry-After``) or a GraphQL ``THROTTLED`` error,
                               whose wait is computed from ``extensions.cost``
    RetryableError             5xx, ``INTERNAL_SERVER_ERROR``, network, invalid JSON

:func:`check_response` is what the transport calls on every answer, GraphQL errors included
(Shopify answers them with HTTP 200). :func:`check_user_errors` is called on a mutation's
payload by :meth:`client.ShopifyClient.mutate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from connectors.base.classify import DEFAULT_TABLE, Action, ClassificationTable, Rule, error_for
from connectors.base.classify import parse_retry_after, response_context, response_json
from connectors.base.errors import (
    ErrorContext,
    FatalError,
    Fault,
    RateLimited,
    RetryableError,
    SkipRecord,
    redact,
)

__all__ = ["SYSTEM", "TABLE", "AccessDenied", "NotFound", "Rejected", "UserErrors",
           "check_response", "check_user_errors", "throttle_wait"]

SYSTEM = "shopify"


class NotFound(SkipRecord):
    """The record does not exist (or no longer does)."""


class Rejected(SkipRecord):
    """Shopify refused the request (bad query, bad variables, 4xx)."""


class UserErrors(SkipRecord):
    """A mutation's ``userErrors``: Shopify validated our input and refused it."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, Any]] = (), **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors = [dict(e) for e in errors]


class AccessDenied(FatalError):
    """The access token is invalid, revoked, or lacks the scope this call needs."""


TABLE: ClassificationTable = DEFAULT_TABLE.override({
    400: Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by Shopify"),
    # A Shopify access token cannot be refreshed by the client (offline tokens are static;
    # client-credentials tokens are re-issued by the app, not here): a 401 is fatal at once.
    401: Rule(Action.FATAL, Fault.CONFIG, AccessDenied,
              "Shopify access token rejected: reinstall the app or issue a new token"),
    402: Rule(Action.FATAL, Fault.CONFIG, AccessDenied, "the shop is frozen (payment required)"),
    403: Rule(Action.FATAL, Fault.CONFIG, AccessDenied,
              "access denied: the app lacks an access scope for this call"),
    404: Rule(Action.SKIP, Fault.DATA, NotFound, "not found"),
    423: Rule(Action.FATAL, Fault.CONFIG, AccessDenied, "the shop is locked"),
    "4xx": Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by Shopify"),
})


def throttle_wait(body: Any, requested: float | None = None) -> float | None:
    """Seconds until the bucket holds the requested cost again, from ``extensions.cost``."""
    cost = ((body or {}).get("extensions") or {}).get("cost") if isinstance(body, dict) else None
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus") or {}
    try:
        need = float(requested if requested is not None else cost.get("requestedQueryCost") or 0)
        have, rate = float(status["currentlyAvailable"]), float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (need - have) / rate) if rate > 0 else None


def _codes(errors: Sequence[Any]) -> list[str]:
    return [str(((e or {}).get("extensions") or {}).get("code") or "") for e in errors
            if isinstance(e, dict)]


def check_response(response: httpx.Response, table: ClassificationTable = TABLE, *,
                   secrets: Iterable[str] = ()) -> None:
    """Return on success; raise the taxonomy error for a failed HTTP or GraphQL answer."""
    secrets = tuple(secrets)
    body = response_json(response)
    if not response.is_success:
        detail = ""
        if isinstance(body, dict) and body.get("errors"):
            detail = redact(str(body["errors"]), secrets)[:200]
        raise error_for(table.lookup(response.status_code),
                        response_context(SYSTEM, response, secrets),
                        detail=detail,
                        retry_after=parse_retry_after(response.headers.get("retry-after"),
                                                      response.headers.get("date")))
    if not isinstance(body, dict) or not body.get("errors"):
        return
    errors = body["errors"] if isinstance(body["errors"], list) else [{"message": body["errors"]}]
    codes = _codes(errors)
    message = redact("; ".join(str(e.get("message", e)) for e in errors
                               if isinstance(e, dict)), secrets)[:300]
    context = response_context(SYSTEM, response, secrets)
    if "THROTTLED" in codes:
        raise RateLimited(f"query cost budget exhausted: {message}",
                          retry_after=throttle_wait(body), fault=Fault.TRANSIENT, context=context)
    if "ACCESS_DENIED" in codes:
        raise AccessDenied(f"access denied: {message}", fault=Fault.CONFIG, context=context)
    if "INTERNAL_SERVER_ERROR" in codes:
        raise RetryableError(f"Shopify internal error: {message}", fault=Fault.REMOTE,
                             context=context)
    if "MAX_COST_EXCEEDED" in codes:
        raise FatalError(f"query too expensive for any budget: {message}", fault=Fault.CONFIG,
                         context=context)
    raise Rejected(f"GraphQL errors: {message}", fault=Fault.DATA, context=context)


def check_user_errors(payload: Mapping[str, Any] | None, operation: str) -> None:
    """Raise :class:`UserErrors` when a mutation payload carries ``userErrors``."""
    errors = list((payload or {}).get("userErrors") or [])
    if errors:
        text = "; ".join(f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}"
                         for e in errors)
        raise UserErrors(f"{operation} refused: {text}", errors, fault=Fault.DATA,
                         context=ErrorContext(SYSTEM, "POST", operation))
