#!/usr/bin/env bash
# Offline validation of the deployment artefacts (CI runs it; so does tests/deploy).
#   1. renders every kustomization (base, base/replay, overlays/production, .../replay) with
#      kustomize v5: `kubectl kustomize` when kubectl bundles kustomize v5, else a `kustomize`
#      binary on PATH or in the venv, else builds the pinned one from the Go module proxy;
#   2. validates every rendered manifest (strict) against the Kubernetes JSON schemas bundled in
#      the PyPI package kubernetes-validate, the CRDs against deploy/schemas/, and cross-references;
#   3. validates docker-compose.yml against the Compose Specification JSON Schema vendored in
#      check-jsonschema (plus `docker compose config -q` when a compose plugin is installed), and
#      what a schema cannot see (dangling service/volume names, missing bind-mount files);
#   4. checks the Grafana dashboard's metric names and that k8s/base/kafka-topics.yaml is current.
# Needs network only to install the pinned tools the first time (PyPI, Go module proxy).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
OUT="${OUT:-$ROOT/.cache/deploy-render}"
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.33.0}"   # oldest and newest we claim to support

KUBERNETES_VALIDATE_VERSION=1.37.0
CHECK_JSONSCHEMA_VERSION=0.38.0  # 0.38.2+ needs click>=8.5; faust-streaming caps click<8.4
KUSTOMIZE_VERSION=v5.5.0

log() { printf '== %s\n' "$*"; }

[[ -x "$PY" ]] || { echo "no Python venv at $VENV (set VENV=...)" >&2; exit 2; }

# -- pinned Python tools, installed into the project venv on first use ------------------------
installed_version() { "$PY" -c "import importlib.metadata as m, sys
try: print(m.version(sys.argv[1]))
except m.PackageNotFoundError: pass" "$1"; }
need=()
[[ "$(installed_version kubernetes-validate)" == "$KUBERNETES_VALIDATE_VERSION" ]] \
  || need+=("kubernetes-validate==$KUBERNETES_VALIDATE_VERSION")
[[ "$(installed_version check-jsonschema)" == "$CHECK_JSONSCHEMA_VERSION" ]] \
  || need+=("check-jsonschema==$CHECK_JSONSCHEMA_VERSION")
if (( ${#need[@]} )); then
  log "installing ${need[*]} into $VENV"
  # Never move the project's own dependencies: pin everything holded-sync needs (transitively)
  # to what is installed, so a tool whose requirements clash fails here instead.
  mkdir -p "$ROOT/.cache"
  "$PY" - > "$ROOT/.cache/deploy-constraints.txt" <<'PYEOF'
import importlib.metadata as md, re
seen, todo = set(), ["holded-sync"]
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    seen.add(name)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    if name != "holded-sync":
        print(f"{name}=={dist.version}")
    for req in dist.requires or []:
        if "extra ==" not in req:
            todo.append(re.match(r"[A-Za-z0-9._-]+", req).group(0))
PYEOF
  "$VENV/bin/pip" install --quiet -c "$ROOT/.cache/deploy-constraints.txt" "${need[@]}"
fi

# -- kustomize ----------------------------------------------------------------------------------
KUSTOMIZE=()
if command -v kubectl >/dev/null 2>&1 \
   && kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v5'; then
  KUSTOMIZE=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1 && kustomize version 2>/dev/null | grep -q '^v5'; then
  KUSTOMIZE=(kustomize build)
elif [[ -x "$VENV/bin/kustomize" ]]; then
  KUSTOMIZE=("$VENV/bin/kustomize" build)
elif command -v go >/dev/null 2>&1; then
  log "building kustomize $KUSTOMIZE_VERSION into $VENV/bin (Go module proxy)"
  GOBIN="$VENV/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  KUSTOMIZE=("$VENV/bin/kustomize" build)
else
  echo "no kustomize v5: install kubectl (bundles it), kustomize, or Go to build it" >&2
  exit 2
fi
log "rendering with: ${KUSTOMIZE[*]}"

rm -rf "$OUT" && mkdir -p "$OUT"
render() {  # render KUSTOMIZATION_DIR OUTPUT_NAME
  "${KUSTOMIZE[@]}" "$ROOT/$1" > "$OUT/$2.yaml"
  echo "rendered $1 -> $OUT/$2.yaml"
}
render k8s/base base
render k8s/base/replay base-replay
render k8s/overlays/production production
render k8s/overlays/production/replay production-replay

# -- Kubernetes manifests -----------------------------------------------------------------------
versions=()
for v in $K8S_VERSIONS; do versions+=(--k8s-version "$v"); done
secret=(--external "$ROOT/k8s/base/secret.example.yaml")
VALIDATE=("$PY" "$ROOT/deploy/validate_manifests.py")
log "validating manifests (k8s $K8S_VERSIONS)"
"${VALIDATE[@]}" k8s "${versions[@]}" "${secret[@]}" "$OUT/base.yaml" "$OUT/production.yaml"
"${VALIDATE[@]}" k8s "${versions[@]}" "${secret[@]}" --context "$OUT/base.yaml" "$OUT/base-replay.yaml"
"${VALIDATE[@]}" k8s "${versions[@]}" "${secret[@]}" --context "$OUT/production.yaml" "$OUT/production-replay.yaml"

log "checking k8s/base/kafka-topics.yaml is what deploy/topics.py generates"
if ! "$PY" "$ROOT/deploy/topics.py" | diff -u "$ROOT/k8s/base/kafka-topics.yaml" - ; then
  echo "k8s/base/kafka-topics.yaml is stale: run '$PY deploy/topics.py > k8s/base/kafka-topics.yaml'" >&2
  exit 1
fi

# -- docker-compose ------------------------------------------------------------------------------
log "validating docker-compose.yml"
if docker compose version >/dev/null 2>&1; then
  docker compose -f "$ROOT/docker-compose.yml" config -q
  echo "ok: docker compose config -q"
else
  echo "(no docker compose plugin here: schema and reference checks only)"
fi
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$ROOT/docker-compose.yml"
"${VALIDATE[@]}" compose "$ROOT/docker-compose.yml"
bash -n "$ROOT/deploy/create-topics.sh" && echo "ok: deploy/create-topics.sh parses"
"$PY" -c "import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); assert c['scrape_configs'], 'no scrape config'" \
  "$ROOT/deploy/prometheus.yml" && echo "ok: deploy/prometheus.yml"

# -- dashboard -----------------------------------------------------------------------------------
log "checking the Grafana dashboard"
"${VALIDATE[@]}" dashboard "$ROOT/k8s/grafana-dashboard.json"

log "deploy validation passed"
