from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base.errors import ErrorContext, FatalError, RateLimited, RetryableError
from connectors.base.retry import Retrier, RetryPolicy
from tests.connectors.fakes import FakeClock, SequenceRandom


class Flaky:
    """Fails with the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@given(attempt=st.integers(min_value=1, max_value=20), r=st.floats(min_value=0, max_value=0.999999))
def test_full_jitter_stays_within_the_exponential_cap(attempt: int, r: float) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    delay = policy.backoff(attempt, lambda: r)
    assert 0 <= delay <= min(30.0, 0.5 * 2 ** (attempt - 1))


def test_jitter_uses_the_injected_random() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0)
    assert policy.backoff(4, lambda: 0.5) == 4.0
    assert policy.backoff(4, lambda: 0.0) == 0.0
    assert policy.backoff(20, lambda: 1.0) == 100.0


async def test_retries_then_succeeds_with_jittered_sleeps() -> None:
    clock = FakeClock(autojump=True)
    retrier = Retrier(RetryPolicy(max_attempts=4, base_delay=1.0), clock, SequenceRandom(0.5, 0.25))
    op = Flaky(RetryableError("a"), RetryableError("b"))
    assert await retrier.run(op) == "ok"
    assert op.calls == 3
    assert clock.sleeps == [0.5, 0.5]  # 0.5 * 1s, then 0.25 * 2s


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    clock = FakeClock(autojump=True)
    retrier = Retrier(RetryPolicy(max_attempts=3), clock, SequenceRandom(0.1))
    op = Flaky(RetryableError("1"), RetryableError("2"), RetryableError("3"), RetryableError("4"))
    with pytest.raises(RetryableError, match="3"):
        await retrier.run(op)
    assert op.calls == 3 and len(clock.sleeps) == 2


async def test_retry_after_is_honoured_zero_included() -> None:
    clock = FakeClock(autojump=True)
    retrier = Retrier(RetryPolicy(base_delay=10.0), clock, SequenceRandom(0.9))
    op = Flaky(RateLimited("x", retry_after=7.0), RateLimited("y", retry_after=0.0))
    assert await retrier.run(op) == "ok"
    assert clock.sleeps == [7.0, 9.0]  # a 0 after a 429 waits the backoff (10 s x 0.9)
    clock.sleeps.clear()
    op = Flaky(RateLimited("z", retry_after=0.0), RateLimited("z", retry_after=0.0))
    assert await retrier.run(op) == "ok"
    assert clock.sleeps == [0.0, 9.0]  # 0 means now the first time; not five times a second


async def test_a_storm_of_retry_after_zero_does_not_spend_every_attempt_at_once() -> None:
    clock = FakeClock(autojump=True)
    retrier = Retrier(RetryPolicy(max_attempts=5, base_delay=0.5), clock, SequenceRandom(1.0))
    op = Flaky(*(RateLimited("storm", retry_after=0.0) for _ in range(4)))
    assert await retrier.run(op) == "ok"
    assert clock.sleeps == [0.0, 0.5, 1.0, 2.0]  # 3.5 s: past a 1 s window that was full


async def test_too_long_retry_after_is_not_waited_inline() -> None:
    clock = FakeClock(autojump=True)
    retrier = Retrier(RetryPolicy(max_retry_after=60.0), clock)
    with pytest.raises(RateLimited):
        await retrier.run(Flaky(RateLimited("month quota", retry_after=86400.0)))
    assert clock.sleeps == []


async def test_non_retryable_errors_are_not_retried() -> None:
    clock = FakeClock(autojump=True)
    op = Flaky(FatalError("blocked"))
    with pytest.raises(FatalError):
        await Retrier(RetryPolicy(), clock).run(op)
    assert op.calls == 1 and clock.sleeps == []


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


async def test_retry_warnings_name_the_system(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(autojump=True)
    op = Flaky(RateLimited("rate limited", context=ErrorContext("shopify")))
    assert await Retrier(RetryPolicy(), clock).run(op) == "ok"
    assert "shopify: attempt 1 failed (rate limited)" in caplog.text
