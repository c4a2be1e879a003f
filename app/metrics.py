"""Prometheus metrics of the worker, served at /metrics on its web port.

Counters count what this worker did. Gauges sampled from Kafka (consumer lag, DLQ size, replay
progress; see app/observe.py) read the consumer groups as a whole, so every worker reports the
same value: aggregate them with ``max``. Parked commands are counted in this worker's ledger
partitions and limiter tokens in its own buckets: aggregate them with ``sum``.
Topic labels are logical names (``changes.odoo``, ``inbox``), without the deployment prefix.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["METRICS", "Metrics", "system_total"]


class _LimiterCollector(Collector):
    """Tokens and waiting requests of each system's limiter, read at scrape time."""

    def __init__(self, buckets: Mapping[str, Any]) -> None:
        self.buckets = buckets

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tokens = GaugeMetricFamily("holded_sync_limiter_tokens",
                                   "Requests a system's limiter would let through now", labels=["system"])
        waiting = GaugeMetricFamily("holded_sync_limiter_waiting_requests",
                                    "Requests waiting for a limiter token, by lane",
                                    labels=["system", "lane"])
        for system, bucket in sorted(self.buckets.items()):
            tokens.add_metric([system], bucket.tokens())
            for lane in ("realtime", "bulk"):
                waiting.add_metric([system, lane], bucket.waiting(lane))
        yield tokens
        yield waiting


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    limiters: dict[str, Any] = field(default_factory=dict)  # system -> TokenBucket

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter("holded_sync_events", "Records read (in) or written (out) per topic",
                              ["topic", "direction"], registry=r)
        self.decisions = Counter("holded_sync_decisions", "Canonical decisions by outcome",
                                 ["outcome"], registry=r)
        self.conflicts = Counter("holded_sync_conflicts", "Conflicts settled, by outcome",
                                 ["outcome"], registry=r)
        self.commands = Counter("holded_sync_commands", "Command results by system and outcome",
                                ["system", "outcome"], registry=r)
        self.dead_letters = Counter("holded_sync_dead_letters",
                                    "Records this worker sent to the dead-letter topic", registry=r)
        self.assignments = Counter("holded_sync_partition_assignments",
                                   "Partition assignments this worker received: one when it "
                                   "starts, then one per rebalance it takes part in",
                                   registry=r)
        self.resent_commands = Counter("holded_sync_resent_commands",
                                       "Commands emitted again: their outcome never came back "
                                       "(app/resend.py), or their change was read again after "
                                       "a crash (app/core/decide.py)", ["system"], registry=r)
        self.api_calls = Counter("holded_sync_api_calls", "External API calls by status",
                                 ["system", "status"], registry=r)
        self.api_rate_limited = Counter("holded_sync_api_rate_limited", "429 answers",
                                        ["system"], registry=r)
        self.api_latency = Histogram("holded_sync_api_latency_seconds", "External API latency",
                                     ["system"], registry=r)
        self.consumer_lag = Gauge("holded_sync_consumer_lag_records",
                                  "Records between a group's committed offset and the partition end",
                                  ["group", "topic", "partition"], registry=r)
        self.dlq_size = Gauge("holded_sync_dlq_records", "Records in the dead-letter topic",
                              registry=r)
        self.parked = Gauge("holded_sync_parked_commands",
                            "Commands parked in this worker's ledger partitions, by why they wait "
                            "(reason: mapping, not_ready, review)", ["system", "reason"],
                            registry=r)
        self.configured = Gauge("holded_sync_system_configured",
                                "1 for a system of HOLDED_SYNC_SYSTEMS whose credential is set (its "
                                "sink and poller run), 0 for one without (its commands wait)",
                                ["system"], registry=r)
        self.replay_progress = Gauge("holded_sync_replay_progress_ratio",
                                     "Share of inbox read of what stood there when this worker "
                                     "started (1 when caught up)", registry=r)
        self.replay_planned = Gauge("holded_sync_replay_planned_records",
                                    "Inbox records to read when this worker started", registry=r)
        self.replay_done = Gauge("holded_sync_replay_done_records",
                                 "Of those, records read so far", registry=r)
        r.register(_LimiterCollector(self.limiters))
        # The standard process_* series (CPU seconds, resident memory, open files), as any
        # Prometheus client exports them: the registry is our own, so they are added here.
        ProcessCollector(registry=r)


METRICS = Metrics()


def system_total(counter: Counter, system: str) -> int:
    """A counter's total over every label set of ``system`` (e.g. its API calls)."""
    return int(sum(s.value for m in counter.collect() for s in m.samples
                   if s.name.endswith("_total") and s.labels.get("system") == system))
