"""The alert rules (deploy/alerts.yml for docker-compose's Prometheus, k8s/base/prometheusrule.yaml
for the Prometheus Operator) are evaluable and cover the states that need a person: every series
and label they name is one the worker exports, every label value they match on is one the code
can set, and the two files hold the same rules."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from app.avro import SCHEMA_DIR
from app.connections import NO_ANSWER_STATUSES
from connectors.base.contracts import PARKED_KINDS
from tests.deploy.exported import TARGET_LABELS, exported_series

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "alerts.yml"
OPERATOR_RULE = ROOT / "k8s" / "base" / "prometheusrule.yaml"
PROMETHEUS_OWN = {"up": frozenset()}  # series Prometheus makes itself, per target

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "bool", "offset", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?")

# Label values the code can set, where they are a closed set: a rule matching another value never
# fires. From the code and schemas; the webhook outcomes as docs/operations.md lists them (the
# receivers set them in several modules, with no constant to import).
_STATUSES = json.loads((SCHEMA_DIR / "CommandResult.avsc").read_text())
KNOWN_VALUES = {
    ("holded_sync_parked_commands", "reason"): set(PARKED_KINDS),
    ("holded_sync_commands_total", "outcome"): set(
        next(f for f in _STATUSES["fields"] if f["name"] == "status")["type"]["symbols"]),
    ("holded_sync_events_total", "direction"): {"in", "out"},
    ("holded_sync_webhooks_total", "outcome"): {
        "accepted", "replayed", "ignored", "handshake", "forged", "malformed", "toolarge",
        "badcontenttype", "failed"},
}


def references(expr: str) -> tuple[list[tuple[str, dict[str, str]]], set[str]]:
    """(series selectors as (name, {label: value or regex}), grouping labels) of a PromQL
    expression. Enough PromQL for our rules: selectors, ranges, functions, by/on clauses."""
    selectors: list[tuple[str, dict[str, str]]] = []
    grouping: set[str] = set()
    for match in _SELECTOR.finditer(expr):
        matchers = {label: value for label, _op, value in _MATCHER.findall(match.group(2))}
        selectors.append((match.group(1) or "", matchers))
    rest = _SELECTOR.sub(lambda m: m.group(1) or "", expr)
    for match in _GROUPING.finditer(rest):
        grouping |= {label.strip() for label in match.group(2).split(",") if label.strip()}
    rest = _GROUPING.sub(" ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", _STRING.sub(" ", rest))
    named = {name for name, _ in selectors}
    for name, call in _IDENT.findall(rest):
        if not call and name.lower() not in _KEYWORDS and name not in named:
            selectors.append((name, {}))
            named.add(name)
    return selectors, grouping


def check_rules(groups: list[dict], exported: dict[str, frozenset[str]]) -> list[str]:
    """Every series, label and closed-set label value a rule names is one that exists."""
    known = {**exported, **PROMETHEUS_OWN}
    errors: list[str] = []
    for group in groups:
        for rule in group["rules"]:
            if "record" in rule:  # a recorded series carries the labels it is aggregated by
                _, by = references(rule["expr"])
                known[rule["record"]] = frozenset(by)
    for group in groups:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            selectors, grouping = references(rule["expr"])
            usable = set(TARGET_LABELS)
            for series, matchers in selectors:
                if series not in known:
                    errors.append(f"{name}: {series!r} is not exported")
                    continue
                usable |= known[series]
                for label, value in matchers.items():
                    if label not in known[series] | TARGET_LABELS | {"__name__"}:
                        errors.append(f"{name}: {series} has no label {label!r}")
                    if (series, label) == ("holded_sync_api_calls_total", "status"):
                        # an HTTP code (or a regex of them), or a call that got no answer
                        words = set(re.findall(r"[a-z]+", value)) - set(NO_ANSWER_STATUSES)
                        errors += [f"{name}: {series}{{status}} is never {w!r}" for w in sorted(words)]
                    allowed = KNOWN_VALUES.get((series, label))
                    # a value, or a regex that is a list of values (a|b); other regexes pass
                    if allowed is not None and re.fullmatch(r"[\w|]+", value):
                        wanted = set(value.split("|"))
                        if wanted - allowed:
                            errors.append(f"{name}: {series}{{{label}}} is never "
                                          f"{sorted(wanted - allowed)} (it is one of {sorted(allowed)})")
            errors += [f"{name}: no series of it has a label {label!r}" for label in grouping - usable]
    return errors


def _groups(path: Path) -> list[dict]:
    doc = yaml.safe_load(path.read_text())
    return doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]


def _alerts() -> dict[str, dict]:
    return {r["alert"]: r for g in _groups(ALERTS) for r in g["rules"] if "alert" in r}


def test_compose_and_operator_rules_are_the_same_rules():
    assert _groups(ALERTS) == _groups(OPERATOR_RULE)


def test_compose_prometheus_loads_the_rules():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = dict(m.rsplit(":", 2)[:2] for m in compose["services"]["prometheus"]["volumes"]
                  if m.startswith("./"))
    assert {mounts["./deploy/alerts.yml"]} == set(config["rule_files"])


def test_the_operator_rule_is_in_the_base_kustomization():
    kustomization = yaml.safe_load((ROOT / "k8s" / "base" / "kustomization.yaml").read_text())
    assert OPERATOR_RULE.name in kustomization["resources"]


def test_every_series_label_and_value_the_rules_name_is_exported():
    assert check_rules(_groups(ALERTS), exported_series()) == []


@pytest.mark.parametrize("expr, error", [
    ("holded_sync_dead_letter_total > 0", "'holded_sync_dead_letter_total' is not exported"),
    ('sum by (system) (holded_sync_parked_commands{kind="mapping"}) > 0', "has no label 'kind'"),
    ('holded_sync_parked_commands{reason="unmapped"} > 0', "['unmapped']"),
    ('rate(holded_sync_commands_total{outcome=~"succeeded|done"}[5m])', "['done']"),
    ("sum by (lane) (rate(holded_sync_api_calls_total[5m]))", "no series of it has a label 'lane'"),
    ('rate(holded_sync_api_calls_total{status=~"5..|timedout"}[5m])', "is never 'timedout'"),
])
def test_the_rule_check_is_not_vacuous(expr, error):
    errors = check_rules([{"name": "g", "rules": [{"alert": "A", "expr": expr}]}], exported_series())
    assert any(error in e for e in errors), errors


def test_a_recorded_series_carries_only_its_aggregation_labels():
    groups = [{"name": "g", "rules": [
        {"record": "r:lag", "expr": "max by (topic) (holded_sync_consumer_lag_records)"},
        {"alert": "A", "expr": 'r:lag{group="x"} > 0'}]}]
    assert check_rules(groups, exported_series()) == ["A: r:lag has no label 'group'"]


def test_the_states_that_need_a_person_page_someone():
    alerts = _alerts()
    exprs = "\n".join(r["expr"] for g in _groups(ALERTS) for r in g["rules"])
    by_metric = lambda text: [n for n, r in alerts.items() if text in r["expr"]]  # noqa: E731
    # parked commands, one alert per reason kind (a different person acts on each)
    for kind in PARKED_KINDS:
        assert any(f'reason="{kind}"' in r["expr"] for r in alerts.values()), kind
    assert by_metric("holded_sync_dead_letters_total")
    assert "holded_sync_consumer_lag_records" in exprs and by_metric("holded_sync:consumer_lag_records")
    stuck = [r["expr"] for r in alerts.values() if "429" in r["expr"] and "5.." in r["expr"]]
    assert stuck and all(s in stuck[0] for s in NO_ANSWER_STATUSES)  # a sink stuck, or unanswered
    assert by_metric('holded_sync_replay_progress_ratio{component="replay"}')
    assert by_metric("up{")
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_alert_is_explained_in_the_operations_guide():
    text = (ROOT / "docs" / "operations.md").read_text()
    assert [name for name in _alerts() if f"`{name}`" not in text] == []
    outcomes = KNOWN_VALUES[("holded_sync_webhooks_total", "outcome")]
    assert [o for o in sorted(outcomes) if f"`{o}`" not in text] == []


def test_the_worker_down_rules_match_the_scrape_jobs():
    """`up` carries the scrape job's name: the headless Service's name under the Prometheus
    Operator (the ServiceMonitor sets no jobLabel), compose's job_name; the replay's job is not
    matched (its target is down while the batch job runs, by design)."""
    services = {d["metadata"]["name"]: d for d in yaml.safe_load_all((ROOT / "k8s/base/service.yaml").read_text())}
    monitor = yaml.safe_load((ROOT / "k8s/base/servicemonitor.yaml").read_text())
    assert "jobLabel" not in monitor["spec"]
    scraped = [n for n, s in services.items()
               if all(s["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())]
    compose_jobs = [j["job_name"] for j in yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())["scrape_configs"]]
    replay = yaml.safe_load_all((ROOT / "k8s/base/replay/metrics.yaml").read_text())
    replay_job = next(d["metadata"]["name"] for d in replay if d["kind"] == "Service")
    for name in ("HoldedSyncWorkerDown", "HoldedSyncNoWorker"):
        (series, matchers), = [s for s in references(_alerts()[name]["expr"])[0] if s[0] == "up"]
        job = re.compile(matchers["job"])
        assert all(job.fullmatch(j) for j in [*scraped, *compose_jobs]), name
        assert not job.fullmatch(replay_job), name
