"""SAP B1 Service Layer errors, and the one boundary where its answers become taxonomy errors.

The Service Layer answers failures as ``{"error": {"code": <int>, "message": {"lang": "en-us",
"value": "..."}}}``; :func:`check_response` reads that shape (SAP's ``code`` is kept on the
exception as ``code``) and raises by HTTP status::

    SkipRecord
     +-- NotFound              404 (SL code -2028 "No matching records found")
     +-- Rejected              400 and other 4xx: SAP refused the data (validation, duplicate)
     +-- EtagConflict          412 (SL code -2039): the record changed since the ETag we sent;
                               never retried as an overwrite
    FatalError
     +-- PermissionDenied      403
     +-- LoginRejected         POST /Login refused (wrong company, user or password)
    AuthExpired                401 on an API call: the B1SESSION expired; log in again once
    RateLimited                429 (a proxy in front of SL; SL itself documents no limit)
    RetryableError             408, 5xx, network
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from connectors.base.classify import DEFAULT_TABLE, Action, ClassificationTable, Rule, error_for
from connectors.base.classify import parse_retry_after, response_context, response_json
from connectors.base.errors import FatalError, Fault, SkipRecord

__all__ = ["SYSTEM", "TABLE", "EtagConflict", "LoginRejected", "NotFound", "PermissionDenied",
           "Rejected", "check_login_response", "check_response", "sap_error"]

SYSTEM = "sap_b1"


class NotFound(SkipRecord):
    """The record does not exist (or no longer does)."""


class Rejected(SkipRecord):
    """SAP refused the request (validation, duplicate key, bad filter...)."""


class EtagConflict(SkipRecord):
    """412: the record's DataVersion moved since our ETag. Re-read; never force-write."""


class PermissionDenied(FatalError):
    """403: the SAP user lacks the authorization this call needs."""


class LoginRejected(FatalError):
    """``POST /Login`` was refused: CompanyDB, UserName or Password is wrong (or locked)."""


TABLE: ClassificationTable = DEFAULT_TABLE.override({
    400: Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by SAP Business One"),
    401: Rule(Action.REFRESH_AUTH, Fault.CONFIG, message="SAP B1 session rejected"),
    403: Rule(Action.FATAL, Fault.CONFIG, PermissionDenied, "permission denied in SAP B1"),
    404: Rule(Action.SKIP, Fault.DATA, NotFound, "not found"),
    409: Rule(Action.SKIP, Fault.DATA, Rejected, "conflict"),
    412: Rule(Action.SKIP, Fault.DATA, EtagConflict,
              "precondition failed: the record changed since it was read"),
    "4xx": Rule(Action.SKIP, Fault.DATA, Rejected, "rejected by SAP Business One"),
})


def sap_error(body: Any) -> tuple[str, str]:
    """``(code, message)`` of a Service Layer error body, or empty strings."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = error.get("message")
        if isinstance(message, dict):
            message = message.get("value")
        return str(error.get("code", "")), str(message or "")
    return "", ""


def check_response(response: httpx.Response, table: ClassificationTable = TABLE, *,
                   secrets: Iterable[str] = ()) -> None:
    """Return on success; raise the taxonomy error for a failed Service Layer answer."""
    if response.is_success:
        return
    code, message = sap_error(response_json(response))
    detail = " ".join(p for p in (f"[{code}]" if code else "", message) if p)
    context = response_context(SYSTEM, response, tuple(secrets))
    error = error_for(table.lookup(response.status_code), context,
                      detail=detail,
                      retry_after=parse_retry_after(response.headers.get("retry-after"),
                                                    response.headers.get("date")))
    error.code = code  # type: ignore[attr-defined]
    raise error


def check_login_response(response: httpx.Response, *, secrets: Iterable[str] = ()) -> None:
    """``POST /Login``: a 4xx other than 429 is a configuration fault, never retried."""
    if response.is_success or response.status_code == 429 or response.status_code >= 500:
        check_response(response, secrets=secrets)
        return
    code, message = sap_error(response_json(response))
    raise LoginRejected(
        f"SAP B1 login refused ({code or response.status_code}): {message or 'no message'}; "
        "check CompanyDB, UserName and Password", fault=Fault.CONFIG,
        context=response_context(SYSTEM, response, tuple(secrets)))
