"""The Grafana dashboard in k8s/ queries only series the worker's /metrics serves: the dashboard
uses only deploy/validate_manifests.METRICS (checked by deploy/validate.sh), and those must be
what app/metrics.py really exposes."""
from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from app.metrics import METRICS, Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "k8s" / "grafana-dashboard.json"
NAME = re.compile(r"\b(holded_sync_[a-z0-9_]+)")


def served_names() -> set[str]:
    """Every sample name the registry exposes once each labelled series has a child."""
    m = Metrics()
    m.events.labels(topic="inbox", direction="in")
    m.decisions.labels(outcome="created")
    m.conflicts.labels(outcome="took_incoming")
    m.commands.labels(system="holded", outcome="succeeded")
    m.api_calls.labels(system="holded", status="200")
    m.api_rate_limited.labels(system="holded")
    m.api_latency.labels(system="holded")
    m.consumer_lag.labels(group="g", topic="inbox", partition="0")
    m.parked.labels(system="holded", reason="not_ready")
    from connectors.base.limiter import RateLimit, TokenBucket
    m.limiters["holded"] = TokenBucket(RateLimit(5))
    text = generate_latest(m.registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}


def test_every_series_of_the_dashboard_is_served():
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
              for v in json.loads(DASHBOARD.read_text())["templating"]["list"]]
    used = {n for e in exprs for n in NAME.findall(e)}
    served = served_names()
    assert used and used <= served, sorted(used - served)
    # The gauges the issue names are on the dashboard.
    assert {"holded_sync_consumer_lag_records", "holded_sync_limiter_tokens", "holded_sync_dlq_records",
            "holded_sync_parked_commands", "holded_sync_replay_progress_ratio"} <= used


def test_the_validator_knows_the_served_names_and_their_kinds():
    import importlib.util

    path = DASHBOARD.parents[1] / "deploy" / "validate_manifests.py"
    spec = importlib.util.spec_from_file_location("validate_manifests_names", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    served = served_names()
    for name, kind in module.METRICS.items():
        assert (f"{name}_bucket" if kind == "histogram" else name) in served, name
    assert not module.check_dashboard(DASHBOARD)


def test_the_worker_registry_serves_the_limiter_gauges():
    assert "# TYPE holded_sync_limiter_tokens gauge" in generate_latest(METRICS.registry).decode()
