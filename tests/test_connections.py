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
        "sap_b1": {"SAP_B1_COMPANY_DB": "SBODEMOES", "SAP_B1_USERNAME": "manager"},
        "odoo": {"ODOO_URL": "https://odoo.example", "ODOO_DB": "prod", "ODOO_LOGIN": "api@example.com"},
        "prestashop": {"PRESTASHOP_URL": "https://shop.example"},
        "shopify": {"SHOPIFY_SHOP_URL": "https://tienda.myshopify.com"}}


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
    # The same, as the gauge an alert reads: "file" has no connector and no entry.
    from app.connections import configured
    assert configured(settings, clients(settings)) == {"holded": 1, "odoo": 0}
    replay_worker = settings.model_copy(update={"run_sinks": False})
    assert what_runs(replay_worker, clients(replay_worker))[0] == (
        logging.INFO, "holded: no sink and no poller run: this worker only decides "
        "(HOLDED_SYNC_RUN_SINKS=false, a replay's generation)")


def test_a_credential_without_the_rest_is_a_clear_error_naming_the_settings(monkeypatch):
    monkeypatch.setenv("BC_CLIENT_SECRET", "secret")
    with pytest.raises(IncompleteSettings) as failed:
        clients(Settings(systems=("holded", "business_central")))
    assert str(failed.value) == (
        "business_central is not fully configured: tenant, environment, company_id and "
        "client_id are required with the client secret; tenant, company_id, client_id not set "
        "(its settings: BC_TENANT, BC_ENVIRONMENT, BC_COMPANY_ID, BC_CLIENT_ID, BC_CLIENT_SECRET)")


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


SETTINGS_OF_ODOO = "(its settings: ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY, ODOO_PROTOCOL)"


@pytest.mark.parametrize("system, unset, said", [
    ("odoo", ("ODOO_URL", "ODOO_DB"), "odoo is not fully configured: url, db and login are "
     f"required with the API key; url, db not set {SETTINGS_OF_ODOO}"),
    ("odoo", ("ODOO_LOGIN",), "odoo is not fully configured: url, db and login are required "
     f"with the API key; login not set {SETTINGS_OF_ODOO}"),
    ("prestashop", ("PRESTASHOP_URL",), "prestashop is not fully configured: the shop's url is "
     "required with the API key (its settings: PRESTASHOP_URL, PRESTASHOP_API_KEY)"),
    ("shopify", ("SHOPIFY_SHOP_URL",), "shopify is not fully configured: the shop URL is required "
     "with the access token, as https://<shop>.myshopify.com (its settings: SHOPIFY_SHOP_URL, "
     "SHOPIFY_ACCESS_TOKEN, SHOPIFY_API_VERSION)")])
def test_a_credential_without_its_address_is_refused_not_sent_to_a_default(system, unset, said,
                                                                          monkeypatch):
    """Odoo's key with no URL talked to http://127.0.0.1:8069 with db ''; PrestaShop's key and
    Shopify's token built a client without a shop."""
    for name, value in REST[system].items():
        monkeypatch.setenv(name, value)
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(CREDENTIAL_SETTING[system], "secret")
    with pytest.raises(IncompleteSettings) as failed:
        clients(Settings(systems=("holded", system)))
    assert str(failed.value) == said


def test_odoo_json2_needs_no_login(monkeypatch):
    """JSON-2 sends the API key alone: login is only used to log in (JSON-RPC, XML-RPC)."""
    for name, value in REST["odoo"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ODOO_LOGIN")
    monkeypatch.setenv("ODOO_API_KEY", "secret")
    monkeypatch.setenv("ODOO_PROTOCOL", "json2")
    assert "odoo" in clients(Settings(systems=("holded", "odoo")))


@pytest.mark.parametrize("given, used", [
    ("tienda.myshopify.com", "https://tienda.myshopify.com"),
    (" https://tienda.myshopify.com/ ", "https://tienda.myshopify.com/"),
    ("http://127.0.0.1:8090", "http://127.0.0.1:8090")])
def test_a_shop_url_without_a_scheme_is_taken_as_https(given, used, monkeypatch):
    monkeypatch.setenv("SHOPIFY_SHOP_URL", given)
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_x")
    settings = Settings(systems=("holded", "shopify"))
    assert settings.shopify.shop_url == used
    assert clients(settings)["shopify"].endpoint == (
        f"{used.rstrip('/')}/admin/api/{settings.shopify.api_version}/graphql.json")


def test_a_shop_url_of_another_scheme_is_refused_in_one_line(monkeypatch):
    from app.settings import settings_error

    monkeypatch.setenv("SHOPIFY_SHOP_URL", "ftp://tienda.myshopify.com")
    with pytest.raises(ValueError) as failed:
        Settings()
    assert settings_error(failed.value) == ("SHOPIFY_SHOP_URL: 'ftp://tienda.myshopify.com' is "
                                            "not a shop URL; use https://<shop>.myshopify.com")


async def test_calls_without_an_answer_are_counted_by_what_happened():
    """A system that stopped answering shows as failed calls (status timeout or unreachable),
    which the HoldedSyncSinkStuck alert reads, not only as lag."""
    import httpx

    from app.connections import _http
    from app.metrics import METRICS

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("no answer", request=request)
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(503)

    def count(status: str) -> float:
        return METRICS.api_calls.labels(system="counted-test", status=status)._value.get()

    before = {s: count(s) for s in ("timeout", "unreachable", "503")}
    async with _http("counted-test", 5.0, httpx.MockTransport(answer)) as http:
        for path, error in (("/slow", httpx.ReadTimeout), ("/down", httpx.ConnectError)):
            with pytest.raises(error):  # the caller still sees the library's error
                await http.get(f"http://erp.test{path}")
        assert (await http.get("http://erp.test/up")).status_code == 503
    assert {s: count(s) - before[s] for s in before} == {"timeout": 1, "unreachable": 1, "503": 1}


@pytest.mark.parametrize("systems, shopify_stock, prestashop_stock, routed", [
    ("holded,shopify", "false", "false", ("holded",)),
    ("holded,shopify", "true", "false", ("holded", "shopify")),
    ("holded,odoo", "true", "false", ("holded",)),            # Shopify not connected
    ("holded,prestashop", "false", "false", ("holded",)),
    ("holded,prestashop", "false", "true", ("holded", "prestashop")),
    ("holded,odoo", "false", "true", ("holded",)),            # PrestaShop not connected
    ("holded,prestashop,shopify", "true", "true", ("holded", "prestashop", "shopify")),
    ("holded,prestashop,shopify", "true", "false", ("holded", "shopify")),
])
def test_products_reach_the_shops_only_when_they_write_stock(systems, shopify_stock,
                                                             prestashop_stock, routed,
                                                             monkeypatch):
    from app.connections import engine_policy
    from app.live_mapping import LiveMapping

    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", systems)
    monkeypatch.setenv("SHOPIFY_WRITE_STOCK", shopify_stock)
    monkeypatch.setenv("PRESTASHOP_WRITE_STOCK", prestashop_stock)
    assert engine_policy(Settings(), LiveMapping()).targets("product") == routed


def test_the_prestashop_sink_writes_stock_only_when_asked(monkeypatch):
    from app.connections import sink_factories
    from app.live_mapping import LiveMapping
    from connectors.base.contracts import MemoryLedger

    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", "holded,prestashop")
    api = {"prestashop": object()}

    def sink():
        return sink_factories(Settings(), LiveMapping(), api)["prestashop"](MemoryLedger())
    assert sink().write_stock is False
    monkeypatch.setenv("PRESTASHOP_WRITE_STOCK", "true")
    assert sink().write_stock is True


def test_the_holded_poller_reads_stock_only_when_asked(monkeypatch):
    from app.connections import pollers
    from app.live_mapping import LiveMapping

    monkeypatch.setenv("HOLDED_SYNC_SYSTEMS", "holded")
    api = {"holded": object()}
    assert pollers(Settings(), LiveMapping(), api)["holded"].config.read_stock is False
    monkeypatch.setenv("HOLDED_READ_STOCK", "true")
    assert pollers(Settings(), LiveMapping(), api)["holded"].config.read_stock is True
