"""Holded errors and the translation of Holded's answers into the connector taxonomy.

    SkipRecord
     +-- NotFound            400 {"status":0,"info":"not found"}, 404, v2 problem 404
     +-- HoldedRejected      any other {"status":0,"info":...} envelope ("Wrong date")
     +-- UnknownSku          a document line names a sku Holded does not have
     +-- WriteNotApplied     "Updated", but the record read back differs (``fields``)
          +-- ZeroPriceLine  a priced line came back at 0 EUR (unknown sku, free line)
    FatalError
     +-- AccountBlocked      402 "Account has been blocked. Reason: Unpaid"
     +-- UnexpectedContent   200 with HTML / non-JSON: an unknown route (the web app)
     +-- UnsupportedOperation  not available in the configured API version

Quirks are errors, never successes: :func:`check_response` is what the transport calls
on every Holded response.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from connectors.base.classify import DEFAULT_TABLE, Action, ClassificationTable, Rule, error_for
from connectors.base.classify import parse_retry_after, response_context
from connectors.base.errors import FatalError, Fault, SkipRecord

__all__ = [
    "AccountBlocked",
    "HoldedRejected",
    "NotFound",
    "UnexpectedContent",
    "UnknownSku",
    "UnsupportedOperation",
    "WriteNotApplied",
    "ZeroPriceLine",
    "V1_TABLE",
    "V2_TABLE",
    "check_response",
]

SYSTEM = "holded"


class NotFound(SkipRecord):
    """The record does not exist (or no longer does)."""


class HoldedRejected(SkipRecord):
    """Holded refused the request with ``{"status": 0, "info": ...}``."""


class UnknownSku(SkipRecord):
    def __init__(self, skus: Sequence[str], **kwargs: Any) -> None:
        super().__init__(f"unknown sku(s), the lines would be stored at 0 EUR: {list(skus)}",
                         **kwargs)
        self.skus = tuple(skus)


class WriteNotApplied(SkipRecord):
    """A write answered with success but the record read back does not show it."""

    default_fault = Fault.REMOTE

    def __init__(self, record_id: str, fields: Sequence[str], message: str = "", **kwargs: Any):
        super().__init__(message or f"write to {record_id} not applied for fields {list(fields)}",
                         **kwargs)
        self.record_id, self.fields = record_id, tuple(fields)


class ZeroPriceLine(WriteNotApplied):
    """A line sent with a price was stored at 0 (sku not matched, or a free line)."""

    default_fault = Fault.DATA


class AccountBlocked(FatalError):
    """The Holded subscription is suspended; nothing works until someone pays."""


class UnexpectedContent(FatalError):
    """Holded answered something that is not the API's JSON (usually its web app)."""


class UnsupportedOperation(FatalError):
    """The resource or operation does not exist in the configured API version."""


_BLOCKED = Rule(Action.FATAL, Fault.CONFIG, AccountBlocked,
                "Holded account is blocked (subscription suspended?); fix it in Holded")
V1_TABLE: ClassificationTable = DEFAULT_TABLE.override({
    400: Rule(Action.SKIP, Fault.DATA, HoldedRejected, "rejected by Holded"),
    # A v1 key cannot be refreshed: the transport retries once, then it is fatal.
    401: Rule(Action.REFRESH_AUTH, Fault.CONFIG, message="Holded API key rejected"),
    402: _BLOCKED,
    404: Rule(Action.SKIP, Fault.DATA, NotFound, "not found"),
    422: Rule(Action.SKIP, Fault.DATA, HoldedRejected, "validation failed"),
    "4xx": Rule(Action.SKIP, Fault.DATA, HoldedRejected, "rejected by Holded"),
})
V2_TABLE: ClassificationTable = V1_TABLE.override({
    401: Rule(Action.REFRESH_AUTH, Fault.CONFIG, message="Holded API token rejected"),
    403: Rule(Action.FATAL, Fault.CONFIG, message="Holded token lacks a permission scope"),
})


def check_response(
    response: httpx.Response,
    table: ClassificationTable,
    *,
    secrets: Iterable[str] = (),
    lenient_content_type: bool = False,
) -> None:
    """Raise the taxonomy error for a failed or quirky Holded answer; return on success."""
    secrets = tuple(secrets)
    body = _json_or_none(response)
    context = response_context(SYSTEM, response, secrets)
    retry_after = parse_retry_after(response.headers.get("retry-after"),
                                    response.headers.get("date"))
    info = _envelope_info(body)
    if info is not None:  # {"status": 0, "info": "..."}, whatever the HTTP status
        status = response.status_code if response.status_code >= 400 else 400
        if "not found" in info.lower():
            raise NotFound(f"not found: {info}", context=context)
        raise error_for(table.lookup(status), context, detail=info, retry_after=retry_after)
    if response.is_success:
        if response.status_code == 204 or not response.content:
            return  # v2 deletes may answer 204 No Content
        if _is_json(response) or (lenient_content_type and body is not None):
            return
        kind = response.headers.get("content-type", "no content type")
        raise UnexpectedContent(
            f"Holded answered {response.status_code} with {kind} instead of JSON: the route "
            "does not exist (Holded serves its web app for unknown paths)",
            fault=Fault.CONFIG, context=context,
        )
    rule = table.lookup(response.status_code)
    # A 402 says why the account is blocked in plain text: keep the reason in the message.
    detail = _problem_detail(body) or (context.body_excerpt if rule.error is AccountBlocked else "")
    raise error_for(rule, context, detail=detail, retry_after=retry_after)


def _json_or_none(response: httpx.Response) -> Any:
    text = response.text.lstrip()
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _is_json(response: httpx.Response) -> bool:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _envelope_info(body: Any) -> str | None:
    # Only the bare envelope counts: a draft document also has "status": 0.
    if (isinstance(body, dict) and body.get("status") == 0 and "info" in body
            and set(body) <= {"status", "info", "id", "error"}):
        return str(body["info"])
    return None


def _problem_detail(body: Any) -> str:
    """``title: detail`` of an RFC 7807 problem (v2), else the v1 info/message if any."""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k]) for k in ("title", "detail") if body.get(k)]
    if not parts:
        parts = [str(body[k]) for k in ("info", "message", "error") if body.get(k)][:1]
    return ": ".join(parts)
