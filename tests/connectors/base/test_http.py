from __future__ import annotations

import httpx
import pytest

from connectors.base.errors import (
    AuthExpired,
    FatalError,
    Fault,
    PaginationLoop,
    RetryableError,
    SkipRecord,
)
from connectors.base.http import ApiTransport
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.paginators import CursorPaginator, PageNumberPaginator
from connectors.base.retry import Retrier, RetryPolicy
from tests.connectors.fakes import FakeApi, FakeClock, SequenceRandom, json_response, raising


def make(api: FakeApi, clock: FakeClock, **kwargs: object) -> ApiTransport:
    limiter = TokenBucket(RateLimit(rate=100.0, burst=100), clock)
    retrier = Retrier(RetryPolicy(max_attempts=3, base_delay=1.0), clock, SequenceRandom(0.5))
    return ApiTransport(api.client(), system="test", limiter=limiter, retrier=retrier,
                        secrets=["s3cr3t-value"], **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(autojump=True)


async def test_one_logical_request_retries_5xx_and_timeouts(clock: FakeClock) -> None:
    api = FakeApi()
    api.script("GET", "/x", httpx.Response(503), raising(httpx.ReadTimeout("slow")))
    api.on("GET", "/x", json_response(200, {"ok": True}))
    assert await make(api, clock).json("GET", "/x") == {"ok": True}
    assert len(api.requests) == 3
    assert clock.sleeps == [0.5, 1.0]


async def test_429_retries_after_retry_after_and_shrinks_the_limiter(clock: FakeClock) -> None:
    api = FakeApi()
    api.script("GET", "/x", httpx.Response(429, headers={"Retry-After": "2"}))
    api.on("GET", "/x", json_response(200, [1]))
    transport = make(api, clock)
    assert await transport.json("GET", "/x") == [1]
    assert transport.limiter.rate() < transport.limiter.full_rate
    assert 2.0 in clock.sleeps


async def test_exhausted_retries_raise_the_classified_error(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("GET", "/x", httpx.Response(502, text="bad gateway s3cr3t-value"))
    with pytest.raises(RetryableError) as info:
        await make(api, clock).json("GET", "/x")
    assert len(api.requests) == 3
    assert "s3cr3t-value" not in str(info.value)


async def test_skip_is_not_retried(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("POST", "/x", httpx.Response(422, json={"error": "bad vat"}))
    with pytest.raises(SkipRecord):
        await make(api, clock).json("POST", "/x", json_body={"a": 1})
    assert len(api.requests) == 1


async def test_auth_is_refreshed_once_then_fatal(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("GET", "/x", httpx.Response(401))
    refreshes = []

    async def refresh() -> None:
        refreshes.append(1)

    with pytest.raises(FatalError) as info:
        await make(api, clock, refresh_auth=refresh).json("GET", "/x")
    assert refreshes == [1] and len(api.requests) == 2
    assert isinstance(info.value.__cause__, AuthExpired)


async def test_auth_refresh_that_works(clock: FakeClock) -> None:
    api = FakeApi()
    api.script("GET", "/x", httpx.Response(401))
    api.on("GET", "/x", json_response(200, {"ok": 1}))

    async def refresh() -> None:
        pass

    assert await make(api, clock, refresh_auth=refresh).json("GET", "/x") == {"ok": 1}


async def test_without_refresher_auth_expired_propagates(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("GET", "/x", httpx.Response(401))
    with pytest.raises(AuthExpired):
        await make(api, clock).json("GET", "/x")


async def test_invalid_json_is_retryable_remote(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("GET", "/x", httpx.Response(200, text="{truncated"))
    with pytest.raises(RetryableError, match="not valid JSON"):
        await make(api, clock).json("GET", "/x")


async def test_paginate_page_numbers(clock: FakeClock) -> None:
    api = FakeApi()
    data = list(range(7))

    def pages(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["page"])
        assert request.url.params["q"] == "z"
        return json_response(200, data[(n - 1) * 3 : n * 3])

    api.on("GET", "/items", pages)
    got = [r async for r in make(api, clock).paginate("/items", PageNumberPaginator(), params={"q": "z"})]
    assert got == data
    assert [r.url.params["page"] for r in api.requests] == ["1", "2", "3", "4"]


async def test_paginate_cursor_loop_is_detected(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("GET", "/items", lambda r: json_response(
        200, {"items": [r.url.params.get("cursor", "start")], "cursor": "same", "has_more": True}))
    with pytest.raises(PaginationLoop):
        _ = [r async for r in make(api, clock).paginate("/items", CursorPaginator())]
    assert len(api.requests) == 2  # the second answer repeats the cursor: stop there


async def test_each_attempt_holds_a_window_slot_until_it_ends(clock: FakeClock) -> None:
    """A timed-out attempt frees its slot a window after it ended, not never and not at once."""
    api = FakeApi()
    api.script("GET", "/x", raising(httpx.ReadTimeout("slow")))
    api.on("GET", "/x", json_response(200, [1]))
    limiter = TokenBucket(RateLimit(rate=1.0, burst=1, window=1.0, jitter=0.0), clock)
    retrier = Retrier(RetryPolicy(max_attempts=3, base_delay=1.0), clock, SequenceRandom(0.5))
    transport = ApiTransport(api.client(), system="test", limiter=limiter, retrier=retrier)
    assert await transport.json("GET", "/x") == [1]
    assert clock.sleeps == [0.5, 0.5]  # the retry's back-off, then the rest of the window
    assert limiter.busy_slots() == 1  # the second attempt's, completed just now
    await clock.sleep(1.0)
    assert limiter.busy_slots() == 0


async def test_a_url_without_scheme_is_a_config_error_at_once(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("GET", "/x", raising(httpx.UnsupportedProtocol(
        "Request URL is missing an 'http://' or 'https://' protocol.")))
    with pytest.raises(FatalError) as info:
        await make(api, clock).json("GET", "/x")
    assert len(api.requests) == 1 and clock.sleeps == []
    assert info.value.fault == Fault.CONFIG
    assert "invalid URL" in str(info.value) and "missing an 'http://'" in str(info.value)


async def test_a_url_httpx_cannot_parse_is_a_config_error(clock: FakeClock) -> None:
    api = FakeApi()
    with pytest.raises(FatalError) as info:
        await make(api, clock).json("GET", "http://erp.example:notaport/x")
    assert api.requests == [] and info.value.fault == Fault.CONFIG
    assert "invalid URL" in str(info.value) and "InvalidURL" in str(info.value)


async def test_a_credential_rejected_after_a_refresh_says_why(clock: FakeClock) -> None:
    api = FakeApi()
    api.on("GET", "/x", httpx.Response(401))

    async def refresh() -> None:
        pass

    with pytest.raises(FatalError, match="again after a refresh: credential rejected"):
        await make(api, clock, refresh_auth=refresh).json("GET", "/x")
