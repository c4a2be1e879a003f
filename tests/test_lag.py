"""Replay progress is a pure function of (offsets when fixed, ends then, offsets now)."""
from __future__ import annotations

from aiokafka import TopicPartition

from app.lag import Position, Progress

A, B = TopicPartition("inbox", 0), TopicPartition("inbox", 1)


def test_progress_counts_only_the_stretch_fixed_at_the_start():
    progress = Progress.fixed_at({A: Position(committed=10, end=30), B: Position(committed=5, end=5)})
    assert progress.planned == 20
    assert progress.done({A: 10, B: 5}) == 0 and progress.ratio({A: 10, B: 5}) == 0.0
    assert progress.done({A: 25, B: 5}) == 15
    # Records appended after the start are not part of it; a missing reading counts as no progress.
    assert progress.done({A: 90, B: 40}) == 20 and progress.ratio({A: 90}) == 1.0
    assert progress.done({B: 5}) == 0


def test_nothing_to_read_is_caught_up():
    progress = Progress.fixed_at({A: Position(committed=7, end=7)})
    assert progress.planned == 0 and progress.ratio({A: 7}) == 1.0


def test_a_committed_offset_behind_the_start_does_not_count_negative():
    progress = Progress.fixed_at({A: Position(committed=10, end=20)})
    assert progress.done({A: 3}) == 0
