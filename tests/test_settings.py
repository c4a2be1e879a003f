"""Settings from the environment and a YAML file (app/settings.py): the environment wins."""
from __future__ import annotations

import pytest

from app.settings import load_settings

YAML = """\
poll_interval_s: 5
holded:
  api_key: old-revoked-key
  requests_per_second: 2
odoo:
  db: yamldb
  login: yaml-login
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in ("HOLDED_SYNC_CONFIG", "HOLDED_SYNC_POLL_INTERVAL_S", "HOLDED_API_KEY",
                 "HOLDED_REQUESTS_PER_SECOND", "ODOO_DB", "ODOO_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "cfg.yaml"
    path.write_text(YAML)
    return path


def test_the_file_fills_what_the_environment_leaves_unset(config):
    s = load_settings(config)
    assert (s.poll_interval_s, s.holded.requests_per_second, s.odoo.db, s.odoo.login) == (
        5.0, 2.0, "yamldb", "yaml-login")
    assert s.holded.api_key.get_secret_value() == "old-revoked-key"


@pytest.mark.parametrize("via_env", [False, True], ids=["--config", "HOLDED_SYNC_CONFIG"])
def test_every_variable_wins_over_the_file_for_the_setting_it_names(config, monkeypatch, via_env):
    monkeypatch.setenv("HOLDED_SYNC_POLL_INTERVAL_S", "9")
    monkeypatch.setenv("HOLDED_API_KEY", "sandbox-key")
    monkeypatch.setenv("HOLDED_REQUESTS_PER_SECOND", "7")
    monkeypatch.setenv("ODOO_DB", "envdb")
    if via_env:
        monkeypatch.setenv("HOLDED_SYNC_CONFIG", str(config))
    s = load_settings(None if via_env else config)
    assert s.poll_interval_s == 9.0
    assert s.holded.api_key.get_secret_value() == "sandbox-key"
    assert s.holded.requests_per_second == 7.0
    assert s.odoo.db == "envdb"
    assert s.odoo.login == "yaml-login"  # the file's other keys of a section still apply


def test_a_bad_variable_over_the_file_names_its_setting(config, monkeypatch):
    monkeypatch.setenv("HOLDED_REQUESTS_PER_SECOND", "fast")
    with pytest.raises(ValueError, match=r"holded\.requests_per_second"):
        load_settings(config)
