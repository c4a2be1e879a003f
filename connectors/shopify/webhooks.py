"""Shopify webhook deliveries: verify, de-duplicate, and say what to re-fetch. Framework-free.

Shopify signs each delivery: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the RAW
body keyed with the app's client secret. Retries resend the original payload with the same
``X-Shopify-Event-Id``, so that id de-duplicates (a bounded LRU per worker of the deliveries
processed: a failed one is processed again on its retry). The payload is
never trusted or mapped: it only names the record to read again through GraphQL
(:meth:`source.ShopifySource.events_for`), because a retried payload may be hours stale.

    WebhookError            ``status`` is what the web view answers
     +-- Forged             401  bad or missing signature
     +-- TooLarge           413  body over ``max_bytes``
     +-- Malformed          400  signed, but not JSON we can read, or no topic
     +-- Replayed           200  an event id seen before: acknowledge, do nothing
     +-- Ignored            200  a topic we do not sync: acknowledge, do nothing

Nothing here logs or puts in a message the secret, the signature or the body.

    log = DeliveryLog()
    try:
        delivery = receive(request.headers, raw_body, secret, log)
    except WebhookError as error:
        return Response(status=error.status)
    events = await source.events_for([delivery])   # raises: answer 5xx, Shopify retries
    publish(events)
    log.remember(delivery.event_id)                 # only now is a retry a duplicate
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from connectors.base.webhooks import (
    BadContentType,
    DeliveryLog,
    Forged,
    Malformed,
    Replayed,
    TooLarge,
    WebhookError,
)

__all__ = ["EVENT_HEADER", "MAX_BYTES", "SIGNATURE_HEADER", "TOPICS", "TOPIC_HEADER",
           "BadContentType", "Delivery", "DeliveryLog", "Forged", "Ignored", "Malformed",
           "Replayed", "TooLarge", "WebhookError", "parse", "receive", "sign", "verify"]

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
EVENT_HEADER = "X-Shopify-Event-Id"
SHOP_HEADER = "X-Shopify-Shop-Domain"
MAX_BYTES = 512 * 1024  # an order with hundreds of lines stays well under this
_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits: str.isdigit() takes "١٢" too
# topic -> (GraphQL type to re-fetch, payload field holding its numeric id)
TOPICS: Mapping[str, tuple[str, str]] = {
    "orders/create": ("Order", "id"),
    "orders/updated": ("Order", "id"),
    "orders/paid": ("Order", "id"),
    "refunds/create": ("Order", "order_id"),  # the refund is read as part of its order
    "customers/update": ("Customer", "id"),
    "products/update": ("Product", "id"),
}


class Ignored(WebhookError):
    status = 200


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a verified delivery asks us to read again."""

    topic: str
    resource: str      # GraphQL type: Order, Customer, Product
    record_id: str     # numeric id
    event_id: str | None
    shop: str | None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _secret(secret: SecretStr | str | bytes) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not raw:
        raise ValueError("the app secret is empty")
    return raw


def sign(raw_body: bytes, secret: SecretStr | str | bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends for ``raw_body``."""
    return base64.b64encode(hmac.new(_secret(secret), raw_body, hashlib.sha256).digest()).decode()


def verify(headers: Mapping[str, str], raw_body: bytes, secret: SecretStr | str | bytes, *,
           max_bytes: int = MAX_BYTES) -> None:
    """Return if the delivery is authentic, else raise TooLarge / BadContentType / Forged.

    Size is checked first (from ``Content-Length`` too, before anything is hashed); the
    digest is compared with :func:`hmac.compare_digest`."""
    length = _header(headers, "content-length")
    if len(raw_body) > max_bytes or (length is not None and length.strip().isdigit()
                                     and int(length) > max_bytes):
        raise TooLarge(f"body larger than {max_bytes} bytes")
    media = (_header(headers, "content-type") or "application/json").split(";")[0].strip()
    if media.lower() != "application/json":
        raise BadContentType(f"content type {media!r}, expected application/json")
    header = _header(headers, SIGNATURE_HEADER)
    if not header:
        raise Forged(f"missing {SIGNATURE_HEADER} header")
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Forged("signature is not base64") from None
    expected = hmac.new(_secret(secret), raw_body, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise Forged("signature does not match")


def parse(headers: Mapping[str, str], raw_body: bytes) -> Delivery:
    """The record a (verified) delivery names; Ignored for topics we do not sync."""
    topic = (_header(headers, TOPIC_HEADER) or "").strip().lower()
    if not topic:
        raise Malformed(f"missing {TOPIC_HEADER} header")
    if topic not in TOPICS:
        raise Ignored(f"topic {topic[:64]!r} is not synced")
    try:
        body: Any = json.loads(raw_body)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise Malformed("body is not JSON") from None
    resource, field = TOPICS[topic]
    value = body.get(field) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or \
            not _ID.fullmatch(str(value).strip()):
        raise Malformed(f"{topic} delivery without a numeric {field}")
    if not 0 < int(value) < 1 << 63:  # Shopify's ids are 64-bit: asking for it fails each retry
        raise Malformed(f"{topic} delivery: {field} {str(value)[:40]} is not a Shopify id")
    event_id = (_header(headers, EVENT_HEADER) or "").strip() or None
    return Delivery(topic, resource, str(value).strip(), event_id, _header(headers, SHOP_HEADER))


def receive(headers: Mapping[str, str], raw_body: bytes, secret: SecretStr | str | bytes,
            log: DeliveryLog, *, max_bytes: int = MAX_BYTES) -> Delivery:
    """verify -> parse -> refuse a replay. Nothing is remembered here: once the delivery was
    processed (its records re-read and published), call ``log.remember(delivery.event_id)``,
    so a delivery that failed half-way is processed again when Shopify retries it."""
    verify(headers, raw_body, secret, max_bytes=max_bytes)
    delivery = parse(headers, raw_body)
    log.refuse_replay(delivery.event_id)
    return delivery
