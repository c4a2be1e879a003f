"""Webhook deliveries on the worker's web port, and the Prometheus series after a flow."""
from __future__ import annotations

import json
import re

import httpx
import pytest

from app.devrun.sandboxes import start_erp_sandbox
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from connectors.shopify.webhooks import sign
from tests.integration.test_odoo_flow import MAPPING
from tests.support.flow import metric_value
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka


async def test_signed_deliveries_are_accepted_forged_replayed_and_oversized_are_refused(own_flow):
    holded = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    shop, shop_settings = await start_erp_sandbox("shopify")
    try:
        # A long poll interval: what reaches changes.shopify here came through the webhook.
        flow = await own_flow(systems=("holded", "shopify"), poll_interval_s=3600.0,
                              holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key"),
                              **shop_settings)
        await publish_mapping(flow.settings, MAPPING)
        [customer] = [c for c in await shop.all("Customer")][:1]
        numeric = customer["id"].rsplit("/", 1)[1]
        body = json.dumps({"id": int(numeric)}).encode()
        secret = shop_settings["shopify"].app_secret.get_secret_value()
        url = f"http://127.0.0.1:{flow.settings.web_port}/webhooks/shopify"

        def headers(event_id: str, signature: str) -> dict[str, str]:
            return {"Content-Type": "application/json", "X-Shopify-Topic": "customers/update",
                    "X-Shopify-Event-Id": event_id, "X-Shopify-Hmac-Sha256": signature}
        async with httpx.AsyncClient(timeout=30) as http:
            good = await http.post(url, content=body, headers=headers("e-1", sign(body, secret)))
            replayed = await http.post(url, content=body, headers=headers("e-1", sign(body, secret)))
            forged = await http.post(url, content=body, headers=headers("e-2", sign(body, "not-the-secret")))
            # Shopify's limit is 512 KiB (an order with hundreds of lines is under it)
            huge = b'{"id": 1, "pad": "' + b"x" * 600_000 + b'"}'
            oversized = await http.post(url, content=huge, headers=headers("e-3", sign(huge, secret)))
            unknown = await http.post(f"http://127.0.0.1:{flow.settings.web_port}/webhooks/nowhere",
                                      content=body)
        assert good.status_code == 202, good.text
        assert replayed.status_code == 200 and "duplicate" in replayed.text
        assert forged.status_code == 401
        assert oversized.status_code == 413
        assert unknown.status_code == 404

        key = f"contact/shopify/{numeric}"
        await flow.wait_entity(key, "the webhook's change")

        text = await flow.metrics()
        assert _value(text, 'holded_sync_webhooks_total{outcome="accepted",system="shopify"}') == 1
        assert _value(text, 'holded_sync_webhooks_total{outcome="forged",system="shopify"}') == 1
        assert _value(text, 'holded_sync_webhooks_total{outcome="replayed",system="shopify"}') == 1
        assert _value(text, 'holded_sync_webhooks_total{outcome="toolarge",system="shopify"}') == 1
        for series in ("holded_sync_events_total", "holded_sync_decisions_total",
                       "holded_sync_commands_total", "holded_sync_api_latency_seconds_bucket"):
            assert series in text, series
    finally:
        await shop.stop()
        await holded.stop()


def _value(text: str, series: str) -> float:
    return metric_value(text, series, 0.0)


async def test_holded_webhooks_are_verified_and_refetched(own_flow):
    import hashlib
    import hmac

    holded = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    try:
        flow = await own_flow(poll_interval_s=3600.0, holded=HoldedSettings(
            api_url=holded.url, api_key="sandbox-key", webhook_secret="whsec-test"))
        await publish_mapping(flow.settings, MAPPING)
        async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
            made = await http.post("/invoicing/v1/contacts", json={
                "name": "Alta directa en Holded", "code": "B76543210", "type": "client"})
            contact_id = made.json()["id"]
        body = json.dumps({"event_id": "d-1", "resource": "contact.create", "id": contact_id}).encode()
        good = hmac.new(b"whsec-test", body, hashlib.sha256).hexdigest()
        url = f"http://127.0.0.1:{flow.settings.web_port}/webhooks/holded"
        async with httpx.AsyncClient(timeout=30) as http:
            ok = await http.post(url, content=body, headers={"Content-Type": "application/json",
                                                             "X-Holded-Signature": good})
            forged = await http.post(url, content=body, headers={"Content-Type": "application/json",
                                                                 "X-Holded-Signature": "0" * 64})
            unsigned = await http.post(url, content=body, headers={"Content-Type": "application/json"})
            wrong_type = await http.post(url, content=body, headers={"Content-Type": "text/plain",
                                                                     "X-Holded-Signature": good})
        assert ok.status_code == 202, ok.text
        assert forged.status_code == 401 and unsigned.status_code == 401
        assert wrong_type.status_code == 415
        key = f"contact/holded/{contact_id}"
        await flow.wait_entity(key, "the contact born in Holded")
    finally:
        await holded.stop()


def _series(text: str, name: str) -> dict[str, float]:
    """Every sample of ``name``: its label text -> value."""
    return {labels: float(value) for labels, value in
            re.findall(rf"^{re.escape(name)}(\{{[^}}]*\}}|) (\S+)$", text, re.M)}


async def test_gauges_count_lag_parked_commands_dead_letters_and_limiter_tokens(own_flow):
    from tests.core.factories import change, contact
    from tests.support.flow import unique_key

    holded = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    try:
        flow = await own_flow(metrics_interval_s=0.5, poll_interval_s=3600.0,
                              holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key"))

        async def scrape_until(check, what: str) -> str:
            async def ok():
                text = await flow.metrics()
                return text if check(text) else None
            return await wait_for(ok, 60, what, flow.worker)

        # No mapping published yet: Holded's sink parks the command.
        await flow.send_changes("odoo", change("odoo", contact(name="Aparcado"), key=unique_key()))
        await flow.send_raw(flow.names.changes("odoo"), b"contact/odoo/broken", b"not avro")
        await flow.wait_idle()
        text = await scrape_until(
            lambda t: _value(t, 'holded_sync_parked_commands{reason="mapping",system="holded"}') == 1
            and _value(t, "holded_sync_dlq_records") == 1
            and set(_series(t, "holded_sync_consumer_lag_records").values()) == {0.0},
            "1 parked command, 1 dead letter and no lag")
        lag = _series(text, "holded_sync_consumer_lag_records")
        assert '{group="holded-sync",partition="0",topic="inbox"}' in lag
        assert '{group="holded-sync-sequencer",partition="3",topic="changes.odoo"}' in lag
        assert '{group="holded-sync",partition="0",topic="commands.holded.bulk"}' in lag
        assert 0 <= _value(text, 'holded_sync_limiter_tokens{system="holded"}') <= 50
        # The standard process series, for CPU per decision and memory alerts.
        assert _value(text, "process_cpu_seconds_total") > 0
        assert _value(text, "process_resident_memory_bytes") > 50e6
        assert 'holded_sync_limiter_waiting_requests{lane="bulk",system="holded"} 0.0' in text
        assert _value(text, "holded_sync_replay_progress_ratio") == 1.0
        # Holded has its key; odoo (in HOLDED_SYNC_SYSTEMS, no credential) runs nothing.
        assert _value(text, 'holded_sync_system_configured{system="holded"}') == 1
        assert 'holded_sync_system_configured{system="odoo"} 0.0' in text
        # Parked for want of a mapping: the other kinds read 0 (alerts page by kind).
        assert _value(text, 'holded_sync_parked_commands{reason="not_ready",system="holded"}') == 0
        assert 'holded_sync_parked_commands{reason="review",system="holded"} 0.0' in text
        events = _series(text, "holded_sync_events_total")
        assert events['{direction="in",topic="changes.odoo"}'] == 2
        assert events['{direction="in",topic="results.holded"}'] == 1  # the parked result
        assert events['{direction="out",topic="inbox"}'] == 3
        assert events['{direction="in",topic="inbox"}'] == 3
        assert events['{direction="out",topic="commands.holded"}'] == 1
        assert events['{direction="in",topic="commands.holded"}'] == 1
        assert events['{direction="out",topic="results.holded"}'] == 1
        assert events['{direction="out",topic="dlq"}'] == 1
        assert _value(text, "holded_sync_dead_letters_total") == 1
        # Counted once, where the sink executed it (not again when the engine reads the result).
        assert _value(text, 'holded_sync_commands_total{outcome="parked",system="holded"}') == 1

        # A mapping re-drives the parked command: it is executed and no longer parked.
        await publish_mapping(flow.settings, MAPPING)
        await scrape_until(lambda t: 'holded_sync_parked_commands{reason="mapping",system="holded"} 0.0' in t
                           and _value(t, 'holded_sync_commands_total{outcome="succeeded",'
                                         'system="holded"}') == 1, "the parked command to run")
    finally:
        await holded.stop()
