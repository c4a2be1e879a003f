"""Offline checks of the deployment artefacts: Kubernetes manifests, the compose file, the dashboard.

Kubernetes: every built-in kind is validated (strict: unknown fields are errors) against the
schemas bundled in the `kubernetes-validate` package, for each requested Kubernetes version; the
CRDs we use (Strimzi KafkaTopic, Prometheus Operator ServiceMonitor and PrometheusRule) against the schemas in
`deploy/schemas/`. A kind with no schema is an error, never a silent skip. Then the references
that schemas cannot see: Services, PDBs and NetworkPolicies select the workers (and a policy's
named ports exist on them), the ServiceMonitor selects exactly
one Service and names its port, volume mounts and probe ports exist, env sources exist.

Usage (deploy/validate.sh runs these):
    python deploy/validate_manifests.py k8s [--k8s-version 1.30.0 ...] [--external F] [--context F] FILE...
    python deploy/validate_manifests.py compose docker-compose.yml
    python deploy/validate_manifests.py dashboard k8s/grafana-dashboard.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = ["METRICS", "load_docs", "validate_schema", "check_references", "check_compose", "check_dashboard"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafkatopic-kafka.strimzi.io-v1beta2.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring.coreos.com-v1.json",
}
# The worker's metrics (app/metrics.py), with their kind; the dashboard may use only these.
METRICS = {
    "holded_sync_events_total": "counter",
    "holded_sync_conflicts_total": "counter",
    "holded_sync_commands_total": "counter",
    "holded_sync_dlq_records": "gauge",
    "holded_sync_parked_commands": "gauge",
    "holded_sync_api_calls_total": "counter",
    "holded_sync_api_rate_limited_total": "counter",
    "holded_sync_api_latency_seconds": "histogram",
    "holded_sync_limiter_tokens": "gauge",
    "holded_sync_limiter_waiting_requests": "gauge",
    "holded_sync_consumer_lag_records": "gauge",
    "holded_sync_replay_progress_ratio": "gauge",
    "holded_sync_replay_done_records": "gauge",
    "holded_sync_replay_planned_records": "gauge",
}
Doc = dict[str, Any]


def load_docs(path: Path) -> list[Doc]:
    with path.open() as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc]


def name_of(doc: Doc) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


# -- schemas ---------------------------------------------------------------------------------


def validate_schema(doc: Doc, versions: Iterable[str]) -> list[str]:
    import jsonschema
    import kubernetes_validate

    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CRD_SCHEMAS:
        schema = json.loads((SCHEMA_DIR / CRD_SCHEMAS[key]).read_text())
        validator = jsonschema.Draft202012Validator(schema)
        return [f"{name_of(doc)}: {e.json_path}: {e.message}" for e in validator.iter_errors(doc)]
    errors = []
    for version in versions:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return [f"{name_of(doc)}: no schema for {key} (add one to deploy/schemas/)"]
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            errors.append(f"{name_of(doc)} (k8s {version}): {path}: {exc.message}")
    return errors


# -- references ------------------------------------------------------------------------------


def _pod_templates(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc in docs:
        if doc["kind"] in ("StatefulSet", "Deployment", "DaemonSet", "Job"):
            yield doc, doc["spec"]["template"]


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_references(docs: list[Doc], external: Iterable[Doc] = ()) -> list[str]:
    errors: list[str] = []
    by_kind: dict[str, dict[str, Doc]] = {}  # what may be referred to
    for doc in [*docs, *external]:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    own = {doc["kind"]: [d for d in docs if d["kind"] == doc["kind"]] for doc in docs}
    pods = [(owner, tpl.get("metadata", {}).get("labels", {})) for owner, tpl in _pod_templates(docs)]

    for owner, template in _pod_templates(docs):
        spec = template["spec"]
        volumes = {v["name"] for v in spec.get("volumes", [])}
        volumes |= {c["metadata"]["name"] for c in owner["spec"].get("volumeClaimTemplates", [])}
        for container in spec["containers"]:
            where = f"{name_of(owner)} container {container['name']}"
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    errors.append(f"{where}: mounts unknown volume {mount['name']!r}")
            for source in container.get("envFrom", []):
                for ref_key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    ref = source.get(ref_key)
                    if ref and not ref.get("optional") and ref["name"] not in by_kind.get(kind, {}):
                        errors.append(f"{where}: envFrom {kind} {ref['name']!r} does not exist")
            ports = {p.get("name") for p in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = container.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{where}: {probe} uses unknown port {port!r}")
        if owner["kind"] == "StatefulSet":
            service = by_kind.get("Service", {}).get(owner["spec"]["serviceName"])
            if service is None or service["spec"].get("clusterIP") != "None":
                errors.append(f"{name_of(owner)}: serviceName must name a headless Service")
            selector = owner["spec"]["selector"]["matchLabels"]
            if not _matches(selector, template["metadata"]["labels"]):
                errors.append(f"{name_of(owner)}: selector does not match its pod template")

    for service in own.get("Service", []):
        if not any(_matches(service["spec"].get("selector", {}), labels) for _, labels in pods):
            errors.append(f"{name_of(service)}: selects no pod template")
    for pdb in own.get("PodDisruptionBudget", []):
        if not any(_matches(pdb["spec"]["selector"]["matchLabels"], labels) for _, labels in pods):
            errors.append(f"{name_of(pdb)}: selects no pod template")
    for policy in own.get("NetworkPolicy", []):
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        selected = [owner for owner, tpl in _pod_templates(docs)
                    if _matches(selector, tpl.get("metadata", {}).get("labels", {}))]
        if not selected:
            errors.append(f"{name_of(policy)}: selects no pod template")
        for owner in selected:
            named = {p.get("name") for c in owner["spec"]["template"]["spec"]["containers"]
                     for p in c.get("ports", [])}
            for rule in policy["spec"].get("ingress", []):
                for port in rule.get("ports", []):
                    if isinstance(port.get("port"), str) and port["port"] not in named:
                        errors.append(f"{name_of(policy)}: port {port['port']!r} not on {name_of(owner)}")
    for monitor in own.get("ServiceMonitor", []):
        selected = [
            s for s in by_kind.get("Service", {}).values()
            if _matches(monitor["spec"]["selector"].get("matchLabels", {}), s["metadata"].get("labels", {}))
        ]
        if len(selected) != 1:
            errors.append(f"{name_of(monitor)}: selects {len(selected)} Services (want 1: no double scrape)")
        for service in selected:
            ports = {p.get("name") for p in service["spec"]["ports"]}
            for endpoint in monitor["spec"]["endpoints"]:
                if endpoint.get("port") not in ports:
                    errors.append(f"{name_of(monitor)}: port {endpoint.get('port')!r} not on {name_of(service)}")
    return errors


# -- compose ---------------------------------------------------------------------------------


def check_compose(path: Path) -> list[str]:
    """What the Compose JSON Schema cannot see: dangling names and missing files."""
    compose = yaml.safe_load(path.read_text())
    root = path.parent
    services = compose.get("services", {})
    volumes = set(compose.get("volumes") or {})
    errors = []
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for target in depends if isinstance(depends, (list, dict)) else []:
            if target not in services:
                errors.append(f"service {name}: depends_on unknown service {target!r}")
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/")):
                if not (root / source).exists():
                    errors.append(f"service {name}: bind mount source {source!r} does not exist")
            elif source and source not in volumes:
                errors.append(f"service {name}: named volume {source!r} not declared")
        build = service.get("build")
        if build is not None:
            context = root / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not (context / dockerfile).is_file():
                errors.append(f"service {name}: no {dockerfile} in build context {context}")
    return errors


# -- dashboard -------------------------------------------------------------------------------

_METRIC_RE = re.compile(r"\bholded_sync_[a-z_]+")


def _panels(panels: list[Doc]) -> Iterator[Doc]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def check_dashboard(path: Path) -> list[str]:
    """Valid JSON, every expression names a known metric (with the right suffix), all are shown."""
    dashboard = json.loads(path.read_text())
    errors, used = [], set()
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            for metric in _METRIC_RE.findall(target.get("expr", "")):
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                if metric in METRICS and METRICS[metric] != "histogram":
                    used.add(metric)
                elif base in METRICS and METRICS[base] == "histogram" and metric != base:
                    used.add(base)
                else:
                    errors.append(f"panel {panel.get('title')!r}: unknown metric {metric!r}")
    errors += [f"no panel shows {m}" for m in sorted(set(METRICS) - used)]
    return errors


# -- CLI -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="offline checks of the deployment artefacts")
    sub = parser.add_subparsers(dest="what", required=True)
    k8s = sub.add_parser("k8s")
    k8s.add_argument("--k8s-version", action="append", default=[])
    k8s.add_argument("--external", action="append", default=[], type=Path,
                     help="manifests created out of band (the Secret), validated and referable")
    k8s.add_argument("--context", action="append", default=[], type=Path,
                     help="rendered manifests the files may refer to (validated in their own run)")
    k8s.add_argument("files", nargs="+", type=Path)
    sub.add_parser("compose").add_argument("file", type=Path)
    sub.add_parser("dashboard").add_argument("file", type=Path)
    args = parser.parse_args(argv)

    errors: list[str] = []
    if args.what == "k8s":
        versions = args.k8s_version or ["1.30.0"]
        external = [doc for path in args.external for doc in load_docs(path)]
        for doc in external:
            errors += validate_schema(doc, versions)
        external += [doc for path in args.context for doc in load_docs(path)]
        for path in args.files:
            docs = load_docs(path)
            file_errors = [e for doc in docs for e in validate_schema(doc, versions)]
            file_errors += check_references(docs, external)
            errors += [f"{path}: {e}" for e in file_errors]
            print(f"{'ok' if not file_errors else 'FAIL'}: {path} ({len(docs)} resources, k8s {', '.join(versions)})")
    elif args.what == "compose":
        errors = check_compose(args.file)
    else:
        errors = check_dashboard(args.file)
    for error in errors:
        print(f"  error: {error}", file=sys.stderr)
    if args.what != "k8s":
        print(f"{'ok' if not errors else 'FAIL'}: {args.file}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
