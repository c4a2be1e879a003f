"""The deployment artefacts: deploy/validate.sh passes, and what matters holds in what it rendered.

The expected topic list is written out here on purpose, independent of deploy/topics.py, so that
a change to the generator that drops or renames a topic fails a test.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ["holded", "odoo", "business_central", "sap_b1", "prestashop", "shopify", "file"]
def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


# The worker's own plan (app/topics.py, via deploy/topics.py) is what every manifest must follow.
PLAN = _load("deploy_topics", ROOT / "deploy/topics.py").topic_specs()
CHANGELOGS = {t.name for t in PLAN if t.name.endswith("-changelog")}
COMPACTED = {t.name for t in PLAN if t.compacted}
FLOW = {t.name for t in PLAN if t.config.get("retention.ms") == -1}
EXPECTED_TOPICS = {t.name for t in PLAN}
assert {"inbox", "changes.holded", "commands.odoo.bulk", "retry.shopify", "mappings",
        "holded-sync-ledger-holded-changelog", "holded-sync-__assignor-__leader"} <= EXPECTED_TOPICS
PLACEHOLDER = re.compile(r"^(REPLACE_ME|CHANGE_ME|<[^>]*>|)$")
SECRET_KEYS = ("HOLDED_API_KEY", "HOLDED_SYNC_KAFKA_SASL_PASSWORD")

Doc = dict[str, Any]


def _load_validator():
    spec = importlib.util.spec_from_file_location("validate_manifests", ROOT / "deploy/validate_manifests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[Doc]]:
    """Runs deploy/validate.sh (it installs its pinned tools into this venv) and loads its renders."""
    out = tmp_path_factory.mktemp("deploy-render")
    env = {**os.environ, "OUT": str(out), "VENV": str(Path(sys.executable).parent.parent)}
    proc = subprocess.run(["bash", str(ROOT / "deploy/validate.sh")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"deploy/validate.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return {p.stem: [d for d in yaml.safe_load_all(p.read_text()) if d] for p in out.glob("*.yaml")}


def _of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: list[Doc], kind: str) -> Doc:
    (doc,) = _of_kind(docs, kind)
    return doc


def _topics(docs: list[Doc]) -> dict[str, Doc]:
    return {t["spec"].get("topicName", t["metadata"]["name"]): t for t in _of_kind(docs, "KafkaTopic")}


def test_every_kustomization_renders_and_validates(rendered):
    assert set(rendered) == {"base", "base-replay", "production", "production-replay"}


@pytest.mark.parametrize("render", ["base", "production"])
def test_every_topic_has_a_kafkatopic(rendered, render):
    assert set(_topics(rendered[render])) == EXPECTED_TOPICS


@pytest.mark.parametrize("render", ["base", "production"])
def test_compaction_retention_and_partitions(rendered, render):
    docs = rendered[render]
    partitions = int(_one(docs, "ConfigMap")["data"]["HOLDED_SYNC_PARTITIONS"])
    for name, topic in _topics(docs).items():
        spec, config = topic["spec"], topic["spec"].get("config", {})
        compacted = config.get("cleanup.policy") == "compact"
        assert compacted == (name in COMPACTED), name
        if name in FLOW:
            # Replaying from the beginning must find the beginning.
            assert config.get("retention.ms") == -1, name
        if name in FLOW or name in CHANGELOGS:
            # Source topics and table changelogs co-partitioned, as the worker is configured.
            assert spec["partitions"] == partitions, name
        assert spec["replicas"] >= 3 and config.get("min.insync.replicas") == 2, name


def test_compose_topic_init_creates_the_same_topics(rendered):
    out = subprocess.run(["bash", str(ROOT / "deploy/create-topics.sh")], env={**os.environ, "DRY_RUN": "1"},
                         capture_output=True, text=True, check=True).stdout
    created = {name: (int(parts), config) for name, parts, config in (l.split() for l in out.splitlines())}
    topics = _topics(rendered["base"])
    assert set(created) == EXPECTED_TOPICS
    for name, (partitions, config) in created.items():
        assert partitions == topics[name]["spec"]["partitions"], name
        assert (config == "cleanup.policy=compact") == (name in COMPACTED), name


@pytest.mark.parametrize("render", ["base", "production"])
def test_statefulset_keeps_tables_on_its_volume(rendered, render):
    docs = rendered[render]
    sts = _one(docs, "StatefulSet")
    data_dir = _one(docs, "ConfigMap")["data"]["HOLDED_SYNC_DATA_DIR"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert data_dir == "/var/lib/holded-sync" and mounts.get(data_dir) in claims
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {p["containerPort"] for p in container["ports"]} == {6066}
    assert sts["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["lifecycle"]["preStop"] and container["resources"]["limits"]
    assert {e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e}
    assert {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e} == {"holded-sync-secrets"}


@pytest.mark.parametrize("render", ["base", "production"])
def test_only_the_web_port_is_open_to_inbound_traffic(rendered, render):
    docs = rendered[render]
    policy = _one(docs, "NetworkPolicy")
    pod = _one(docs, "StatefulSet")["spec"]["template"]
    assert all(pod["metadata"]["labels"][k] == v for k, v in policy["spec"]["podSelector"]["matchLabels"].items())
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "web", "protocol": "TCP"}]
    (container,) = pod["spec"]["containers"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "web"  # the probes pass the policy


def test_overlay_changes_scale_and_image(rendered):
    base, prod = (_one(rendered[r], "StatefulSet") for r in ("base", "production"))
    assert base["spec"]["replicas"] == 2 and prod["spec"]["replicas"] > 2
    image = prod["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":0.1.0") and image != base["spec"]["template"]["spec"]["containers"][0]["image"]
    config = _one(rendered["production"], "ConfigMap")["data"]
    assert config["HOLDED_SYNC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


def test_replay_job_is_on_demand_only(rendered):
    for render in ("base", "production"):
        assert not _of_kind(rendered[render], "Job")
    job = _one(rendered["production-replay"], "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["replay", "--from-beginning"]
    jobs = int(container["args"][container["args"].index("--jobs") + 1])
    assert jobs <= float(container["resources"]["limits"]["cpu"])  # one process per CPU it has
    assert container["image"] == _one(rendered["production"], "StatefulSet")["spec"]["template"]["spec"]["containers"][0]["image"]


def test_no_secret_value_is_committed():
    for path in [*ROOT.glob("k8s/**/*.yaml"), ROOT / "docker-compose.yml"]:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            if doc.get("kind") == "Secret":
                values = {**doc.get("stringData", {}), **doc.get("data", {})}
                bad = {k: v for k, v in values.items() if not PLACEHOLDER.match(str(v))}
                assert not bad, f"{path}: Secret holds non-placeholder values for {sorted(bad)}"
            if doc.get("kind") == "ConfigMap":
                assert not set(doc["data"]) & set(SECRET_KEYS), f"{path}: secret in a ConfigMap"
            for service in (doc.get("services") or {}).values():
                env = service.get("environment") or {}
                for key in SECRET_KEYS:
                    # Compose may only interpolate secrets from the caller's environment.
                    assert key not in env or str(env[key]).startswith("${"), f"{path}: {key} inline"


def test_dockerfile_runs_the_worker_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["holded-sync"\]$', text, re.M)
    assert re.search(r'^CMD \["worker"\]$', text, re.M)
    user = re.search(r"^USER (\S+)$", text, re.M).group(1)
    assert not user.startswith(("0", "root"))
    assert "EXPOSE 6066" in text and "/healthz" in text and 'VOLUME ["/var/lib/holded-sync"]' in text
    assert "pip install" in text and "PYTHONPATH=/app" in text


def test_validator_is_not_vacuous(rendered):
    """Broken manifests are rejected: an unknown field, a bad CRD field, a double-scraped Service."""
    v = _load_validator()
    docs = copy.deepcopy(rendered["base"])
    sts = _one(docs, "StatefulSet")
    sts["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert v.validate_schema(sts, ["1.30.0"])
    topic = next(iter(_topics(docs).values()))
    topic["spec"]["partitions"] = "8"
    assert v.validate_schema(topic, ["1.30.0"])
    web = next(s for s in _of_kind(docs, "Service") if s["metadata"]["name"] == "holded-sync")
    web["metadata"]["labels"]["holded-sync/metrics"] = "true"
    assert any("selects 2 Services" in e for e in v.check_references(docs, []))
    assert v.validate_schema({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, ["1.30.0"])
    policy = _one(docs, "NetworkPolicy")
    policy["spec"]["ingress"][0]["ports"][0]["port"] = "http"
    assert any("port 'http' not on StatefulSet/holded-sync" in e for e in v.check_references(docs, []))
    rule = _one(docs, "PrometheusRule")
    rule["spec"]["groups"][1]["rules"][0]["for"] = "five minutes"
    rule["spec"]["groups"][1]["rules"][1]["severity"] = "critical"  # belongs under labels
    errors = v.validate_schema(rule, ["1.30.0"])
    assert any("five minutes" in e for e in errors) and any("severity" in e for e in errors)


def test_compose_checks_catch_dangling_names(tmp_path):
    v = _load_validator()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose["services"]["worker"]["depends_on"]["kafak"] = {"condition": "service_started"}
    compose["services"]["worker"]["volumes"].append("no-such-volume:/x")
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(compose))
    errors = v.check_compose(tmp_path / "docker-compose.yml")
    assert any("kafak" in e for e in errors) and any("no-such-volume" in e for e in errors)
    assert any("Dockerfile" in e for e in errors)  # tmp_path has no build context


def test_the_replay_pod_is_scraped(rendered):
    """The replay Job's worker reports the new generation's progress: a ServiceMonitor of the replay
    kustomization must reach its pod (the workers' one selects component: worker only)."""
    for render in ("base-replay", "production-replay"):
        docs = rendered[render]
        pod_labels = _one(docs, "Job")["spec"]["template"]["metadata"]["labels"]
        (monitor,) = _of_kind(docs, "ServiceMonitor")
        services = [s for s in _of_kind(docs, "Service")
                    if all(s["metadata"]["labels"].get(k) == v
                           for k, v in monitor["spec"]["selector"]["matchLabels"].items())]
        (service,) = services
        assert all(pod_labels.get(k) == v for k, v in service["spec"]["selector"].items())
        relabel = monitor["spec"]["endpoints"][0]["relabelings"]
        assert any(r.get("targetLabel") == "component" for r in relabel)


def test_compose_topic_init_and_worker_agree_on_names_and_partitions():
    """topic-init creates the topics the worker uses: same prefix, app id and partition count
    (a worker finding other counts stops; other names, it waits on topics nobody created)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    worker, init = services["worker"]["environment"], services["topic-init"]["environment"]
    assert worker["HOLDED_SYNC_TOPIC_PREFIX"] == init["TOPIC_PREFIX"]
    assert worker["HOLDED_SYNC_APP_ID"] == init["APP_ID"]
    assert worker["HOLDED_SYNC_PARTITIONS"] == init["PARTITIONS"] == services["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"]
    assert worker["HOLDED_SYNC_BROKER"].split("://")[1] == init["KAFKA_BOOTSTRAP"]
    assert int(worker["HOLDED_SYNC_WEB_PORT"]) == 6066 and "6066:6066" in services["worker"]["ports"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())["scrape_configs"]
    assert [t for job in scrape for c in job["static_configs"] for t in c["targets"]] == ["worker:6066"]


@pytest.mark.parametrize("render", ["base", "production"])
def test_probes_and_scrapes_reach_what_the_worker_serves(rendered, render):
    """The port the ConfigMap makes the worker bind is the container's `web` port, on every
    interface, and the probe and scrape paths are pages app/web.py registers."""
    docs = rendered[render]
    config = _one(docs, "ConfigMap")["data"]
    (container,) = _one(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(config["HOLDED_SYNC_WEB_PORT"]) == ports["web"]
    assert config["HOLDED_SYNC_WEB_HOST"] == "0.0.0.0"
    served = set(re.findall(r'@app\.page\("([^"]+)"\)', (ROOT / "app/web.py").read_text()))
    paths = {container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    paths |= {e["path"] for m in _of_kind(docs, "ServiceMonitor") for e in m["spec"]["endpoints"]}
    assert paths and paths <= served, paths - served
