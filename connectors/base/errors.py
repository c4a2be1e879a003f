"""Connector error taxonomy: the class says what to do, ``fault`` says whose fault it is.

Agents and sinks import these, never a library's exceptions; each client translates
httpx (or xmlrpc, JSON-RPC...) errors at one boundary with ``raise ... from exc``.

    ConnectorError                 base; carries ``fault`` and ``context``
     +-- RetryableError            retry later with backoff; ``retry_after`` seconds or None
     |    +-- RateLimited          the remote said 429; the limiter shrinks its rate
     +-- AuthExpired               refresh the credential once, then fail
     +-- FatalError                stop this connector and alert (blocked account, bad config)
     |    +-- PaginationLoop       the same page or cursor came back twice
     +-- SkipRecord                this record cannot be written; park it, go on with the rest

``fault`` is one of ``Fault.CONFIG`` (operator must fix settings or credentials),
``Fault.TRANSIENT`` (network, timeouts, overload), ``Fault.REMOTE`` (the other system
misbehaves) and ``Fault.DATA`` (the record itself is wrong). Messages and context never
contain API keys or tokens: URLs are stripped of secret query parameters and any known
secret value is masked in body excerpts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "AuthExpired",
    "ConnectorError",
    "ErrorContext",
    "FatalError",
    "Fault",
    "PaginationLoop",
    "RateLimited",
    "RetryableError",
    "SkipRecord",
    "redact",
    "safe_url",
]

EXCERPT_CHARS = 200
MASK = "***"
_SECRET_PARAMS = re.compile(r"(key|token|secret|password|passwd|signature|sig|auth)", re.I)


class Fault(str, Enum):
    """Whose fault an error is, so alerts reach the right person."""

    CONFIG = "config"
    TRANSIENT = "transient"
    REMOTE = "remote"
    DATA = "data"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every known secret value found in ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def safe_url(url: str, secrets: Iterable[str] = ()) -> str:
    """The URL without user info and with secret-looking query parameters masked."""
    parts = urlsplit(str(url))
    try:
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:  # a port that is not a number: keep it as written, without user info
        netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [
            (name, MASK if _SECRET_PARAMS.search(name) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="[]",
    )
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")), secrets)


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """Where an error happened. Holds no secrets: build it with :meth:`build`."""

    system: str
    method: str = ""
    url: str = ""
    status: int | None = None
    body_excerpt: str = ""

    @classmethod
    def build(
        cls,
        system: str,
        method: str = "",
        url: str = "",
        status: int | None = None,
        body: str = "",
        secrets: Iterable[str] = (),
    ) -> ErrorContext:
        secrets = tuple(secrets)
        excerpt = redact(" ".join(body.split()), secrets)
        if len(excerpt) > EXCERPT_CHARS:
            excerpt = excerpt[: EXCERPT_CHARS - 1] + "\u2026"
        return cls(system, method.upper(), safe_url(url, secrets) if url else "", status, excerpt)

    def describe(self) -> str:
        where = " ".join(p for p in (self.method, self.url) if p)
        status = f" -> {self.status}" if self.status is not None else ""
        return f"[{self.system}] {where}{status}".rstrip()


class ConnectorError(Exception):
    """Base of every error a connector raises."""

    default_fault = Fault.REMOTE

    def __init__(
        self,
        message: str,
        *,
        fault: Fault | None = None,
        context: ErrorContext | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fault = fault or self.default_fault
        self.context = context

    def __str__(self) -> str:
        parts = [self.message]
        if self.context is not None:
            parts.append(self.context.describe())
            if self.context.body_excerpt:
                parts.append(f"body: {self.context.body_excerpt!r}")
        return " | ".join(parts)


class RetryableError(ConnectorError):
    """Try again later. ``retry_after`` is the server's hint in seconds (0 = now)."""

    default_fault = Fault.TRANSIENT

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        fault: Fault | None = None,
        context: ErrorContext | None = None,
    ) -> None:
        super().__init__(message, fault=fault, context=context)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """The remote rate limit was hit (HTTP 429 or a quota header)."""


class AuthExpired(ConnectorError):
    """The credential was rejected; refresh it once and retry, then fail."""

    default_fault = Fault.CONFIG


class FatalError(ConnectorError):
    """Nothing will work until a person acts (blocked account, bad key, bad config)."""

    default_fault = Fault.CONFIG


class PaginationLoop(FatalError):
    """A paginator saw the same page or cursor twice; following it would never end."""

    default_fault = Fault.REMOTE


class SkipRecord(ConnectorError):
    """This record cannot be processed as is; park it and continue with the others."""

    default_fault = Fault.DATA

