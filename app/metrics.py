"""Prometheus metrics of the worker, served at /metrics on its web port."""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["METRICS", "Metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter("holded_sync_events", "Records read or written per topic",
                              ["topic", "direction"], registry=r)
        self.decisions = Counter("holded_sync_decisions", "Canonical decisions by outcome",
                                 ["outcome"], registry=r)
        self.conflicts = Counter("holded_sync_conflicts", "Conflicts settled, by outcome",
                                 ["outcome"], registry=r)
        self.commands = Counter("holded_sync_commands", "Command results by system and outcome",
                                ["system", "outcome"], registry=r)
        self.dlq_records = Counter("holded_sync_dlq_records", "Records sent to the dead-letter topic",
                                   registry=r)
        self.api_calls = Counter("holded_sync_api_calls", "External API calls by status",
                                 ["system", "status"], registry=r)
        self.api_rate_limited = Counter("holded_sync_api_rate_limited", "429 answers",
                                        ["system"], registry=r)
        self.api_latency = Histogram("holded_sync_api_latency_seconds", "External API latency",
                                     ["system"], registry=r)
        self.limiter_tokens = Gauge("holded_sync_limiter_tokens", "Tokens left in a limiter",
                                    ["system", "lane"], registry=r)
        self.consumer_lag = Gauge("holded_sync_consumer_lag", "Records behind the end of a partition",
                                  ["topic", "partition"], registry=r)
        self.replay_progress = Gauge("holded_sync_replay_progress_ratio",
                                     "Share of the topics a replay has read", registry=r)


METRICS = Metrics()
