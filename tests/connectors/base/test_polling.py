"""Pure tests of connectors.base.polling: keyset runs, overlap dedup, signposts, id marks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base.errors import PaginationLoop
from connectors.base.polling import (
    Observed,
    PollState,
    Run,
    Window,
    advance,
    begin,
    commit,
    key_of,
)

T0 = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def fetch(records: Sequence[Observed], window: Window, limit: int) -> list[Observed]:
    """What a well-behaved system returns for a window (the query a source builds)."""
    rows = []
    for r in records:
        if window.by == "modified" and r.modified is not None:
            if window.since is not None and r.modified < window.since:
                continue
        if window.by == "modified" and r.modified is None and window.id_mark is not None:
            if not (isinstance(r.id, int) and r.id > window.id_mark):
                continue
        if window.by == "id" and window.after_id is not None and r.id <= window.after_id:
            continue
        rows.append(r)
    rows.sort(key=lambda r: key_of(r, window.by))
    if window.by == "modified" and (window.after_modified or window.after_id is not None):
        cursor = key_of(Observed(window.after_id, window.after_modified, ""), "modified")
        rows = [r for r in rows if key_of(r) > cursor]
    return rows[:limit]


def run_all(state: PollState, records: Sequence[Observed], started: dt.datetime, limit: int = 3,
            **kw: object) -> tuple[PollState, list[Observed]]:
    run = begin(state, started, **kw)  # type: ignore[arg-type]
    out: list[Observed] = []
    while not run.finished:
        run, fresh = advance(run, fetch(records, run.window(), limit), limit=limit)
        out += fresh
    return commit(run), out


def obs(i: int, t: float | None, h: str = "") -> Observed:
    return Observed(i, at(t) if t is not None else None, h or f"h{i}@{t}")


def test_first_run_emits_everything_in_keyset_order_and_watermark_is_run_start() -> None:
    records = [obs(3, 10), obs(1, 10), obs(2, 5), obs(4, 20)]
    state, out = run_all(PollState(), records, started=at(100), limit=2)
    assert [r.id for r in out] == [2, 1, 3, 4]
    assert state.watermark == at(100)  # the START of the run, not the newest write_date


def test_next_run_asks_from_watermark_minus_overlap() -> None:
    state = PollState(watermark=at(100), overlap_seconds=5)
    window = begin(state, at(200)).window()
    assert window.since == at(95) and window.until == at(200)
    assert window.after_modified is None and window.after_id is None


def test_overlap_brings_records_again_and_they_are_deduplicated() -> None:
    records = [obs(1, 98), obs(2, 99)]
    state, first = run_all(PollState(overlap_seconds=5), records, started=at(100))
    assert len(first) == 2
    state2, second = run_all(state, records, started=at(200))
    assert second == []  # same ids, same hashes: the overlap's echoes are dropped
    changed = [obs(1, 98), Observed(2, at(99), "new-hash")]  # a same-second change, other content
    _, third = run_all(state2, changed, started=at(300))
    assert third == []  # 99 < 300 - 5: outside the window now


def test_same_second_change_committed_late_is_caught_by_the_overlap() -> None:
    state, _ = run_all(PollState(overlap_seconds=5), [obs(1, 90)], started=at(100))
    # A transaction that began at 99 commits after the run read: write_date 99 < watermark 100.
    late = [obs(1, 90), obs(7, 99)]
    _, out = run_all(state, late, started=at(200))
    assert [r.id for r in out] == [7]


def test_cursor_never_passes_the_signpost() -> None:
    records = [obs(1, 10), obs(2, 150), obs(3, 160)]  # 2 and 3 written while the run was going
    state, out = run_all(PollState(), records, started=at(100), limit=10)
    assert [r.id for r in out] == [1]
    _, later = run_all(state, records, started=at(300))
    assert [r.id for r in later] == [2, 3]


def test_failed_run_does_not_move_the_watermark() -> None:
    state = PollState(watermark=at(100))
    run = begin(state, at(200))
    run, _ = advance(run, [obs(1, 150), obs(2, 160)], limit=2)  # then the next page fails
    with pytest.raises(ValueError):
        commit(run)  # an unfinished run cannot commit; the caller keeps ``state``
    assert begin(state, at(300)).window().since == at(95)


def test_a_page_that_repeats_raises_pagination_loop() -> None:
    page = [obs(1, 10), obs(2, 11)]
    run, _ = advance(begin(PollState(), at(100)), page, limit=2)
    with pytest.raises(PaginationLoop):
        advance(run, page, limit=2)  # the API ignored the cursor


def test_a_page_out_of_order_raises_pagination_loop() -> None:
    with pytest.raises(PaginationLoop):
        advance(begin(PollState(), at(100)), [obs(2, 11), obs(1, 10)], limit=5)


def test_finished_run_refuses_more_pages() -> None:
    run, _ = advance(begin(PollState(), at(100)), [obs(1, 1)], limit=5)
    assert run.finished
    with pytest.raises(ValueError):
        advance(run, [], limit=5)


def test_records_without_modified_time_use_the_id_high_water_mark() -> None:
    records = [obs(1, None), obs(2, None), obs(3, 10)]
    state, out = run_all(PollState(), records, started=at(100))
    assert sorted(r.id for r in out) == [1, 2, 3] and state.id_mark == 2
    records.append(obs(5, None))
    state2, out2 = run_all(state, records, started=at(200))
    assert [r.id for r in out2] == [5] and state2.id_mark == 5


def test_id_keyed_stream_with_signpost() -> None:
    records = [obs(i, None) for i in range(1, 8)]
    state, out = run_all(PollState(), records, started=at(1), by="id", id_signpost=5)
    assert [r.id for r in out] == [1, 2, 3, 4, 5] and state.id_mark == 5
    state, out = run_all(state, records, started=at(2), by="id")
    assert [r.id for r in out] == [6, 7] and state.id_mark == 7


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        Observed(1, dt.datetime(2026, 1, 1), "h")
    with pytest.raises(ValueError):
        begin(PollState(), dt.datetime(2026, 1, 1))


def test_watermark_never_moves_back_when_the_clock_does() -> None:
    state = PollState(watermark=at(500))
    new, _ = run_all(state, [], started=at(400))
    assert new.watermark == at(500)


# ---- properties -------------------------------------------------------------------------

ids = st.integers(min_value=1, max_value=6)
writes = st.lists(st.tuples(ids, st.integers(0, 300), st.integers(0, 4)), max_size=25)
run_times = st.lists(st.integers(0, 320), min_size=1, max_size=6).map(sorted)


@settings(max_examples=150, deadline=None)
@given(writes=writes, runs=run_times, limit=st.integers(1, 4), overlap=st.integers(5, 8))
def test_no_change_is_missed_and_none_is_emitted_twice(
    writes: list[tuple[int, int, int]], runs: list[int], limit: int, overlap: int
) -> None:
    """Writes become visible up to 4 s after their write_date (long transactions); runs at
    random times, then one final run, see every record's last content exactly once."""
    history: dict[int, list[tuple[int, int, str]]] = {}  # id -> [(write_ts, visible_ts, hash)]
    for n, (rid, ts, delay) in enumerate(sorted(writes, key=lambda w: w[1])):
        history.setdefault(rid, []).append((ts, ts + delay, f"{rid}:{n}"))

    def snapshot(now: int) -> list[Observed]:
        rows = []
        for rid, versions in history.items():
            visible = [v for v in versions if v[1] <= now]
            if visible:
                ts, _, h = max(visible, key=lambda v: v[0])
                rows.append(Observed(rid, at(ts), h))
        return rows

    state = PollState(overlap_seconds=overlap)
    emitted: list[tuple[int, str]] = []
    for now in [*runs, 1000]:
        state, out = run_all(state, snapshot(now), started=at(now), limit=limit)
        assert all(r.modified is not None and r.modified <= at(now) for r in out)
        emitted += [(int(r.id), r.content_hash) for r in out]
        state = PollState.from_json(state.to_json())  # survives a leader change
    assert len(emitted) == len(set(emitted)), "an unchanged record was emitted twice"
    final = {(int(r.id), r.content_hash) for r in snapshot(1000)}
    assert final <= set(emitted), "a record's last content was never emitted"


@given(
    watermark=st.none() | st.datetimes(timezones=st.just(dt.UTC)),
    id_mark=st.none() | st.integers() | st.text(max_size=5),
    recent=st.lists(st.tuples(st.integers(), st.text(max_size=8),
                              st.none() | st.datetimes(timezones=st.just(dt.UTC))), max_size=4),
)
def test_state_round_trips_through_json(watermark, id_mark, recent) -> None:  # type: ignore[no-untyped-def]
    from connectors.base.polling import Seen

    state = PollState(watermark=watermark, id_mark=id_mark,
                      recent=tuple(Seen(i, h, m) for i, h, m in recent), overlap_seconds=3.5)
    assert PollState.from_json(state.to_json()) == state
    assert PollState.from_json(None) == PollState() == PollState.from_json("")


def test_run_is_a_value() -> None:
    run = begin(PollState(), at(100))
    advanced, _ = advance(run, [obs(1, 1)], limit=5)
    assert isinstance(advanced, Run) and run.pages == 0 and not run.finished
