from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base.limiter import Limiters, RateLimit, TokenBucket
from tests.connectors.fakes import FakeClock, settle


class Recorder:
    """Starts acquire() tasks and records (time, label) when each gets its token."""

    def __init__(self, bucket: TokenBucket, clock: FakeClock) -> None:
        self.bucket, self.clock = bucket, clock
        self.done: list[tuple[float, str]] = []
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, label: str, lane: str = "realtime", count: int = 1,
              latency: float = 0.0) -> None:
        """``count`` requests, each holding its slot ``latency`` seconds after its send."""
        for i in range(count):
            self.tasks.append(asyncio.ensure_future(self._one(f"{label}{i}", lane, latency)))

    async def _one(self, label: str, lane: str, latency: float) -> None:
        async with self.bucket.slot(lane):  # type: ignore[arg-type]
            self.done.append((round(self.clock.now - 1000.0, 6), label))
            if latency:
                await self.clock.sleep(latency)

    def times(self) -> list[float]:
        return [t for t, _ in self.done]

    def labels(self) -> list[str]:
        return [label for _, label in self.done]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


async def test_rate_is_held_after_the_burst(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=2.0, burst=2), clock)
    rec = Recorder(bucket, clock)
    rec.start("r", count=6)
    await clock.advance(10)
    assert rec.times() == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]


async def test_idle_time_refills_only_up_to_the_burst(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=3), clock)
    await clock.advance(100)
    rec = Recorder(bucket, clock)
    rec.start("r", count=5)
    await clock.advance(10)
    assert rec.times() == [100.0, 100.0, 100.0, 101.0, 102.0]


async def test_429_with_retry_after_pauses_and_shrinks(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=4.0, burst=1, shrink=0.5, recovery=100), clock)
    await bucket.acquire()
    bucket.on_rate_limited(retry_after=3.0)
    assert bucket.rate() == pytest.approx(2.0)
    rec = Recorder(bucket, clock)
    rec.start("r", count=3)
    await clock.advance(10)
    # Nothing before the pause ends; then one token at once, then the shrunk rate (~2/s).
    assert rec.times()[0] == 3.0
    assert rec.times()[1] == pytest.approx(3.5, abs=0.01)
    assert rec.times()[2] == pytest.approx(4.0, abs=0.02)


async def test_retry_after_zero_means_now_not_never(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock)
    await bucket.acquire()
    bucket.on_rate_limited(retry_after=0.0)
    rec = Recorder(bucket, clock)
    rec.start("r")
    await clock.advance(0)
    assert rec.times() == [0.0]


async def test_429_without_retry_after_drains_the_bucket(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=2.0, burst=5, shrink=0.5), clock)
    bucket.on_rate_limited(retry_after=None)
    rec = Recorder(bucket, clock)
    rec.start("r")
    await clock.advance(5)
    assert rec.times() == [1.0]  # a full token at the shrunk rate of 1/s


async def test_rate_recovers_slowly_then_fully(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=10.0, shrink=0.5, recovery=60), clock)
    bucket.on_rate_limited(retry_after=None)
    assert bucket.rate() == pytest.approx(5.0)
    bucket.on_rate_limited(retry_after=None)
    assert bucket.rate() == pytest.approx(2.5)
    await clock.advance(30)
    assert bucket.rate() == pytest.approx(6.25)
    await clock.advance(30)
    assert bucket.rate() == pytest.approx(10.0)
    await clock.advance(1000)
    assert bucket.rate() == pytest.approx(10.0)


async def test_shrinking_has_a_floor(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=10.0, shrink=0.1, min_fraction=0.05), clock)
    for _ in range(10):
        bucket.on_rate_limited(retry_after=None)
    assert bucket.rate() == pytest.approx(0.5)


async def test_the_429_log_line_shrinks_from_the_rate_in_force(clock: FakeClock, caplog) -> None:
    bucket = TokenBucket(RateLimit(rate=8.0, shrink=0.5, recovery=100), clock)
    with caplog.at_level("INFO", logger="connectors.base.limiter"):
        bucket.on_rate_limited(retry_after=None)
        bucket.on_rate_limited(retry_after=None)
    assert [r.getMessage() for r in caplog.records] == [
        "rate limited: pausing 0.000s, rate 8.000/s -> 4.000/s (recovers to 8.000/s)",
        "rate limited: pausing 0.000s, rate 4.000/s -> 2.000/s (recovers to 8.000/s)"]


def _busiest(times: list[float], span: float) -> int:
    """Most sends in any half-open interval [t, t + span)."""
    return max(sum(1 for u in times if t <= u < t + span) for t in times)


async def test_a_bucket_at_full_rate_overruns_a_sliding_window_but_window_mode_never_does(
        clock: FakeClock) -> None:
    # A full burst then the refill: 4 + 4 sends fit in one second without a window.
    plain = Recorder(TokenBucket(RateLimit(rate=4.0, burst=4), clock), clock)
    plain.start("p", count=12)
    await clock.advance(10)
    assert _busiest(plain.times(), 1.0) > 4
    await plain.close()
    clock.now = 2000.0
    limit = RateLimit(rate=4.0, burst=4, window=1.0, jitter=0.0)
    windowed = Recorder(TokenBucket(limit, clock), clock)
    windowed.start("w", count=12, latency=0.25)
    await clock.advance(10)
    times = [t - 1000.0 for t in windowed.times()]
    # Each slot is held from the send to a window after the response: 1.25 s per request.
    assert times == [0.0] * 4 + [1.25] * 4 + [2.5] * 4
    assert _busiest(times, 1.25) == 4


async def test_a_slow_response_delays_the_next_send(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1, window=1.0, jitter=0.0), clock)
    rec = Recorder(bucket, clock)
    rec.start("slow", latency=2.5)
    rec.start("next")
    await clock.advance(10)
    # The server may stamp "slow" as late as 2.5: "next" goes a window after that.
    assert rec.times() == [0.0, 3.5]


async def test_a_send_waits_for_requests_in_flight_and_completions_out_of_order(
        clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=3.0, burst=3, window=1.0, jitter=0.0), clock)
    rec = Recorder(bucket, clock)
    rec.start("a", latency=2.0)
    rec.start("b", latency=0.5)  # sent after "a", completes first
    rec.start("c", latency=3.0)
    rec.start("d", count=2)
    await clock.advance(1.0)
    assert bucket.busy_slots() == 3 and bucket.tokens() == 0.0
    assert rec.labels() == ["a0", "b0", "c0"]  # nothing is free before 0.5 + 1
    await clock.advance(10)
    assert rec.done[3:] == [(1.5, "d0"), (2.5, "d1")]  # b's slot at 1.5, d0's at 2.5 (a's at 3)


async def test_with_every_slot_in_flight_a_send_waits_for_a_response(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=2.0, burst=2, window=1.0, jitter=0.0), clock)
    rec = Recorder(bucket, clock)
    rec.start("long", count=2, latency=4.0)
    rec.start("next")
    await clock.advance(4.5)
    assert rec.labels() == ["long0", "long1"]
    await clock.advance(10)
    assert rec.times()[-1] == 5.0


async def test_jitter_extends_the_hold(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1, window=1.0, jitter=0.25), clock)
    rec = Recorder(bucket, clock)
    rec.start("r", count=3, latency=0.5)
    await clock.advance(10)
    assert rec.times() == [0.0, 1.75, 3.5]


async def test_window_mode_catches_up_after_a_stall_without_overrunning(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=10.0, burst=10, window=1.0, jitter=0.0), clock)
    rec = Recorder(bucket, clock)
    rec.start("a", count=3)
    await clock.advance(0.5)  # a stall: only 3 of the window's 10 were used
    rec.start("b", count=12)
    await clock.advance(5)
    times = rec.times()
    assert _busiest(times, 1.0) == 10
    assert times.count(0.5) == 7  # the unused part of the window is caught up at once


async def test_window_mode_follows_the_share(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=8.0, burst=8, window=1.0, jitter=0.0), clock, share=0.5)
    assert bucket.per_window == 4
    rec = Recorder(bucket, clock)
    rec.start("r", count=6, latency=0.5)
    await clock.advance(1.0)
    assert rec.times() == [0.0] * 4
    bucket.set_share(0.25)
    assert bucket.per_window == 2
    await clock.advance(10)
    # The four held slots free at 1.5; only two fit the smaller share.
    assert rec.times()[4:] == [1.5, 1.5]
    assert TokenBucket(RateLimit(rate=0.5, window=1.0), clock).per_window == 1
    with pytest.raises(ValueError):
        RateLimit(rate=1.0, window=0)


async def test_window_mode_serves_realtime_before_bulk(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1, window=1.0, jitter=0.0), clock)
    rec = Recorder(bucket, clock)
    rec.start("first", latency=0.5)
    await settle()
    rec.start("b", "bulk", count=2)
    await settle()
    rec.start("r", "realtime")
    await clock.advance(10)
    assert rec.done == [(0.0, "first0"), (1.5, "r0"), (2.5, "b0"), (3.5, "b1")]


async def test_window_mode_honours_a_429_pause(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=4.0, burst=4, window=1.0, jitter=0.0, recovery=100),
                         clock)
    async with bucket.slot():
        pass
    bucket.on_rate_limited(retry_after=2.0)
    rec = Recorder(bucket, clock)
    rec.start("r")
    await clock.advance(10)
    assert rec.times() == [2.0]  # one slot of four held, but the server said wait


async def test_a_cancelled_request_releases_its_slot(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1, window=1.0, jitter=0.0), clock)
    rec = Recorder(bucket, clock)
    rec.start("hung", latency=100.0)
    await clock.advance(2.0)
    rec.start("next")
    await clock.advance(1.0)
    assert bucket.busy_slots() == 1 and rec.labels() == ["hung0"]
    rec.tasks[0].cancel()  # e.g. the client's timeout: the request ends at 3.0
    await clock.advance(10)
    assert rec.done == [(0.0, "hung0"), (4.0, "next0")]
    assert bucket.busy_slots() == 0


async def test_a_slot_dropped_without_release_is_freed(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=2.0, burst=2, window=1.0, jitter=0.0), clock)
    held = await bucket.acquire()
    await bucket.acquire()  # dropped at once
    await clock.advance(0.5)
    assert bucket.busy_slots() == 2  # one in flight, one completed at 0
    del held  # garbage: released now, at 0.5
    await clock.advance(0.75)
    assert bucket.busy_slots() == 1
    await clock.advance(0.25)
    assert bucket.busy_slots() == 0


async def test_without_a_window_slots_hold_nothing(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=2.0, burst=2), clock)
    held = await bucket.acquire()
    assert bucket.busy_slots() == 0 and bucket.tokens() == 1.0
    held.release()
    held.release()
    assert bucket.busy_slots() == 0


requests = st.lists(st.tuples(st.integers(0, 32),  # arrival, eighths of a second
                               st.integers(0, 40),  # latency, sixteenths
                               st.integers(0, 4),  # where the server stamps it, quarters
                               st.sampled_from(["realtime", "bulk"])),
                     min_size=1, max_size=25)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), requests)
def test_no_server_window_ever_holds_more_than_the_quota(n: int, plan: list) -> None:
    """Wherever between its send and its response the server stamps each request, no window
    (t - 1, t] of stamps holds more than n (binary-exact times, so no rounding helps)."""

    async def scenario() -> list[float]:
        clock = FakeClock(start=0.0)
        bucket = TokenBucket(RateLimit(rate=float(n), burst=n, window=1.0, jitter=0.0), clock)
        stamps: list[float] = []

        async def one(arrival: float, latency: float, where: float, lane: str) -> None:
            await clock.sleep(arrival)
            async with bucket.slot(lane):  # type: ignore[arg-type]
                sent = clock.now
                await clock.sleep(latency)
                stamps.append(sent + (clock.now - sent) * where)

        tasks = [asyncio.ensure_future(one(a / 8, lat / 16, w / 4, lane))
                 for a, lat, w, lane in plan]
        for _ in range(1000):
            if all(t.done() for t in tasks):
                break
            await clock.advance(0.25)
        assert all(t.done() for t in tasks)
        for t in tasks:
            t.result()
        return stamps

    stamps = sorted(asyncio.run(scenario()))
    assert len(stamps) == len(plan)
    assert max(sum(1 for u in stamps if t - 1.0 < u <= t) for t in stamps) <= n


async def test_share_takes_part_of_the_quota(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=4.0, burst=4), clock, share=0.25)
    assert bucket.full_rate == 1.0 and bucket.burst == 1.0
    rec = Recorder(bucket, clock)
    rec.start("r", count=3)
    await clock.advance(10)
    assert rec.times() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError):
        bucket.set_share(0)
    with pytest.raises(ValueError):
        TokenBucket(RateLimit(rate=1.0), clock, share=1.5)


async def test_realtime_goes_before_waiting_bulk(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock)
    await bucket.acquire("bulk")  # empties the bucket
    rec = Recorder(bucket, clock)
    rec.start("b", "bulk", count=3)
    await settle()
    rec.start("r", "realtime", count=2)  # arrive later, still served first
    await clock.advance(10)
    assert rec.labels() == ["r0", "r1", "b0", "b1", "b2"]
    assert rec.times() == [1.0, 2.0, 3.0, 4.0, 5.0]


async def test_realtime_arriving_midway_jumps_the_bulk_queue(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock)
    await bucket.acquire("bulk")
    rec = Recorder(bucket, clock)
    rec.start("b", "bulk", count=4)
    await clock.advance(2.5)
    assert rec.labels() == ["b0", "b1"]
    rec.start("r", "realtime")
    await clock.advance(10)
    assert rec.labels() == ["b0", "b1", "r0", "b2", "b3"]


async def test_bulk_runs_at_full_rate_when_realtime_is_idle(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=2.0, burst=1), clock)
    rec = Recorder(bucket, clock)
    rec.start("b", "bulk", count=5)
    await clock.advance(10)
    assert rec.times() == [0.0, 0.5, 1.0, 1.5, 2.0]


async def test_cancelled_waiter_does_not_block_the_queue(clock: FakeClock) -> None:
    bucket = TokenBucket(RateLimit(rate=1.0, burst=1), clock)
    await bucket.acquire()
    rec = Recorder(bucket, clock)
    rec.start("r", count=1)
    await settle()
    rec.tasks[0].cancel()
    await settle()
    rec.start("b", "bulk")
    await clock.advance(5)
    assert rec.labels() == ["b0"]
    assert bucket.waiting("realtime") == 0 and bucket.waiting("bulk") == 0


async def test_unknown_lane_is_rejected(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        await TokenBucket(RateLimit(rate=1.0), clock).acquire("urgent")  # type: ignore[arg-type]


def test_rate_limit_is_validated() -> None:
    with pytest.raises(ValueError):
        RateLimit(rate=0)
    with pytest.raises(ValueError):
        RateLimit(rate=1, burst=0.5)


def test_one_bucket_per_credential(clock: FakeClock) -> None:
    limiters = Limiters(clock)
    limit = RateLimit(rate=1.0)
    a = limiters.for_credential("tenant-a/holded", limit)
    assert limiters.for_credential("tenant-a/holded", limit) is a
    assert limiters.for_credential("tenant-b/holded", limit) is not a
