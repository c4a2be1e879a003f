"""A worker's API clients from its settings, and what it says at start about each system
(app/connections.py)."""
from __future__ import annotations

import logging

import pytest

from app.connections import CREDENTIAL_SETTING, IncompleteSettings, clients, what_runs
from app.settings import Settings


# Besides the credential, what a client cannot do without (the others have defaults).
REST = {"business_central": {"BC_TENANT": "contoso", "BC_ENVIRONMENT": "production",
                             "BC_COMPANY_ID": "5b8c8d9e-0000-4000-8000-000000000001",
                             "BC_CLIENT_ID": "holded-sync"},
        "sap_b1": {"SAP_B1_COMPANY_DB": "SBODEMOES", "SAP_B1_USERNAME": "manager"}}


@pytest.mark.parametrize("system", sorted(CREDENTIAL_SETTING))
def test_the_named_setting_is_the_one_that_brings_the_system_up(system, monkeypatch):
    for name in CREDENTIAL_SETTING.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", f"holded,{system}")
    for name, value in REST.get(system, {}).items():
        monkeypatch.setenv(name, value)
    assert system not in clients(Settings())
    monkeypatch.setenv(CREDENTIAL_SETTING[system], "secret")
    assert system in clients(Settings())


def test_a_system_without_credentials_is_a_warning_that_names_its_setting(monkeypatch):
    monkeypatch.setenv("HOLDED_API_KEY", "k")
    settings = Settings(systems=("holded", "odoo", "file"))
    lines = what_runs(settings, clients(settings))
    assert lines == [
        (logging.INFO, "holded: its sink runs, and its poller on the leader"),
        (logging.WARNING, "odoo: no credentials (ODOO_API_KEY is not set), so no poller and no "
                          "sink run for it; its commands wait in commands.odoo"),
        (logging.INFO, "file: no connector, so no poller and no sink run for it; its changes "
                       "come from `holded-sync ingest FILE --system file`")]
    replay_worker = settings.model_copy(update={"run_sinks": False})
    assert what_runs(replay_worker, clients(replay_worker))[0] == (
        logging.INFO, "holded: its poller runs on the leader; sinks are off (HOLDED_SYNC_RUN_SINKS=false)")


def test_a_credential_without_the_rest_is_a_clear_error_naming_the_settings(monkeypatch):
    monkeypatch.setenv("BC_CLIENT_SECRET", "secret")
    with pytest.raises(IncompleteSettings) as failed:
        clients(Settings(systems=("holded", "business_central")))
    assert str(failed.value) == (
        "business_central is not fully configured: tenant and environment must be non-empty "
        "path segments (its settings: BC_TENANT, BC_ENVIRONMENT, BC_COMPANY_ID, BC_CLIENT_ID, "
        "BC_CLIENT_SECRET)")


def test_every_system_a_worker_may_run_has_a_start_line():
    """HOLDED_SYNC_SYSTEMS takes only names a worker says something about at start."""
    from app.settings import SYSTEMS

    settings = Settings(systems=SYSTEMS)
    assert [line.split(":")[0] for _, line in what_runs(settings, {})] == list(SYSTEMS)


@pytest.mark.parametrize("name, meant", [
    ("oddo", "odoo"), ("business-central", "business_central"), ("sap-b1", "sap_b1"),
    ("sapb1", "sap_b1"), ("presta", "prestashop"), ("shopfy", "shopify"), ("Holded", "holded"),
    ("fiel", "file")])
def test_a_misspelt_system_is_refused_naming_the_one_meant(name, meant):
    from app.settings import settings_error

    with pytest.raises(ValueError) as failed:
        Settings(systems=("holded", name))
    assert settings_error(failed.value) == (
        f"HOLDED_SYNC_SYSTEMS: unknown system {name!r} (did you mean {meant}?); the systems are "
        "holded, odoo, business_central, sap_b1, prestashop, shopify, file")


def test_a_system_without_a_connector_or_a_near_name_is_refused_with_the_list():
    from app.settings import settings_error

    with pytest.raises(ValueError) as failed:
        Settings(systems="holded,legacy_erp")
    assert settings_error(failed.value) == (
        "HOLDED_SYNC_SYSTEMS: unknown system 'legacy_erp'; the systems are holded, odoo, "
        "business_central, sap_b1, prestashop, shopify, file")
