"""Business Central errors and the one boundary where BC / Entra ID answers become taxonomy errors.

    SkipRecord
     +-- NotFound              404 (``BadRequest_NotFound``...)
     +-- Rejected              400 / 409 / 422: an OData ``{"error":{"code","message"}}`` refusal
     +-- EtagConflict          412 ``Request_EntityChanged``: someone changed the record since
                               the etag we sent; never retried as an overwrite
    FatalError
     +-- PermissionDenied      403: the app registration lacks a BC permission set
     +-- TokenRejected         the token endpoint refused the client credentials
    AuthExpired                401 from the API: get a new token once, then FatalError
    RateLimited                429 (``Retry-After`` honoured by the limiter)
    RetryableError             408, 5xx (504 = BC's 10-minute operation timeout), network

:func:`check_response` (API) and :func:`check_token_response` (Entra ID) are what the
transports call on every answer; BC's error ``code`` is kept on the exception as ``code``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from connectors.base.classify import DEFAULT_TABLE, Action, ClassificationTable, Rule, error_for
from connectors.base.classify import parse_retry_after, response_context, response_json
from connectors.base.errors import (
    ConnectorError,
    FatalError,
    Fault,
    SkipRecord,
)

__all__ = [
    "SYSTEM",
    "TABLE",
    "EtagConflict",
    "NotFound",
    "PermissionDenied",
    "Rejected",
    "TokenRejected",
    "check_response",
    "check_token_response",
    "odata_error",
]

SYSTEM = "business_central"


class NotFound(SkipRecord):
    """The record does not exist (or no longer does)."""


class Rejected(SkipRecord):
    """BC refused the request (validation, unknown property, bad filter...)."""


class EtagConflict(SkipRecord):
    """412: the record changed since the etag we hold. Read it again; never force-write."""

    default_fault = Fault.DATA


class PermissionDenied(FatalError):
    """403: the Entra app is not granted the BC permissions this call needs."""


class TokenRejected(FatalError):
    """Entra ID refused the client credentials (wrong secret, unknown app, bad scope)."""


TABLE: ClassificationTable = DEFAULT_TABLE.override({
    400: Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by Business Central"),
    401: Rule(Action.REFRESH_AUTH, Fault.CONFIG, message="Business Central token rejected"),
    403: Rule(Action.FATAL, Fault.CONFIG, PermissionDenied,
              "permission denied: grant the Entra app the BC permission set it needs"),
    404: Rule(Action.SKIP, Fault.DATA, NotFound, "not found"),
    409: Rule(Action.SKIP, Fault.DATA, Rejected, "conflict"),
    412: Rule(Action.SKIP, Fault.DATA, EtagConflict,
              "precondition failed: the record changed since it was read"),
    422: Rule(Action.SKIP, Fault.DATA, Rejected, "validation failed"),
    "4xx": Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by Business Central"),
    504: Rule(Action.RETRY, Fault.REMOTE, message="operation timed out in Business Central"),
})


def odata_error(body: Any) -> tuple[str, str]:
    """``(code, message)`` of an OData error body, or empty strings."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("code") or ""), str(error.get("message") or "")
    return "", ""


def check_response(response: httpx.Response, table: ClassificationTable = TABLE, *,
                   secrets: Iterable[str] = ()) -> None:
    """Return on success; raise the taxonomy error for a failed BC API answer."""
    if response.is_success:
        return
    secrets = tuple(secrets)
    code, message = odata_error(response_json(response))
    detail = ": ".join(p for p in (code, message) if p)
    context = response_context(SYSTEM, response, secrets)
    error = error_for(table.lookup(response.status_code), context,
                      detail=detail,
                      retry_after=parse_retry_after(response.headers.get("retry-after"),
                                                    response.headers.get("date")))
    error.code = code  # type: ignore[attr-defined]
    raise error


def check_token_response(response: httpx.Response, *, secrets: Iterable[str] = ()) -> None:
    """Entra ID's token endpoint: 400/401 ``{"error","error_description"}`` is a config fault."""
    if response.is_success:
        return
    secrets = tuple(secrets)
    body = response_json(response)
    context = response_context(SYSTEM, response, secrets)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if response.status_code == 429 or response.status_code >= 500:
        error: ConnectorError = error_for(DEFAULT_TABLE.lookup(response.status_code), context,
                                          detail="token endpoint", retry_after=retry_after)
        raise error
    code = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    # AADSTS descriptions span lines and end with trace ids: keep the first sentence.
    first = description.split("\r\n")[0].split("\n")[0].split(". ")[0]
    raise TokenRejected(
        f"token endpoint refused the client credentials ({code or response.status_code}): "
        f"{first}".rstrip(": "), fault=Fault.CONFIG, context=context)
