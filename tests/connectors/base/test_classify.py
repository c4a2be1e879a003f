from __future__ import annotations

import httpx
import pytest

from connectors.base.classify import (
    DEFAULT_TABLE,
    Action,
    Rule,
    parse_retry_after,
    raise_for_response,
    translate_httpx_errors,
)
from connectors.base.errors import (
    AuthExpired,
    FatalError,
    Fault,
    RateLimited,
    RetryableError,
    SkipRecord,
)

REQUEST = httpx.Request("POST", "https://api.example.test/things?key=SECRETKEY")


def response(status: int, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=REQUEST, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "error", "fault"),
    [
        (400, SkipRecord, Fault.DATA),
        (401, AuthExpired, Fault.CONFIG),
        (403, FatalError, Fault.CONFIG),
        (404, SkipRecord, Fault.DATA),
        (408, RetryableError, Fault.TRANSIENT),
        (418, SkipRecord, Fault.DATA),
        (422, SkipRecord, Fault.DATA),
        (429, RateLimited, Fault.TRANSIENT),
        (500, RetryableError, Fault.REMOTE),
        (501, FatalError, Fault.REMOTE),
        (502, RetryableError, Fault.REMOTE),
        (503, RetryableError, Fault.REMOTE),
        (504, RetryableError, Fault.REMOTE),
        (302, FatalError, Fault.REMOTE),
    ],
)
def test_table(status: int, error: type[Exception], fault: Fault) -> None:
    with pytest.raises(error) as info:
        raise_for_response("sys", response(status, text="oops"))
    assert type(info.value) is error
    assert info.value.fault is fault
    assert info.value.context.status == status
    assert "SECRETKEY" not in str(info.value)


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_does_not_raise(status: int) -> None:
    raise_for_response("sys", response(status))


def test_429_carries_retry_after_including_zero() -> None:
    with pytest.raises(RateLimited) as info:
        raise_for_response("sys", response(429, headers={"Retry-After": "0"}))
    assert info.value.retry_after == 0.0
    with pytest.raises(RateLimited) as info:
        raise_for_response("sys", response(429, headers={"Retry-After": "7"}))
    assert info.value.retry_after == 7.0
    with pytest.raises(RateLimited) as info:
        raise_for_response("sys", response(429))
    assert info.value.retry_after is None


def test_retry_after_http_date_needs_the_server_date() -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", date) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("-5") == 0.0


def test_override_is_per_connector_and_leaves_the_default_alone() -> None:
    class Blocked(FatalError):
        pass

    table = DEFAULT_TABLE.override({402: Rule(Action.FATAL, Fault.CONFIG, Blocked, "blocked")})
    with pytest.raises(Blocked, match="blocked"):
        raise_for_response("sys", response(402), table)
    with pytest.raises(SkipRecord):  # the default table still says 4xx -> skip
        raise_for_response("sys", response(402))


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (httpx.ReadTimeout("slow"), RetryableError),
        (httpx.ConnectTimeout("slow"), RetryableError),
        (httpx.ConnectError("refused"), RetryableError),
        (httpx.RemoteProtocolError("eof"), RetryableError),
        (httpx.TooManyRedirects("loop"), FatalError),
    ],
)
def test_httpx_errors_are_translated_with_cause(exc: Exception, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        with translate_httpx_errors("sys", REQUEST):
            raise exc
    assert info.value.__cause__ is exc
    assert info.value.context.method == "POST"
    assert "SECRETKEY" not in str(info.value)


def test_translation_lets_other_exceptions_through() -> None:
    with pytest.raises(KeyError):
        with translate_httpx_errors("sys", REQUEST):
            raise KeyError("x")
