"""EntryCache keeps at most ``size`` entries and drops the oldest-written first."""
from __future__ import annotations

from app.canonical_entry import Entry
from app.entry_cache import EntryCache


def entry() -> Entry:
    return Entry.of(None)


def test_bounded_and_the_oldest_written_goes_first() -> None:
    cache, entries = EntryCache(2), {k: entry() for k in (b"a", b"b", b"c")}
    cache.put(b"a", entries[b"a"])
    cache.put(b"b", entries[b"b"])
    cache.put(b"a", entries[b"a"])  # written again: now the newest
    cache.put(b"c", entries[b"c"])  # over the bound: b, the oldest written, goes
    assert len(cache) == 2
    assert cache.get(b"a", None) is entries[b"a"] and cache.get(b"c", None) is entries[b"c"]
    assert cache.get(b"b", None) is not entries[b"b"]  # decoded afresh
    assert (cache.hits, cache.misses) == (2, 1)


def test_size_zero_keeps_nothing() -> None:
    cache = EntryCache(0)
    cache.put(b"a", entry())
    assert len(cache) == 0
