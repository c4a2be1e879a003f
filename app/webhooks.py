"""Webhook receivers on the worker's web port: ``POST /webhooks/<system>``.

A receiver checks the delivery (signature with a constant-time compare, its system's size
limit, content type, replay), never trusts its body beyond the ids it names, re-fetches those
records through the system's client, and publishes them as change events; then it answers
quickly. Forged, replayed, malformed and oversized deliveries are refused and counted; one that
fails while its records are read or published is answered 500 (the sender retries it) and
counted ``failed``. A delivery id is remembered only once its events are published, so that
retry is processed, not acknowledged as a duplicate. Polling still runs, so a missed delivery
is caught by the next poll.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from app.live_mapping import LiveMapping
from app.metrics import METRICS
from app.settings import Settings
from connectors.base.errors import SkipRecord

__all__ = ["MAX_BYTES", "Receiver", "Reply", "deliver", "receivers"]

log = logging.getLogger(__name__)
MAX_BYTES = 256 * 1024  # BC's, Odoo's and PrestaShop's; Holded's is a setting, Shopify's 512 KiB
WEBHOOKS = Counter("holded_sync_webhooks", "Webhook deliveries by system and outcome",
                   ["system", "outcome"], registry=METRICS.registry)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: str = ""
    events: tuple[dict, ...] = ()
    outcome: str = "accepted"  # the holded_sync_webhooks_total label, counted once answered
    # Called once the events are published (remembers the delivery id): never for a failure.
    done: Callable[[], None] | None = None


Receive = Callable[[Mapping[str, str], Mapping[str, str], bytes], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Receiver:
    """One system's receiver and the largest body it takes (bigger: 413, before it is read)."""

    receive: Receive
    max_bytes: int = MAX_BYTES


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def receivers(settings: Settings, api: Mapping[str, Any], live: LiveMapping) -> dict[str, Receiver]:
    """One receiver per configured system that pushes changes and has its secret set."""
    out: dict[str, Receiver] = {}
    if "holded" in api and settings.holded.webhook_secret:
        out["holded"] = Receiver(_holded(settings, api["holded"], live),
                                 settings.holded.webhook_max_bytes)
    if "shopify" in api and settings.shopify.app_secret:
        from connectors.shopify.webhooks import MAX_BYTES as SHOPIFY_MAX_BYTES
        out["shopify"] = Receiver(_shopify(settings, api["shopify"], live), SHOPIFY_MAX_BYTES)
    if "business_central" in api and settings.business_central.client_state:
        out["business_central"] = Receiver(
            _business_central(settings, api["business_central"], live))
    if "odoo" in api and settings.odoo.webhook_token:
        out["odoo"] = Receiver(_odoo(settings, api["odoo"], live))
    if "prestashop" in api and settings.prestashop.webhook_token:
        out["prestashop"] = Receiver(_prestashop(settings, api["prestashop"], live))
    return out


def _count(system: str, outcome: str) -> None:
    WEBHOOKS.labels(system=system, outcome=outcome).inc()


async def deliver(system: str, receiver: Receiver, headers: Mapping[str, str],
                  query: Mapping[str, str], content_length: int | None,
                  body: AsyncIterable[bytes] | bytes,
                  publish: Callable[[dict], Awaitable[Any]]) -> tuple[int, str]:
    """One request to ``/webhooks/<system>``: (status, plain-text body) to answer.

    The body is read only up to the receiver's limit (a bigger one is 413 ``toolarge``); the
    receiver's events are published, then the delivery is remembered and its outcome counted.
    Anything raised on the way is 500 ``failed``, without the error in the answer."""
    if content_length is not None and content_length > receiver.max_bytes:
        _count(system, "toolarge")
        return 413, f"body larger than {receiver.max_bytes} bytes"
    if not isinstance(body, bytes):
        chunks, size = [], 0
        async for chunk in body:
            size += len(chunk)
            if size > receiver.max_bytes:
                _count(system, "toolarge")
                return 413, f"body larger than {receiver.max_bytes} bytes"
            chunks.append(chunk)
        body = b"".join(chunks)
    try:
        reply = await receiver.receive(headers, query, body)
        for event in reply.events:
            await publish(event)
    except Exception as exc:  # noqa: BLE001 - any failure: the sender retries the delivery
        log.error("a %s webhook delivery failed, answered 500 for a retry: %s: %s", system,
                  type(exc).__name__, str(exc)[:300])
        _count(system, "failed")
        return 500, "delivery failed; retry later"
    if reply.done is not None:
        reply.done()
    _count(system, reply.outcome)
    return reply.status, reply.body


def _refused(exc: Exception) -> Reply:
    return Reply(getattr(exc, "status", 400), str(exc)[:200], outcome=type(exc).__name__.lower())


def _holded(settings: Settings, client: Any, live: LiveMapping) -> Receive:
    from app.connections import holded_poll_config
    from connectors.holded import webhooks as hw
    from connectors.holded.source import fetch_change

    seen = hw.DeliveryLog()
    config = settings.holded
    secret = config.webhook_secret
    doc_types = holded_poll_config(config).doc_types

    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        try:
            hw.verify(headers, body, secret, header_name=config.webhook_signature_header,
                      encoding=config.webhook_signature_encoding,
                      max_bytes=config.webhook_max_bytes, now=_now(),
                      tolerance=config.webhook_tolerance,
                      timestamp_header=config.webhook_timestamp_header)
            payload = hw.load(body)
            targets = [(resource, hw.record_id(record_id))
                       for resource, record_id in hw.parse(payload)]
            delivery = hw.delivery_id(headers, payload, header_name=config.webhook_delivery_header)
            seen.refuse_replay(delivery)
        except hw.Replayed:
            return Reply(200, "duplicate delivery", outcome="replayed")
        except hw.WebhookError as exc:
            return _refused(exc)
        events = []
        for resource, record_id in targets:
            event = await fetch_change(client, live.current, resource, record_id, _now(),
                                       doc_types=doc_types,
                                       payments_on_account=config.payments_on_account)
            if event is not None:
                events.append(event)
        return Reply(202, "accepted", tuple(events), done=lambda: seen.remember(delivery))
    return receive


def _shopify(settings: Settings, client: Any, live: LiveMapping) -> Receive:
    from connectors.shopify import webhooks as sw
    from connectors.shopify.source import ShopifySource

    seen = sw.DeliveryLog()
    secret = settings.shopify.app_secret

    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        try:
            delivery = sw.receive(headers, body, secret, seen, max_bytes=sw.MAX_BYTES)
        except sw.Replayed:
            return Reply(200, "duplicate delivery", outcome="replayed")
        except sw.Ignored:
            return Reply(200, "topic not synced", outcome="ignored")
        except sw.WebhookError as exc:
            return _refused(exc)
        source = ShopifySource(client, mapping=lambda: live.current,
                               order_documents=settings.shopify.order_documents,
                               zone=settings.shopify.shop_timezone)
        events = await source.events_for([delivery])
        return Reply(202, "accepted", tuple(events),
                     done=lambda: seen.remember(delivery.event_id))
    return receive


def _business_central(settings: Settings, client: Any, live: LiveMapping) -> Receive:
    from connectors.business_central.source import (
        BusinessCentralSource, handshake, parse_notifications)

    state = settings.business_central.client_state.get_secret_value()

    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        answer = handshake(query)
        if answer is not None:  # BC validates the URL when a subscription is created
            return Reply(answer[0], answer[1], outcome="handshake")
        try:
            parsed = json.loads(body or b"null")
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            return Reply(400, "body is not JSON", outcome="malformed")
        try:
            notices = parse_notifications(parsed, state,
                                          company_id=settings.business_central.company_id)
        except ValueError as exc:  # BadNotification, or a field that is not what BC sends
            return Reply(*_bc_refusal(exc))
        if not notices:  # nothing to re-read: no lookups fetched for it
            return Reply(202, "accepted")
        source = BusinessCentralSource(client, mapping=lambda: live.current)
        events = await source.events_for(notices)
        return Reply(202, "accepted", tuple(events))
    return receive


def _bc_refusal(exc: ValueError) -> tuple[int, str, tuple, str]:
    """A wrong clientState is forged (401); any other refusal is a malformed body (400)."""
    from connectors.business_central.source import BadNotification, WrongClientState

    if isinstance(exc, WrongClientState):
        return 401, "clientState does not match", (), "forged"
    if isinstance(exc, BadNotification):
        return 400, str(exc)[:200], (), "malformed"
    return 400, "a notice is not in Business Central's shape", (), "malformed"


TOKEN_HEADER = "X-Holded-Sync-Token"  # Odoo and PrestaShop sign nothing: a shared token


def _token_receiver(token: str, parse: Callable[[bytes], Any],
                    fetch: Callable[[Any], Awaitable[list[dict]]]) -> Receive:
    """Check the shared token, ``parse`` the body into what to re-read (ValueError,
    RecursionError or SkipRecord: a body that would come back the same way, 400), ``fetch``
    those records."""
    async def receive(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Reply:
        given = {k.lower(): v for k, v in headers.items()}.get(TOKEN_HEADER.lower(), "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return Reply(401, f"bad or missing {TOKEN_HEADER}", outcome="forged")
        try:
            refs = parse(body)
        except (ValueError, RecursionError, SkipRecord) as exc:
            return Reply(400, str(exc)[:200], outcome="malformed")
        return Reply(202, "accepted", tuple(await fetch(refs)))
    return receive


def _odoo(settings: Settings, client: Any, live: LiveMapping) -> Receive:
    """An Odoo automation rule's "Send Webhook Notification" (docs/odoo.md, Webhooks)."""
    from connectors.odoo.source import OdooSource
    from connectors.odoo.webhook_refs import parse_webhook

    return _token_receiver(settings.odoo.webhook_token.get_secret_value(), parse_webhook,
                           lambda refs: OdooSource(client, live.current).fetch(refs))


def _prestashop(settings: Settings, client: Any, live: LiveMapping) -> Receive:
    """A shop module's push of changed records (docs/prestashop.md, Push)."""
    from connectors.prestashop.source import PrestaShopSource, parse_push

    shop = settings.prestashop
    return _token_receiver(
        shop.webhook_token.get_secret_value(), parse_push,
        lambda refs: PrestaShopSource(client, live.current, shop_timezone=shop.shop_timezone,
                                      invoice_prefix=shop.invoice_prefix).fetch(refs))
