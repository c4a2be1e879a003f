"""Retries with exponential backoff and full jitter; random and clock are injected.

Only :class:`RetryableError` is retried. A server hint (``retry_after``) is honoured as
is, 0 included; otherwise attempt ``n`` sleeps ``uniform(0, min(cap, base * 2**(n-1)))``
("full jitter", so a crowd of workers does not retry in lockstep).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.base.errors import RateLimited, RetryableError
from connectors.base.limiter import Clock, SystemClock

__all__ = ["NoBlindRepeat", "RetryPolicy", "Retrier"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5  # attempts in total, the first one included
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 900.0  # a longer server hint is not waited in-line

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("max_attempts >= 1 and non-negative delays required")

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        """Full-jitter delay after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rand() * cap

    def delay_for(self, error: RetryableError, attempt: int, rand: Callable[[], float]) -> float:
        """The server's Retry-After when it gives one (0 means now), else the backoff.

        A Retry-After of 0 is a whole second rounded down: honoured at once the first time,
        but a second 429 in a row waits the backoff too, or every attempt is spent within
        the same second and the command fails for a window that was about to free.
        """
        if error.retry_after is not None:
            hinted = max(0.0, error.retry_after)
            return hinted if hinted > 0 or attempt <= 1 else self.backoff(attempt - 1, rand)
        return self.backoff(attempt, rand)


class Retrier:
    """Runs an async operation under a :class:`RetryPolicy`."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._clock = clock or SystemClock()
        self._rand = rand

    async def run(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        on_retry: Callable[[RetryableError, int, float], None] | None = None,
    ) -> T:
        """Await ``operation()``; retry it on :class:`RetryableError`, re-raise the last."""
        attempt = 1
        while True:
            try:
                return await operation()
            except RetryableError as error:
                delay = self.policy.delay_for(error, attempt, self._rand)
                if attempt >= self.policy.max_attempts or delay > self.policy.max_retry_after:
                    raise
                logger.warning(
                    "%sattempt %d failed (%s), retrying in %.2fs",
                    f"{error.context.system}: " if error.context is not None else "",
                    attempt, error.message, delay,
                )
                if on_retry is not None:
                    on_retry(error, attempt, delay)
                await self._clock.sleep(delay)
                attempt += 1


class _Unknown(Exception):
    """Carries a RetryableError past the retrier, which must not repeat the attempt."""

    def __init__(self, error: RetryableError) -> None:
        super().__init__(str(error))
        self.error = error


class NoBlindRepeat(Retrier):
    """A :class:`Retrier` for writes (POSTs, mutations) that never repeats one blindly.

    A write whose outcome is unknown (timeout, dropped connection, 5xx) may have committed on
    the other side; sending it again could create a duplicate. So only :class:`RateLimited`
    (429: the request was refused, nothing was written) is retried; any other
    :class:`RetryableError` goes straight back to the caller, which searches the target for
    the record before writing again.

    The error reaches the caller without its traceback through the retrier: its
    ``__cause__`` is cleared, or kept as it was when ``keep_cause`` is true.
    """

    def __init__(self, policy: RetryPolicy | None = None, clock: Clock | None = None,
                 rand: Callable[[], float] = random.random, *, keep_cause: bool = False) -> None:
        super().__init__(policy, clock, rand)
        self._keep_cause = keep_cause

    async def run(self, operation: Callable[[], Awaitable[T]], *,
                  on_retry: Callable[[RetryableError, int, float], None] | None = None) -> T:
        async def once() -> T:
            try:
                return await operation()
            except RateLimited:
                raise
            except RetryableError as error:
                raise _Unknown(error) from error

        try:
            return await super().run(once, on_retry=on_retry)
        except _Unknown as unknown:
            raise unknown.error from (unknown.error.__cause__ if self._keep_cause else None)
