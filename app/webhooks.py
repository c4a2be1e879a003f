"""Webhook receivers on the worker's web port: ``POST /webhooks/<system>``.

A receiver checks the delivery (signature with a constant-time compare, size limit, content
type, replay), never trusts its body beyond the ids it names, re-fetches those records through
the system's client, and publishes them as change events; then it answers quickly. Forged,
replayed and oversized deliveries are refused and counted. Polling still runs, so a missed
delivery is caught by the next poll.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from app.live_mapping import LiveMapping
from app.metrics import METRICS
from app.settings import Settings

__all__ = ["Receiver", "Reply", "receivers"]

log = logging.getLogger(__name__)
MAX_BYTES = 256 * 1024
WEBHOOKS = Counter("holded_sync_webhooks", "Webhook deliveries by system and outcome",
                   ["system", "outcome"], registry=METRICS.registry)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: str = ""
    events: tuple[dict, ...] = ()


Receiver = Callable[[Mapping[str, str], Mapping[str, str], bytes], Awaitable[Reply]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def receivers(settings: Settings, api: Mapping[str, Any], live: LiveMapping) -> dict[str, Receiver]:
    """One receiver per configured system that pushes changes and has its secret set."""
    out: dict[str, Receiver] = {}
    if "holded" in api and settings.holded.webhook_secret:
        out["holded"] = _holded(settings, api["holded"], live)
    if "shopify" in api and settings.shopify.app_secret:
        out["shopify"] = _shopify(settings, api["shopify"], live)
    if "business_central" in api and settings.business_central.client_state:
        out["business_central"] = _business_central(settings, api["business_central"], live)
    if "odoo" in api and settings.odoo.webhook_token:
        out["odoo"] = _odoo(settings, api["odoo"], live)
    return out


def _counted(system: str, outcome: str, reply: Reply) -> Reply:
    WEBHOOKS.labels(system=system, outcome=outcome).inc()
    return reply


def _holded(settings: Settings, client: Any, live: LiveMapping) -> Receiver:
    from connectors.holded import webhooks as hw
    from connectors.holded.source import fetch_change

    seen = hw.DeliveryLog()
    secret = settings.holded.webhook_secret

    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        try:
            hw.verify(headers, body, secret, header_name=settings.holded.webhook_header,
                      max_bytes=MAX_BYTES)
            payload = hw.load(body)
            seen.check(hw.delivery_id(headers, payload))
            targets = hw.parse(payload)
        except hw.Replayed:
            return _counted("holded", "replayed", Reply(200, "duplicate delivery"))
        except hw.WebhookError as exc:
            return _counted("holded", type(exc).__name__.lower(), Reply(_status(exc), str(exc)))
        events = []
        for resource, record_id in targets:
            event = await fetch_change(client, live.current, resource, record_id, _now())
            if event is not None:
                events.append(event)
        return _counted("holded", "accepted", Reply(202, "accepted", tuple(events)))
    return receive


def _shopify(settings: Settings, client: Any, live: LiveMapping) -> Receiver:
    from connectors.shopify import webhooks as sw
    from connectors.shopify.source import ShopifySource

    seen = sw.DeliveryLog()
    secret = settings.shopify.app_secret

    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        try:
            delivery = sw.receive(headers, body, secret, seen, max_bytes=MAX_BYTES)
        except sw.Replayed:
            return _counted("shopify", "replayed", Reply(200, "duplicate delivery"))
        except sw.Ignored:
            return _counted("shopify", "ignored", Reply(200, "topic not synced"))
        except sw.WebhookError as exc:
            return _counted("shopify", type(exc).__name__.lower(), Reply(_status(exc), str(exc)))
        source = ShopifySource(client, mapping=lambda: live.current)
        events = await source.events_for([delivery])
        return _counted("shopify", "accepted", Reply(202, "accepted", tuple(events)))
    return receive


def _business_central(settings: Settings, client: Any, live: LiveMapping) -> Receiver:
    from connectors.business_central.source import (
        BadNotification, BusinessCentralSource, handshake, parse_notifications)

    state = settings.business_central.client_state.get_secret_value()

    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        answer = handshake(query)
        if answer is not None:  # BC validates the URL when a subscription is created
            return _counted("business_central", "handshake", Reply(answer[0], answer[1]))
        if len(body) > MAX_BYTES:
            return _counted("business_central", "toolarge", Reply(413, "body too large"))
        try:
            notices = parse_notifications(json.loads(body or b"null"), state,
                                          company_id=settings.business_central.company_id)
        except (BadNotification, ValueError) as exc:
            return _counted("business_central", "forged", Reply(401, str(exc)[:200]))
        source = BusinessCentralSource(client, mapping=lambda: live.current)
        events = await source.events_for(notices)
        return _counted("business_central", "accepted", Reply(202, "accepted", tuple(events)))
    return receive


def _odoo(settings: Settings, client: Any, live: LiveMapping) -> Receiver:
    import hmac

    from connectors.odoo.source import OdooSource, parse_webhook

    token = settings.odoo.webhook_token.get_secret_value()

    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        # An Odoo server action posts with a shared token (Odoo signs nothing itself).
        given = {k.lower(): v for k, v in headers.items()}.get("x-holded-sync-token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _counted("odoo", "forged", Reply(401, "bad or missing X-Holded-Sync-Token"))
        if len(body) > MAX_BYTES:
            return _counted("odoo", "toolarge", Reply(413, "body too large"))
        try:
            refs = parse_webhook(body)
        except ValueError as exc:
            return _counted("odoo", "malformed", Reply(400, str(exc)[:200]))
        events = await OdooSource(client, live.current).fetch(refs)
        return _counted("odoo", "accepted", Reply(202, "accepted", tuple(events)))
    return receive


def _status(exc: Exception) -> int:
    return {"Forged": 401, "TooLarge": 413, "BadContentType": 415, "Malformed": 400}.get(
        type(exc).__name__, 400)
