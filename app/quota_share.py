"""Each worker spends the share of an API quota that matches the command partitions it owns.

One credential's quota is shared by every worker of the group: with ``P`` partitions per
command topic, a worker owning ``k`` of them (real-time and bulk lanes counted together, as
one entity's commands use one partition number in both) sets its limiters to ``k / P`` of
the quota after each rebalance, so the workers together never exceed it and a survivor of a
crash takes over the quota of the partitions it inherits. A worker that owns none keeps
``1 / P`` for its poller (the leader polls whether or not it owns command partitions); that
is the only way the sum can pass the quota, by at most one partition's share.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import faust
from faust.types import TP

from app.connections import limiter_of
from connectors.base.limiter import TokenBucket

__all__ = ["install_quota_shares", "share_of"]

logger = logging.getLogger(__name__)


def share_of(assigned: Iterable[TP], topics: set[str], partitions: int) -> float:
    """The quota share for owning ``assigned``'s partitions of ``topics`` (never 0)."""
    owned = {tp.partition for tp in assigned if tp.topic in topics}
    return max(1, len(owned)) / partitions


def install_quota_shares(app: faust.App, api: Mapping[str, Any], topics: Mapping[str, set[str]],
                         partitions: int) -> dict[str, TokenBucket]:
    """Re-share every system's limiter after each partition assignment."""
    buckets = {system: bucket for system, client in api.items()
               if system in topics and (bucket := limiter_of(client)) is not None}

    @app.on_partitions_assigned.connect
    async def _reshare(sender: Any, assigned: set[TP], **_: Any) -> None:
        for system, bucket in buckets.items():
            share = share_of(assigned, topics[system], partitions)
            if share != bucket.share:
                logger.info("%s quota share: %.3f -> %.3f (%.2f requests/s)", system,
                            bucket.share, share, bucket.limit.rate * share)
                bucket.set_share(share)

    return buckets
