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


def test_field_owners_are_set_by_the_operator_and_decide_contact_conflicts(monkeypatch):
    # The design's per-field owner (e.g. the ERP owns payment terms, Holded the NIF) could
    # not be set: only the built-in invoice and price owners existed.
    from app.connections import engine_policy
    from app.core.decide import apply_change
    from app.live_mapping import LiveMapping
    from tests.core.factories import change, contact

    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", "holded,odoo")
    monkeypatch.setenv("HOLDED_SYNC_FIELD_OWNERS",
                       "contact.payment_due_days=odoo, contact.tax_id=holded")
    s = load_settings()
    assert s.field_owners == {"contact.payment_due_days": "odoo", "contact.tax_id": "holded"}
    policy = engine_policy(s, LiveMapping())
    assert policy.owner("contact", "payment_due_days") == "odoo"
    assert policy.owner("invoice", "payment_status") == "holded"  # the defaults stay

    t0 = 1_700_000_000_000
    born = apply_change(change("odoo", contact(), ts=t0), None, None, None, policy)
    odoo = apply_change(change("odoo", contact(payment_due_days=60, tax_id="B00000001"),
                               ts=t0 + 50), born.state, born.replicas, None, policy)
    # Holded, not having seen Odoo's change, edits both fields later: each owner keeps its own.
    holded = apply_change(change("holded", contact(payment_due_days=15, tax_id="B00000002"),
                                 ts=t0 + 90), odoo.state, odoo.replicas, None, policy)
    decided = {c["field"]: (c["decision"], c["policy"]) for c in holded.conflicts}
    assert decided == {"payment_due_days": ("kept_canonical", "field_owner"),
                       "tax_id": ("took_incoming", "field_owner")}
    record = holded.state["record"]
    assert (record["payment_due_days"], record["tax_id"]) == (60, "B00000002")


@pytest.mark.parametrize(("value", "message"), [
    ("contact.payment_due_days", "not <entity>.<field>=<system>"),
    ("contact.payment_days=odoo", "contact has no field 'payment_days'"),
    ("customer.tax_id=odoo", "is not <entity>.<field>"),
    ("contact.tax_id=sap_b1", "which is not one of the systems"),
])
def test_a_bad_field_owner_is_refused_with_its_reason(monkeypatch, value, message):
    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", "holded,odoo")
    monkeypatch.setenv("HOLDED_SYNC_FIELD_OWNERS", value)
    with pytest.raises(Exception, match=message):
        load_settings()


def test_field_owners_survive_the_environment_a_child_process_is_given(monkeypatch):
    from app.devrun.process import settings_env

    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", "holded,odoo")
    for owners in ("", "contact.tax_id=holded,contact.payment_due_days=odoo"):
        monkeypatch.setenv("HOLDED_SYNC_FIELD_OWNERS", owners)
        s = load_settings()
        for name, value in settings_env(s).items():
            if name.startswith("HOLDED_SYNC_"):
                monkeypatch.setenv(name, value)
        assert load_settings().field_owners == s.field_owners


def test_a_contact_with_a_province_written_to_odoo_comes_back_as_our_echo(monkeypatch):
    # Odoo keeps no province (state_id is not mapped): its read-back of a contact with one is
    # still our own write, not an Odoo edit that drops the province everywhere.
    from app.connections import engine_policy
    from app.core.decide import apply_change, apply_result
    from app.live_mapping import LiveMapping
    from connectors.odoo.mapping import Catalog, contact_from_odoo, partner_vals
    from tests.core.factories import change, contact, result_for
    from tests.mapping.factories import example_mapping

    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", "holded,odoo")
    monkeypatch.delenv("HOLDED_SYNC_FIELD_OWNERS", raising=False)
    policy = engine_policy(load_settings(), LiveMapping())
    address = {"street": "C/ Mayor 1", "city": "Valencia", "postal_code": "46001",
               "province": "Valencia", "country_code": "ES"}
    born = apply_change(change("holded", contact(address=address), key="contact/holded/h1"),
                        None, None, None, policy)
    [write] = [c for c in born.commands if c["target_system"] == "odoo"]
    result = apply_result(result_for(write), born.replicas, None)
    catalog = Catalog(term_days={2: 30}, country_codes={68: "ES"})
    partner = partner_vals(write["payload"], catalog, example_mapping())
    partner.update(country_id=[68, "Spain"], property_payment_term_id=[2, "30 días"])
    echo = contact_from_odoo(partner, [], catalog)
    assert echo["address"]["province"] is None
    d = apply_change(change("odoo", echo, key="contact/holded/h1", ts=1_700_000_000_500),
                     born.state, result.replicas, None, policy)
    assert d.outcome == "echo" and not d.commands
    # An Odoo user moves the customer: the new street is taken, the province Odoo cannot
    # show is kept, and Holded gets both.
    moved = {**echo, "address": {**echo["address"], "street": "C/ Nueva 2"}}
    d = apply_change(change("odoo", moved, key="contact/holded/h1", ts=1_700_000_000_900),
                     born.state, d.replicas, None, policy)
    assert d.outcome == "applied"
    assert d.state["record"]["address"] == {**address, "street": "C/ Nueva 2"}
    [to_holded] = d.commands
    assert to_holded["target_system"] == "holded"
    assert to_holded["payload"]["address"]["province"] == "Valencia"


@pytest.mark.parametrize(("text", "name"), [
    ("business-central", "business_central"), ("sap-b1", "sap_b1"), ("sap_b1", "sap_b1"),
    ("odoo", "odoo"), ("sap-b2", "sap-b2"), ("Business-Central", "Business-Central"), (None, None)])
def test_a_system_named_as_demo_and_sandbox_spell_it_is_the_topics_spelling(text, name):
    from app.settings import system_name

    assert system_name(text) == name


def test_pay_drafts_is_off_unless_set(monkeypatch):
    monkeypatch.delenv("HOLDED_SYNC_CONFIG", raising=False)
    monkeypatch.delenv("HOLDED_PAY_DRAFTS", raising=False)
    assert load_settings(None).holded.pay_drafts is False  # a payment of a draft is parked
    monkeypatch.setenv("HOLDED_PAY_DRAFTS", "true")
    assert load_settings(None).holded.pay_drafts is True


def test_approve_documents_is_a_list_of_canonical_document_types(tmp_path, monkeypatch):
    monkeypatch.delenv("HOLDED_SYNC_CONFIG", raising=False)
    monkeypatch.delenv("HOLDED_APPROVE_DOCUMENTS", raising=False)
    assert load_settings(None).holded.approve_documents == ()  # off: drafts, as before
    monkeypatch.setenv("HOLDED_APPROVE_DOCUMENTS", "invoice, credit_note")
    assert load_settings(None).holded.approve_documents == ("invoice", "credit_note")
    monkeypatch.delenv("HOLDED_APPROVE_DOCUMENTS")
    config = tmp_path / "cfg.yaml"
    config.write_text("holded:\n  approve_documents: [sales_receipt]\n")
    assert load_settings(config).holded.approve_documents == ("sales_receipt",)
    monkeypatch.setenv("HOLDED_APPROVE_DOCUMENTS", "invoices")  # a typo is refused, not ignored
    with pytest.raises(ValueError, match=r"approve_documents(.|\n)*'invoice', 'credit_note' or "
                       r"'sales_receipt'"):
        load_settings(None)
