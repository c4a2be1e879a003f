"""Incremental polling state: pure functions of (old state, page, run start) -> new state.

One polling *run* walks a system's records in keyset order ``(modified time, id)``, never by
offset (an offset shifts under concurrent writes and skips records)::

    run = begin(state, started=now)              # signpost: the run's start, taken once
    while not run.finished:
        page = fetch(run.window(), limit=100)    # modified in [since, until], key > after
        run, fresh = advance(run, page, limit=100)
        emit(fresh)
    state = commit(run)                          # only after every page was fetched and emitted

Invariants (each has a test in tests/connectors/base/test_polling.py):

- The next run starts from the START of the last successful run (``started``), minus an
  ``overlap`` window, so a record written in the same second as the last read, or committed by
  a transaction that began before the run, is not missed.
- What the overlap brings again is dropped when its content hash was already emitted.
- A run never moves past its signpost: records modified after ``started`` are left for the
  next run (and a run ends when it meets one, as the order is by modified time).
- A failed run changes nothing: the caller simply does not ``commit`` (a :class:`Run` that is
  not finished refuses to commit), so the watermark never advances past a failure.
- Records with no modified time are accepted by an id high-water mark (``id_mark``): emitted
  only when their id is above the highest id seen before; in an id-keyed stream
  (``begin(..., by="id")``) that mark is the whole state.
- A page whose last key is not beyond the cursor raises :class:`PaginationLoop`.

States are frozen dataclasses that round-trip through JSON (``to_json`` / ``from_json``) so a
worker can keep them in a table and a new leader resumes where the old one stopped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from connectors.base.errors import ErrorContext, PaginationLoop

__all__ = ["DEFAULT_OVERLAP", "Observed", "PollState", "Run", "Window", "advance", "begin",
           "commit", "key_of"]

DEFAULT_OVERLAP = dt.timedelta(seconds=5)
Id = int | str
By = Literal["modified", "id"]
# Sort key of a record: undated records sort first (by id), dated ones by (time, id).
Key = tuple[int, str, Id]


@dataclass(frozen=True, slots=True)
class Observed:
    """One record as a page returned it: its id, modified time (tz-aware or None) and hash."""

    id: Id
    modified: dt.datetime | None
    content_hash: str
    record: Any = None

    def __post_init__(self) -> None:
        if self.modified is not None and self.modified.tzinfo is None:
            raise ValueError("modified times must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Seen:
    """A record emitted recently: kept while the overlap window can bring it again."""

    id: Id
    content_hash: str
    modified: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PollState:
    """What survives between runs. ``watermark`` is the start of the last successful run."""

    watermark: dt.datetime | None = None
    id_mark: Id | None = None
    recent: tuple[Seen, ...] = ()
    overlap_seconds: float = DEFAULT_OVERLAP.total_seconds()

    @property
    def overlap(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.overlap_seconds)

    def to_json(self) -> str:
        return json.dumps({
            "watermark": _ts(self.watermark), "id_mark": self.id_mark,
            "overlap_seconds": self.overlap_seconds,
            "recent": [[s.id, s.content_hash, _ts(s.modified)] for s in self.recent],
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> PollState:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            watermark=_parse_ts(data.get("watermark")), id_mark=data.get("id_mark"),
            overlap_seconds=float(data.get("overlap_seconds", DEFAULT_OVERLAP.total_seconds())),
            recent=tuple(Seen(i, h, _parse_ts(m)) for i, h, m in data.get("recent", [])),
        )


@dataclass(frozen=True, slots=True)
class Window:
    """What to ask the system for: ``since <= modified <= until`` and key > ``after``.

    ``since`` None means from the beginning; ``after`` None means from the first record.
    ``after_modified`` / ``after_id`` spell the keyset cursor for a query builder:
    ``modified > after_modified or (modified = after_modified and id > after_id)``.
    """

    by: By
    since: dt.datetime | None
    until: dt.datetime
    after_modified: dt.datetime | None
    after_id: Id | None
    id_mark: Id | None


@dataclass(frozen=True, slots=True)
class Run:
    """One run in progress. Pure value: :func:`advance` returns a new one."""

    base: PollState
    started: dt.datetime
    by: By = "modified"
    after: Key | None = None
    after_modified: dt.datetime | None = None
    emitted: tuple[Seen, ...] = ()
    id_high: Id | None = None
    finished: bool = False
    pages: int = 0
    id_signpost: Id | None = None
    _seen_keys: frozenset[tuple[Id, str]] = field(default=frozenset(), repr=False)

    def window(self) -> Window:
        since = None
        if self.by == "modified" and self.base.watermark is not None:
            since = self.base.watermark - self.base.overlap
        after_id = self.after[2] if self.after is not None else None
        if self.by == "id" and after_id is None:
            after_id = self.base.id_mark
        return Window(self.by, since, self.started, self.after_modified, after_id,
                      self.base.id_mark)


def key_of(record: Observed, by: By = "modified") -> Key:
    if record.modified is None or by == "id":
        return (0, "", record.id)
    return (1, record.modified.astimezone(dt.UTC).isoformat(), record.id)


def begin(state: PollState, started: dt.datetime, *, by: By = "modified",
          id_signpost: Id | None = None) -> Run:
    """Start a run; ``started`` (tz-aware, the system's clock if known) is the signpost.

    In an id-keyed run, ``id_signpost`` (the highest id when the run started, if the system
    can tell) plays that role: ids above it are left for the next run.
    """
    if started.tzinfo is None:
        raise ValueError("started must be timezone-aware")
    recent = frozenset((s.id, s.content_hash) for s in state.recent)
    return Run(base=state, started=started, by=by, id_signpost=id_signpost, _seen_keys=recent)


def _past(run: Run, record: Observed) -> bool:
    if run.by == "id":
        return run.id_signpost is not None and _id_gt(record.id, run.id_signpost)
    return record.modified is not None and record.modified > run.started


def advance(run: Run, page: Sequence[Observed], *, limit: int) -> tuple[Run, list[Observed]]:
    """Take one page (in keyset order); return the new run and the records to emit."""
    if run.finished:
        raise ValueError("the run is finished; commit it or begin a new one")
    fresh: list[Observed] = []
    seen = set(run._seen_keys)
    emitted = list(run.emitted)
    id_high = run.id_high
    after, after_modified = run.after, run.after_modified
    past_signpost = False
    for record in page:
        if _past(run, record):
            past_signpost = True  # keyset order: everything after it is past too
            break
        key = key_of(record, run.by)
        if after is not None and _cmp(key, after) <= 0:
            raise PaginationLoop(f"page went back to {record.id!r} at or before the cursor",
                                 context=ErrorContext("polling"))
        after, after_modified = key, record.modified
        if record.modified is None or run.by == "id":
            if run.base.id_mark is not None and not _id_gt(record.id, run.base.id_mark):
                continue
            id_high = record.id if id_high is None or _id_gt(record.id, id_high) else id_high
        if (record.id, record.content_hash) in seen:
            continue  # the overlap brought it again, unchanged
        seen.add((record.id, record.content_hash))
        emitted.append(Seen(record.id, record.content_hash, record.modified))
        fresh.append(record)
    finished = past_signpost or len(page) < limit
    if page and not past_signpost and after == run.after:
        raise PaginationLoop("a full page did not move the cursor", context=ErrorContext("polling"))
    return replace(run, after=after, after_modified=after_modified, emitted=tuple(emitted),
                   id_high=id_high, finished=finished, pages=run.pages + 1,
                   _seen_keys=frozenset(seen)), fresh


def commit(run: Run) -> PollState:
    """The state after a successful run; refuses a run that did not reach its end."""
    if not run.finished:
        raise ValueError("only a finished run can be committed")
    base = run.base
    watermark = run.started
    if run.by == "id":
        watermark = base.watermark
    elif base.watermark is not None and base.watermark > watermark:
        watermark = base.watermark  # a clock that went backwards must not move us back
    id_mark = base.id_mark
    if run.id_high is not None and (id_mark is None or _id_gt(run.id_high, id_mark)):
        id_mark = run.id_high
    return PollState(watermark=watermark, id_mark=id_mark,
                     recent=_still_in_overlap((*base.recent, *run.emitted), watermark, base),
                     overlap_seconds=base.overlap_seconds)


def _still_in_overlap(seen: Iterable[Seen], watermark: dt.datetime | None,
                      base: PollState) -> tuple[Seen, ...]:
    """Dated records the next window will bring again; newest hash per id wins."""
    if watermark is None:
        return ()
    since = watermark - base.overlap
    latest: dict[Id, Seen] = {}
    for s in seen:
        if s.modified is not None and s.modified >= since:
            current = latest.get(s.id)
            if current is None or current.modified is None or s.modified >= current.modified:
                latest[s.id] = s
    return tuple(sorted(latest.values(), key=lambda s: (s.modified, str(s.id))))


def _cmp(a: Key, b: Key) -> int:
    if a[:2] != b[:2]:
        return -1 if a[:2] < b[:2] else 1
    if a[2] == b[2]:
        return 0
    return 1 if _id_gt(a[2], b[2]) else -1


def _id_gt(a: Id, b: Id) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a > b
    return str(a) > str(b)


def _ts(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
