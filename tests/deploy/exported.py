"""What the worker's /metrics exports, read from the registry itself (not from a list kept by
hand): every series name a query may use, with the labels it carries. Alert rules and docs are
checked against it, so a renamed metric or label fails a test instead of a silent alert."""
from __future__ import annotations

from prometheus_client.metrics import MetricWrapperBase

import app.webhooks  # noqa: F401  registers holded_sync_webhooks on the worker's registry
from app.metrics import METRICS

__all__ = ["TARGET_LABELS", "exported_families", "exported_series"]

# Labels Prometheus adds to every series of a target: job/instance always, the rest from the
# ServiceMonitor (namespace, pod, service, endpoint, container; component by our relabeling).
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "service", "endpoint",
                           "container", "component"})
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
             "gauge": ("",), "summary": ("_sum", "_count", "_created")}


def exported_families() -> dict[str, tuple[str, frozenset[str]]]:
    """Family name -> (type, label names) of every collector on the worker's registry."""
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for collector in list(METRICS.registry._collector_to_names):  # the registry has no public list
        if isinstance(collector, MetricWrapperBase):
            out[collector._name] = (collector._type, frozenset(collector._labelnames))
            continue
        for family in collector.collect():  # custom collectors: labels from the family itself
            labels = set(getattr(family, "_labelnames", ()) or ())
            labels |= {k for s in family.samples for k in s.labels}
            out[family.name] = (family.type, frozenset(labels))
    return out


def exported_series() -> dict[str, frozenset[str]]:
    """Sample name (``holded_sync_events_total``, ``..._bucket``) -> its label names."""
    out: dict[str, frozenset[str]] = {}
    for name, (kind, labels) in exported_families().items():
        for suffix in _SUFFIXES.get(kind, ("",)):
            out[name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return out
