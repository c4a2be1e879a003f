"""Quota shares follow the command partitions a worker owns."""
from __future__ import annotations

from faust.types import TP

from app.connections import limiter_of
from app.quota_share import share_of
from connectors.base.limiter import RateLimit, TokenBucket

TOPICS = {"hs.commands.holded", "hs.commands.holded.bulk"}


def test_the_share_is_the_owned_partitions_over_all_counting_both_lanes_once() -> None:
    assigned = {TP("hs.commands.holded", 0), TP("hs.commands.holded.bulk", 0),
                TP("hs.commands.holded.bulk", 3), TP("hs.inbox", 1), TP("hs.inbox", 2)}
    assert share_of(assigned, TOPICS, 6) == 2 / 6  # partitions 0 and 3; the inbox is not counted


def test_a_worker_owning_no_command_partition_keeps_one_partitions_share_for_its_poller() -> None:
    assert share_of({TP("hs.inbox", 0)}, TOPICS, 6) == 1 / 6
    assert share_of(set(), TOPICS, 1) == 1.0


def test_limiters_are_found_on_the_client_or_its_transport() -> None:
    bucket = TokenBucket(RateLimit(rate=1.0))

    class Direct:
        limiter = bucket

    class Transport:
        limiter = bucket

    class Wrapped:
        transport = Transport()

    assert limiter_of(Direct()) is bucket and limiter_of(Wrapped()) is bucket
    assert limiter_of(object()) is None
