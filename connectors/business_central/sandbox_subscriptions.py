"""Webhook subscriptions of the BC sandbox: handshake, renewal, notifications.

``POST /subscriptions`` calls ``notificationUrl?validationToken=...`` and accepts only a 200
whose body is the token; so does a renewal (``PATCH`` with ``If-Match``). Subscriptions
expire after 3 days. Changes are queued per subscription, de-duplicated, and sent when a
test (or the CLI's timer) calls :meth:`Subscriptions.flush`, so tests await delivery
instead of sleeping through BC's ~30 s delay. More than ``collection_threshold`` changes in
one flush become a single ``collection`` notice with a ``lastModifiedDateTime`` filter.
A subscriber answering 408, 429 or 5xx keeps its queue for the next flush; any other error
deletes the subscription, as BC does.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets as pysecrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from connectors.business_central.sandbox_entities import WEBHOOK_SETS
from connectors.business_central.sandbox_odata import ODataError, bad
from connectors.business_central.sandbox_store import SandboxStore, etag, public, stamp

__all__ = ["EXPIRY", "Subscriptions"]

logger = logging.getLogger(__name__)

EXPIRY = dt.timedelta(days=3)
MAX_SUBSCRIPTIONS = 200
_RESOURCE = re.compile(r"^/?api/v2\.0/companies\(([0-9a-fA-F-]{36})\)/([A-Za-z]+)$")
_KEEP = {408, 429}


def _is_url(url: str) -> bool:
    """httpx can call it: it parses, names a host, and its port is a TCP port."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return bool(parsed.host) and (parsed.port is None or 0 < parsed.port < 65536)


@dataclass
class Subscriptions:
    store: SandboxStore
    collection_threshold: int = 1000
    pending: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    delivered: list[dict[str, Any]] = field(default_factory=list)  # every notice sent
    # A create or renewal checks (the limit, If-Match), calls the subscriber, then writes:
    # one at a time, or two of them both pass the check made before either wrote.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def _handshake(self, url: str) -> None:
        token = pysecrets.token_urlsafe(16)
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                response = await http.post(url, params={"validationToken": token})
        except httpx.HTTPError as exc:
            raise bad(f"The subscription could not be validated: {type(exc).__name__} calling "
                      "the notification URL.", "BadRequest_SubscriptionValidationFailed") from exc
        if response.status_code != 200 or response.text != token:
            raise bad("The subscription could not be validated: the notification URL did not "
                      "echo the validationToken with 200.",
                      "BadRequest_SubscriptionValidationFailed")

    async def _validate(self, body: Any) -> tuple[str, str, str]:
        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object.")
        unknown = set(body) - {"notificationUrl", "resource", "clientState", "@odata.etag"}
        if unknown:
            raise bad(f"The property '{sorted(unknown)[0]}' does not exist on type "
                      "'Microsoft.NAV.subscription'.")
        url, resource = body.get("notificationUrl"), body.get("resource")
        client_state = body.get("clientState", "")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) \
                or not _is_url(url):
            raise bad("notificationUrl must be an absolute http(s) URL.")
        if not isinstance(client_state, str) or len(client_state) > 2048:
            raise bad("clientState must be a string of at most 2048 characters.")
        match = _RESOURCE.match(resource) if isinstance(resource, str) else None
        if match is None or match.group(2) not in WEBHOOK_SETS:
            raise bad(f"The resource '{resource}' is not supported for webhook subscriptions.",
                      "BadRequest_ResourceNotFound")
        if await self.store.get("companies", match.group(1).lower()) is None:
            raise bad(f"The company in '{resource}' does not exist.", "BadRequest_NotFound")
        return url, resource, client_state

    async def create(self, body: Any) -> dict[str, Any]:
        url, resource, client_state = await self._validate(body)
        async with self.lock:
            if len(await self.store.list("subscriptions")) >= MAX_SUBSCRIPTIONS:
                raise bad("The maximum number of subscriptions has been reached.")
            await self._handshake(url)
            now = self.store.now()
            record = {"id": uuid.uuid4().hex, "notificationUrl": url, "resource": resource,
                      "clientState": client_state, "userId": "00000000-0000-0000-0000-000000000001",
                      "expirationDateTime": stamp(now + EXPIRY), "systemCreatedAt": stamp(now)}
            return self.shape(await self.store.insert("subscriptions", record))

    async def get(self, subscription_id: str) -> dict[str, Any]:
        record = await self.store.get("subscriptions", subscription_id)
        if record is None:
            raise ODataError(404, "BadRequest_NotFound", "The subscription does not exist.")
        return record

    async def renew(self, subscription_id: str, body: Any, if_match: str | None) -> dict[str, Any]:
        async with self.lock:
            record = await self.get(subscription_id)
            if not if_match:
                raise bad("An If-Match header is required to update a subscription.")
            if if_match != "*" and if_match != etag(record):
                raise ODataError(412, "Request_EntityChanged", "Another user has already changed "
                                 "the record.")
            url, resource, client_state = await self._validate(body)
            await self._handshake(url)
            record.update(notificationUrl=url, resource=resource, clientState=client_state,
                          expirationDateTime=stamp(self.store.now() + EXPIRY))
            return self.shape(await self.store.put("subscriptions", record))

    async def delete(self, subscription_id: str) -> None:
        await self.get(subscription_id)
        await self.store.delete("subscriptions", subscription_id)
        self.pending.pop(subscription_id, None)

    @staticmethod
    def shape(record: dict[str, Any]) -> dict[str, Any]:
        out = public(record)
        out["subscriptionId"] = out.pop("id")
        return out

    async def changed(self, company: str, entity_set: str, record_id: str, change_type: str,
                      when: str) -> None:
        """Queue a change for every live subscription on ``entity_set`` of ``company``."""
        for sub in await self.store.list("subscriptions"):
            match = _RESOURCE.match(sub["resource"])
            if match is None or match.group(1).lower() != company or match.group(2) != entity_set:
                continue
            queue = self.pending.setdefault(sub["id"], {})
            queue[(record_id, change_type)] = {"id": record_id, "changeType": change_type,
                                               "lastModifiedDateTime": when}

    async def flush(self) -> int:
        """Send every queued notice; returns how many notification requests were made."""
        sent = 0
        now = self.store.now()
        for sub in await self.store.list("subscriptions"):
            queue = self.pending.get(sub["id"])
            if not queue:
                continue
            if dt.datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00")) <= now:
                await self.delete(sub["id"])
                continue
            notices = self._notices(sub, list(queue.values()))
            status = await self._post(sub["notificationUrl"], {"value": notices})
            sent += 1
            if 200 <= status < 300:
                self.pending.pop(sub["id"], None)
                self.delivered.extend(notices)
            elif status in _KEEP or status >= 500 or status == 0:
                logger.info("subscriber answered %s; keeping %d notices", status, len(queue))
            else:
                logger.info("subscriber answered %s; deleting subscription %s", status, sub["id"])
                await self.delete(sub["id"])
        return sent

    def _notices(self, sub: dict[str, Any], changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        base = {"subscriptionId": sub["id"], "clientState": sub["clientState"],
                "expirationDateTime": sub["expirationDateTime"]}
        resource = sub["resource"].lstrip("/")
        if len(changes) > self.collection_threshold:
            first = min(c["lastModifiedDateTime"] for c in changes)
            since = stamp(dt.datetime.fromisoformat(first.replace("Z", "+00:00"))
                          - dt.timedelta(milliseconds=1))
            flt = quote(f"lastModifiedDateTime gt {since}", safe=":")
            return [{**base, "resource": f"{resource}?$filter={flt}", "changeType": "collection",
                     "lastModifiedDateTime": max(c["lastModifiedDateTime"] for c in changes)}]
        return [{**base, "resource": f"{resource}({c['id']})", "changeType": c["changeType"],
                 "lastModifiedDateTime": c["lastModifiedDateTime"]} for c in changes]

    @staticmethod
    async def _post(url: str, body: dict[str, Any]) -> int:
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                return (await http.post(url, json=body)).status_code
        except httpx.HTTPError:
            return 0
