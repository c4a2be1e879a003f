"""The Shopify sandbox's webhook sender: signed deliveries, duplicates and forgeries on demand.

Deliveries carry Shopify's headers (``X-Shopify-Topic``, ``X-Shopify-Hmac-Sha256`` = base64
HMAC-SHA256 of the raw body with the app secret, ``X-Shopify-Event-Id``, ``-Webhook-Id``,
``-Shop-Domain``, ``-Triggered-At``, ``-API-Version``) and a REST-shaped body (numeric ``id``,
``admin_graphql_api_id``). Changes made through the sandbox's mutations are queued for every
subscribed URL and sent by :meth:`WebhookSender.flush`; tests send single deliveries with
:meth:`WebhookSender.send`, with ``forge=True`` for a wrong signature.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["Sent", "WebhookSender", "rest_payload"]


@dataclass(frozen=True, slots=True)
class Sent:
    url: str
    topic: str
    event_id: str
    status: int | None
    forged: bool


def rest_payload(topic: str, record: dict[str, Any]) -> dict[str, Any]:
    """The REST-shaped body Shopify posts for ``record`` (only what the receiver may read)."""
    num = int(str(record["id"]).rsplit("/", 1)[1])
    body: dict[str, Any] = {"id": num, "admin_graphql_api_id": record["id"],
                            "updated_at": record.get("updatedAt")}
    if topic == "refunds/create":
        body = {"id": num, "order_id": record["order_id"],
                "created_at": record.get("createdAt")}
    return body


@dataclass
class WebhookSender:
    secret: str
    shop_domain: str = "tienda-demo.myshopify.com"
    api_version: str = "2025-01"
    subscriptions: list[tuple[str, str]] = field(default_factory=list)  # (topic, url)
    queue: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def subscribe(self, topic: str, url: str) -> None:
        self.subscriptions.append((topic, url))

    async def changed(self, topic: str, record: dict[str, Any]) -> None:
        raw = json.dumps(rest_payload(topic, record)).encode()
        event_id = str(uuid.uuid4())
        for wanted, url in self.subscriptions:
            if wanted == topic:
                self.queue.append((url, topic, raw, event_id))

    def sign(self, raw: bytes, secret: str | None = None) -> str:
        key = (secret or self.secret).encode()
        return base64.b64encode(hmac.new(key, raw, hashlib.sha256).digest()).decode()

    async def send(self, url: str, topic: str, payload: dict[str, Any] | bytes, *,
                   event_id: str | None = None, forge: bool = False,
                   extra_headers: dict[str, str] | None = None) -> int:
        """POST one delivery; returns the receiver's status."""
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        event_id = event_id or str(uuid.uuid4())
        signature = self.sign(raw, "not-the-app-secret" if forge else None)
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-Event-Id": event_id, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": dt.datetime.now(dt.UTC).isoformat(),
            "X-Shopify-API-Version": self.api_version, **(extra_headers or {})}
        status: int | None = None
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(url, data=raw, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=5)) as response:
                    status = response.status
        finally:
            self.sent.append(Sent(url, topic, event_id, status, forge))
        return status

    async def flush(self) -> int:
        """Send every queued delivery once; returns how many were sent."""
        queued, self.queue = self.queue, []
        for url, topic, raw, event_id in queued:
            try:
                await self.send(url, topic, raw, event_id=event_id)
            except aiohttp.ClientError:
                self.queue.append((url, topic, raw, event_id))  # Shopify retries later
        return len(queued)
