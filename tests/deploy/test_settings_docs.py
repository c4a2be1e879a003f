"""Every setting an operator may set is in docs/deploy.md's configuration tables, what the
deployment files set is a setting, and every variable and repository file the docs name exists.
The variable names are derived from the settings models (app/settings.py), so a new setting
without a row, or a ConfigMap key with a typo (read by nothing, silently), fails here. Settings
added without docs (HOLDED_SYNC_NOT_READY_WAIT_S, HOLDED_SYNC_FIELD_OWNERS,
SHOPIFY_SHOP_TIMEZONE, SAP_B1_DIRECT_RATE...) went unnoticed before: the only check was on the
Grafana dashboard's metric names."""
from __future__ import annotations

import datetime as dt
import re
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from app.connections import CREDENTIAL_SETTING, SETTINGS_OF
from app.settings import _SECTIONS, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# Read by the code outside the models: load_settings() (the YAML file), and the pod's own name.
EXTRA = {"HOLDED_SYNC_CONFIG"}
POD_ONLY = {"POD_NAME"}


def settings_env() -> dict[str, tuple[object, bool]]:
    """Environment variable -> (model default, is a secret), for every setting."""
    out: dict[str, tuple[object, bool]] = {}
    models = [("HOLDED_SYNC_", Settings, set(_SECTIONS))]
    models += [(str(cls.model_config["env_prefix"]).upper(), cls, set()) for cls in _SECTIONS.values()]
    for prefix, model, skip in models:
        for name, field in model.model_fields.items():
            if name in skip:
                continue
            secret = SecretStr in typing.get_args(field.annotation) or field.annotation is SecretStr
            default = None if field.default_factory else field.default
            out[prefix + name.upper()] = (default, secret)
    return out


def _configuration_section() -> str:
    text = DEPLOY_DOC.read_text()
    return text.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]


def _rows() -> list[tuple[list[str], str, str]]:
    """(variables, default cell, meaning cell) of each row of the configuration tables."""
    rows = []
    for line in _configuration_section().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            rows.append((re.findall(r"`([A-Z0-9_]+)`", cells[0]), cells[1], " | ".join(cells[2:])))
    return rows


def _same(doc: str, default: object) -> bool:
    if isinstance(default, dt.timedelta):  # documented in seconds
        try:
            return float(doc) == default.total_seconds()
        except ValueError:
            return False
    if isinstance(default, bool):
        return doc == str(default).lower()
    if isinstance(default, (int, float)):
        try:
            return float(doc) == float(default)
        except ValueError:
            return False
    if doc == '""':
        doc = ""
    if isinstance(default, tuple):
        return doc == ",".join(default)
    return doc == str(default)


def test_every_setting_has_a_row():
    section = _configuration_section()
    missing = [name for name in [*settings_env(), *EXTRA] if f"`{name}`" not in section]
    assert missing == []


def test_documented_variables_exist():
    documented = {name for names, _, _ in _rows() for name in names}
    assert sorted(documented - set(settings_env()) - EXTRA) == []


def test_documented_defaults_are_the_code_defaults():
    env, wrong = settings_env(), []
    for names, default_cell, _ in _rows():
        values = re.findall(r"`([^`]*)`", default_cell)
        if len(names) != 1 or not values or names[0] not in env:
            continue  # several variables in a row: their defaults are said in prose
        default, _secret = env[names[0]]
        if default is not None and not _same(values[0], default):
            wrong.append(f"{names[0]}: docs say {values[0]!r}, the code {default!r}")
    assert wrong == []


def test_every_secret_is_marked_secret_and_only_secrets_are():
    marked = {name for names, _, meaning in _rows() if "**secret**" in meaning for name in names}
    secrets = {name for name, (_d, secret) in settings_env().items() if secret}
    assert marked == secrets


def _deployment_keys() -> dict[str, set[str]]:
    """Where each deployment file sets variables: ConfigMaps, the Secret, pod env, compose."""
    where: dict[str, set[str]] = {}
    for path in sorted(ROOT.glob("k8s/**/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") == "Kustomization":
                continue
            if doc.get("kind") in ("ConfigMap", "Secret"):
                keys = {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
                where.setdefault(f"{path.relative_to(ROOT)} {doc['kind']}", set()).update(keys)
            spec = (doc.get("spec") or {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []):
                where.setdefault(f"{path.relative_to(ROOT)} env", set()).update(
                    e["name"] for e in container.get("env", []))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    where["docker-compose.yml worker"] = set(compose["services"]["worker"]["environment"])
    return where


def test_every_variable_the_deployment_sets_is_a_setting():
    known = set(settings_env()) | EXTRA | POD_ONLY
    unknown = {where: sorted(keys - known) for where, keys in _deployment_keys().items() if keys - known}
    assert unknown == {}


# Read by the test suite only (tests/chaos), named in README's table of the tests.
TEST_ONLY = {"HOLDED_SYNC_CHAOS_SEED", "HOLDED_SYNC_SOAK"}


def _user_docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_every_variable_the_docs_name_is_read():
    """Anywhere in README.md and docs/, not only deploy.md's tables: docs/holded.md once listed
    five "proposed" HOLDED_ variables that nothing read, and a user setting one saw no effect."""
    known = set(settings_env()) | EXTRA | POD_ONLY | TEST_ONLY
    prefixes = sorted({name.split("_", 1)[0] for name in known} | {"HOLDED_SYNC"}, key=len)
    pattern = re.compile(r"\b((?:" + "|".join(prefixes) + r")_[A-Z0-9_]*[A-Z0-9])\b")
    unknown = sorted({f"{path.relative_to(ROOT)}: {name}" for path in _user_docs()
                      for name in pattern.findall(path.read_text()) if name not in known})
    assert unknown == []


def test_every_file_the_docs_name_exists():
    pattern = re.compile(r"(?<![\w/.-])((?:app|bench|connectors|deploy|docs|k8s|schemas|tests)"
                         r"/[\w./-]*\w)")
    missing = sorted({f"{path.relative_to(ROOT)}: {name}" for path in _user_docs()
                      for name in pattern.findall(path.read_text()) if not (ROOT / name).exists()})
    assert missing == []


def test_no_secret_setting_is_in_a_configmap_or_written_in_compose():
    secrets = {name for name, (_d, secret) in settings_env().items() if secret}
    for where, keys in _deployment_keys().items():
        if "ConfigMap" in where:
            assert not keys & secrets, where
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]["environment"]
    assert {k: v for k, v in env.items() if k in secrets and not str(v).startswith("${")} == {}


def _base_configmap() -> dict[str, str]:
    return yaml.safe_load((ROOT / "k8s/base/configmap.yaml").read_text())["data"]


@pytest.mark.parametrize("where", ["configmap", "compose"])
def test_each_configured_system_can_run(where):
    """A system in HOLDED_SYNC_SYSTEMS runs only with its settings: those without a default are in
    the ConfigMap (or compose) and its credential in the example Secret (or interpolated)."""
    env = settings_env()
    if where == "configmap":
        values = _base_configmap()
        secret = yaml.safe_load((ROOT / "k8s/base/secret.example.yaml").read_text())["stringData"]
        values = {**values, **secret}
    else:
        values = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]["environment"]
    for system in values["HOLDED_SYNC_SYSTEMS"].split(","):
        if system not in SETTINGS_OF:
            continue
        needed = [n.strip() for n in SETTINGS_OF[system].split(",")]
        unset = [n for n in needed if n not in values and env[n][0] in (None, "")]
        assert unset == [], f"{where}: {system} needs {unset}"
        assert CREDENTIAL_SETTING[system] in values, system
