from __future__ import annotations

import pytest

from connectors.base.errors import (
    AuthExpired,
    ConnectorError,
    ErrorContext,
    FatalError,
    Fault,
    PaginationLoop,
    RateLimited,
    RetryableError,
    SkipRecord,
    safe_url,
)


def test_the_class_tells_the_action_and_fault_has_a_default() -> None:
    assert issubclass(RateLimited, RetryableError)
    assert issubclass(PaginationLoop, FatalError)
    assert RetryableError("x").fault is Fault.TRANSIENT
    assert FatalError("x").fault is Fault.CONFIG
    assert SkipRecord("x").fault is Fault.DATA
    assert AuthExpired("x").fault is Fault.CONFIG
    assert FatalError("x", fault=Fault.REMOTE).fault is Fault.REMOTE
    for cls in (RetryableError, AuthExpired, FatalError, SkipRecord):
        assert issubclass(cls, ConnectorError)


def test_retry_after_zero_is_kept_not_lost() -> None:
    assert RateLimited("x", retry_after=0.0).retry_after == 0.0
    assert RetryableError("x").retry_after is None


def test_context_never_carries_secrets() -> None:
    secret = "sk_live_abcdef123456"
    context = ErrorContext.build(
        "holded", "get",
        f"https://user:pw@api.holded.com/api/x?page=2&api_key={secret}&token=t0k3n",
        400, f'{{"error": "bad key {secret}"}}', secrets=[secret],
    )
    text = str(SkipRecord("bad", context=context))
    assert secret not in text and "t0k3n" not in text and "pw@" not in text
    assert "page=2" in text and "GET" in text and "400" in text


def test_body_excerpt_is_short_and_single_line() -> None:
    context = ErrorContext.build("s", body="line\n" * 500)
    assert len(context.body_excerpt) <= 200
    assert "\n" not in context.body_excerpt


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/p?customId%5B%5D=a", "https://h/p?customId[]=a"),
        ("https://h/p?key=abc", "https://h/p?key=%2A%2A%2A"),
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert safe_url(url) == expected
