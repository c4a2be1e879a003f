"""From an HTTP outcome to an action, declared as data; the one place httpx errors are mapped.

``DEFAULT_TABLE`` maps a status code (or a status class such as ``"5xx"``, or the
transport outcomes ``"timeout"``, ``"connection"`` and ``"invalid_url"``) to a :class:`Rule`. A connector
overrides rows with :meth:`ClassificationTable.override`, e.g. Holded's 402
"Account has been blocked" becomes a fatal configuration error.
"""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

import httpx

from connectors.base.errors import (
    AuthExpired,
    ConnectorError,
    ErrorContext,
    FatalError,
    Fault,
    RateLimited,
    RetryableError,
    SkipRecord,
)

__all__ = [
    "DEFAULT_TABLE",
    "Action",
    "ClassificationTable",
    "Rule",
    "error_for",
    "invalid_url",
    "parse_retry_after",
    "raise_for_response",
    "response_context",
    "response_json",
    "translate_httpx_errors",
]

logger = logging.getLogger(__name__)

TIMEOUT = "timeout"
CONNECTION = "connection"
INVALID_URL = "invalid_url"


class Action(str, Enum):
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    REFRESH_AUTH = "refresh_auth"
    FATAL = "fatal"
    SKIP = "skip"


_ERROR_FOR_ACTION: Mapping[Action, type[ConnectorError]] = MappingProxyType(
    {
        Action.RETRY: RetryableError,
        Action.RATE_LIMITED: RateLimited,
        Action.REFRESH_AUTH: AuthExpired,
        Action.FATAL: FatalError,
        Action.SKIP: SkipRecord,
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """What to do with one outcome; ``error`` narrows the exception class raised."""

    action: Action
    fault: Fault
    error: type[ConnectorError] | None = None
    message: str = ""

    @property
    def error_class(self) -> type[ConnectorError]:
        return self.error or _ERROR_FOR_ACTION[self.action]


@dataclass(frozen=True, slots=True)
class ClassificationTable:
    """Status (int), status class ("4xx") or transport outcome -> :class:`Rule`."""

    rules: Mapping[int | str, Rule] = field(default_factory=dict)

    def override(self, rules: Mapping[int | str, Rule]) -> ClassificationTable:
        return ClassificationTable(MappingProxyType({**self.rules, **rules}))

    def lookup(self, key: int | str) -> Rule:
        if key in self.rules:
            return self.rules[key]
        if isinstance(key, int) and f"{key // 100}xx" in self.rules:
            return self.rules[f"{key // 100}xx"]
        return self.rules.get("default", Rule(Action.FATAL, Fault.REMOTE))


DEFAULT_TABLE = ClassificationTable(
    MappingProxyType(
        {
            400: Rule(Action.SKIP, Fault.DATA, message="request rejected"),
            401: Rule(Action.REFRESH_AUTH, Fault.CONFIG, message="credential rejected"),
            403: Rule(Action.FATAL, Fault.CONFIG, message="permission denied"),
            404: Rule(Action.SKIP, Fault.DATA, message="not found"),
            408: Rule(Action.RETRY, Fault.TRANSIENT, message="request timeout"),
            409: Rule(Action.SKIP, Fault.DATA, message="conflict"),
            422: Rule(Action.SKIP, Fault.DATA, message="validation failed"),
            425: Rule(Action.RETRY, Fault.TRANSIENT, message="too early"),
            429: Rule(Action.RATE_LIMITED, Fault.TRANSIENT, message="rate limited"),
            "4xx": Rule(Action.SKIP, Fault.DATA, message="client error"),
            501: Rule(Action.FATAL, Fault.REMOTE, message="not implemented"),
            "5xx": Rule(Action.RETRY, Fault.REMOTE, message="server error"),
            TIMEOUT: Rule(Action.RETRY, Fault.TRANSIENT, message="timed out"),
            CONNECTION: Rule(Action.RETRY, Fault.TRANSIENT, message="connection failed"),
            # No scheme, a bad host or port: the configured URL is wrong; retrying cannot help.
            INVALID_URL: Rule(Action.FATAL, Fault.CONFIG,
                              message="invalid URL (check the system's URL setting)"),
            "default": Rule(Action.FATAL, Fault.REMOTE, message="unexpected response"),
        }
    )
)


def parse_retry_after(value: str | None, date_header: str | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); 0 means now."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        now = email.utils.parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        return None
    if now is None:  # without the server's Date we cannot compare clocks safely
        return None
    return max(0.0, (when - now).total_seconds())


def error_for(
    rule: Rule,
    context: ErrorContext,
    *,
    detail: str = "",
    retry_after: float | None = None,
) -> ConnectorError:
    """Build the exception a rule prescribes."""
    message = ": ".join(p for p in (rule.message, detail) if p) or rule.action.value
    cls = rule.error_class
    if issubclass(cls, RetryableError):
        return cls(message, retry_after=retry_after, fault=rule.fault, context=context)
    return cls(message, fault=rule.fault, context=context)


def raise_for_response(
    system: str,
    response: httpx.Response,
    table: ClassificationTable = DEFAULT_TABLE,
    *,
    detail: str = "",
    secrets: Iterable[str] = (),
) -> None:
    """Return if the response is a success (2xx), else raise what the table says."""
    if response.is_success:
        return
    rule = table.lookup(response.status_code)
    context = response_context(system, response, secrets)
    retry_after = parse_retry_after(
        response.headers.get("retry-after"), response.headers.get("date")
    )
    raise error_for(rule, context, detail=detail, retry_after=retry_after)


@contextmanager
def translate_httpx_errors(
    system: str,
    request: httpx.Request,
    table: ClassificationTable = DEFAULT_TABLE,
    *,
    secrets: Iterable[str] = (),
) -> Iterator[None]:
    """Translate httpx transport exceptions raised inside the block into the taxonomy."""
    try:
        yield
    except httpx.UnsupportedProtocol as exc:
        raise invalid_url(system, str(request.url), exc, table, secrets=secrets) from exc
    except httpx.TimeoutException as exc:
        context = ErrorContext.build(system, request.method, str(request.url), secrets=secrets)
        raise error_for(table.lookup(TIMEOUT), context, detail=type(exc).__name__) from exc
    except (httpx.TransportError, httpx.StreamError) as exc:
        # ConnectError, ReadError, RemoteProtocolError...: the request may not have landed.
        context = ErrorContext.build(system, request.method, str(request.url), secrets=secrets)
        raise error_for(table.lookup(CONNECTION), context, detail=type(exc).__name__) from exc
    except httpx.HTTPError as exc:  # DecodingError, TooManyRedirects...: not worth a retry
        context = ErrorContext.build(system, request.method, str(request.url), secrets=secrets)
        raise FatalError(f"http error: {type(exc).__name__}", context=context) from exc


def invalid_url(
    system: str,
    url: str,
    exc: Exception,
    table: ClassificationTable = DEFAULT_TABLE,
    *,
    secrets: Iterable[str] = (),
) -> ConnectorError:
    """The error for a URL httpx cannot send to (``UnsupportedProtocol``, ``InvalidURL``)."""
    context = ErrorContext.build(system, url=url, secrets=secrets)
    return error_for(table.lookup(INVALID_URL), context, detail=f"{type(exc).__name__}: {exc}")


def response_context(system: str, response: httpx.Response, secrets: Iterable[str] = (), *,
                     body: str | None = None) -> ErrorContext:
    """The :class:`ErrorContext` of an answer: its request, status and body (``body`` when
    given, e.g. the part of it that was read), secrets redacted."""
    return ErrorContext.build(system, response.request.method, str(response.request.url),
                              response.status_code, _body_text(response) if body is None
                              else body, secrets)


def response_json(response: httpx.Response) -> Any:
    """An answer's body as JSON, None when it is empty or no JSON (an HTML error page)."""
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:  # UnicodeDecodeError included
        return None


def _body_text(response: httpx.Response) -> str:
    try:
        return response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError, LookupError):
        return ""
