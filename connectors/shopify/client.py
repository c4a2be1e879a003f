"""Async client for the Shopify Admin GraphQL API (REST only where a resource still needs it).

Every call goes through one :class:`ApiTransport` (limiter -> send -> classify -> retry); the
GraphQL cost budget comes first: :class:`CostBudget` mirrors ``extensions.cost.throttleStatus``
from each answer and makes a query of known cost wait until the shop's bucket holds enough
points, so ``THROTTLED`` is the exception, not the flow control. A ``THROTTLED`` error or an
HTTP 429 raises :class:`RateLimited` with the wait in ``retry_after``; the transport retries.

    shop = ShopifyClient(http, shop_url="https://acme.myshopify.com",
                         access_token=SecretStr("shpat_..."), api_version="2025-01")
    data = await shop.execute("Shop")
    async for order in shop.iterate("Orders", ("orders",), query="updated_at:>'2026-01-01'"):
        ...
    payload = await shop.mutate("CustomerUpdate", {"input": {...}}, field="customerUpdate")

Mutations are not repeated blindly after an unknown outcome (5xx, dropped connection): the
error goes to the sink, which reads the record again before deciding (see sink.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.base.http import ApiTransport
from connectors.base.limiter import Clock, Lane, RateLimit, SystemClock, TokenBucket
from connectors.base.paginators import LinkHeaderPaginator, Page
from connectors.base.retry import NoBlindRepeat, Retrier, RetryPolicy
from connectors.shopify import errors
from connectors.shopify.paginators import ConnectionPaginator
from connectors.shopify.queries import DOCUMENTS, MUTATIONS, requested_cost

__all__ = ["API_VERSION", "CostBudget", "LeakyBucket", "NoBlindRepeat", "ShopifyClient",
           "gid", "numeric_id"]

logger = logging.getLogger(__name__)

API_VERSION = "2025-01"
# Standard plan figures (rate-limits page): 100 points/s restore. The bucket size is not
# published any more; 1,000 is the older documented figure. Corrected from the first answer.
DEFAULT_MAXIMUM, DEFAULT_RESTORE = 1000.0, 100.0
# Requests per second on top of the cost budget: only a guard against a runaway loop.
REQUEST_RATE = RateLimit(rate=40.0, burst=40)
_GID = re.compile(r"^gid://shopify/(\w+)/(\d+)(?:\?.*)?$")


def numeric_id(value: str | int) -> str:
    """``gid://shopify/Order/450789469`` -> ``450789469`` (a bare number passes through)."""
    text = str(value)
    match = _GID.match(text)
    if match:
        return match.group(2)
    if text.isdigit():
        return text
    raise ValueError(f"not a Shopify id: {text[:80]!r}")


def gid(kind: str, record_id: str | int) -> str:
    return f"gid://shopify/{kind}/{numeric_id(record_id)}"


class CostBudget:
    """The shop's GraphQL point bucket as last reported, refilled at ``restore_rate``."""

    def __init__(self, maximum: float = DEFAULT_MAXIMUM, restore_rate: float = DEFAULT_RESTORE,
                 clock: Clock | None = None) -> None:
        self.maximum, self.restore_rate = maximum, restore_rate
        self._clock = clock or SystemClock()
        self._available, self._at = maximum, self._clock.monotonic()
        self._lock = asyncio.Lock()
        self.waited = 0.0  # seconds spent waiting for points, for tests and metrics

    def available(self) -> float:
        elapsed = max(0.0, self._clock.monotonic() - self._at)
        return min(self.maximum, self._available + elapsed * self.restore_rate)

    async def acquire(self, cost: float) -> None:
        """Wait until ``cost`` points are available, then reserve them."""
        cost = min(float(cost), self.maximum)
        async with self._lock:
            missing = cost - self.available()
            if missing > 0:
                delay = missing / self.restore_rate
                self.waited += delay
                logger.debug("waiting %.3fs for %d GraphQL points", delay, cost)
                await self._clock.sleep(delay)
            self._available, self._at = self.available() - cost, self._clock.monotonic()

    def update(self, body: Any) -> None:
        """Take the truth from ``extensions.cost.throttleStatus`` of an answer."""
        extensions = body.get("extensions") if isinstance(body, dict) else None
        cost = (extensions or {}).get("cost") if isinstance(extensions, dict) else None
        status = cost.get("throttleStatus") if isinstance(cost, dict) else None
        if not isinstance(status, dict):
            return
        try:
            self.maximum = float(status["maximumAvailable"])
            self.restore_rate = float(status["restoreRate"]) or self.restore_rate
            self._available = float(status["currentlyAvailable"])
        except (KeyError, TypeError, ValueError):
            return
        self._at = self._clock.monotonic()


class LeakyBucket:
    """REST's leaky bucket, corrected from ``X-Shopify-Shop-Api-Call-Limit: used/size``."""

    def __init__(self, size: int = 40, leak_rate: float = 2.0, clock: Clock | None = None):
        self.size, self.leak_rate = size, leak_rate
        self._clock = clock or SystemClock()
        self._level, self._at = 0.0, self._clock.monotonic()

    def level(self) -> float:
        return max(0.0, self._level - (self._clock.monotonic() - self._at) * self.leak_rate)

    async def acquire(self) -> None:
        over = self.level() + 1 - self.size
        if over > 0:
            await self._clock.sleep(over / self.leak_rate)
        self._level, self._at = self.level() + 1, self._clock.monotonic()

    def observe(self, header: str | None) -> None:
        used, _, size = (header or "").partition("/")
        if used.strip().isdigit() and size.strip().isdigit():
            self.size = int(size)
            self._level, self._at = float(used), self._clock.monotonic()



class ShopifyClient:
    """One shop, one access token, one pinned API version."""

    system = errors.SYSTEM

    def __init__(self, http: httpx.AsyncClient, *, shop_url: str,
                 access_token: SecretStr | str, api_version: str = API_VERSION,
                 budget: CostBudget | None = None, limiter: TokenBucket | None = None,
                 rest_bucket: LeakyBucket | None = None, retry: RetryPolicy | None = None,
                 clock: Clock | None = None, rand: Callable[[], float] = random.random,
                 page_size: int = 50) -> None:
        token = (access_token.get_secret_value() if isinstance(access_token, SecretStr)
                 else access_token)
        if not token:
            raise ValueError("an access token is required")
        if not re.match(r"https?://[^/]", shop_url):
            raise ValueError("the shop URL is required with the access token, as "
                             f"https://<shop>.myshopify.com{f' (not {shop_url!r})' if shop_url else ''}")
        if not re.fullmatch(r"\d{4}-\d{2}|unstable", api_version):
            raise ValueError(f"api_version must look like 2025-01, got {api_version!r}")
        if not 1 <= page_size <= 250:
            raise ValueError("page_size must be 1..250 (Shopify's connection maximum)")
        clock = clock or SystemClock()
        self.admin_url = f"{shop_url.rstrip('/')}/admin/api/{api_version}"
        self.endpoint = f"{self.admin_url}/graphql.json"
        self.page_size = page_size
        self.budget = budget or CostBudget(clock=clock)
        self.rest_bucket = rest_bucket or LeakyBucket(clock=clock)
        self._headers = {"X-Shopify-Access-Token": token, "Accept": "application/json"}
        options: dict[str, Any] = dict(
            system=errors.SYSTEM, table=errors.TABLE, secrets=(token,),
            limiter=limiter or TokenBucket(REQUEST_RATE, clock), check=self._check)
        self.transport = ApiTransport(http, retrier=Retrier(retry, clock, rand), **options)
        self._mutations = ApiTransport(http, retrier=NoBlindRepeat(retry, clock, rand), **options)
        self._rest = ApiTransport(http, retrier=Retrier(retry, clock, rand),
                                  **{**options, "check": self._check_rest})
        self._secrets = (token,)

    def _check(self, response: httpx.Response) -> None:
        try:
            self.budget.update(response.json())
        except ValueError:
            pass
        errors.check_response(response, secrets=self._secrets)

    def _check_rest(self, response: httpx.Response) -> None:
        self.rest_bucket.observe(response.headers.get("x-shopify-shop-api-call-limit"))
        errors.check_response(response, secrets=self._secrets)

    async def execute(self, operation: str, variables: Mapping[str, Any] | None = None, *,
                      lane: Lane = "realtime") -> dict[str, Any]:
        """Run one of :data:`queries.DOCUMENTS` by name; returns its ``data``."""
        document = DOCUMENTS[operation]
        variables = dict(variables or {})
        await self.budget.acquire(requested_cost(operation, variables))
        transport = self._mutations if operation in MUTATIONS else self.transport
        _, body = await transport.request(
            "POST", self.endpoint, headers=self._headers, lane=lane,
            json_body={"query": document, "operationName": operation, "variables": variables})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise errors.Rejected(f"{operation}: answer without data", fault=errors.Fault.REMOTE)
        return data

    async def mutate(self, operation: str, variables: Mapping[str, Any], *, field: str,
                     lane: Lane = "realtime") -> dict[str, Any]:
        """Run a mutation; its ``userErrors`` raise :class:`errors.UserErrors`."""
        payload = (await self.execute(operation, variables, lane=lane)).get(field)
        errors.check_user_errors(payload, operation)
        return dict(payload or {})

    async def iterate(self, operation: str, path: Sequence[str], *, query: str | None = None,
                      page_size: int | None = None, lane: Lane = "realtime"
                      ) -> AsyncIterator[dict[str, Any]]:
        """Every node of a connection listing, page by page (``first``/``after``)."""
        paginator = ConnectionPaginator(path)
        while not paginator.finished:
            variables: dict[str, Any] = {"first": page_size or self.page_size,
                                         "after": paginator.current}
            if query:
                variables["query"] = query
            page = Page(await self.execute(operation, variables, lane=lane))
            nodes = paginator.items(page)
            paginator.advance(page)
            for node in nodes:
                yield node

    async def nodes(self, ids: Sequence[str], *, lane: Lane = "realtime"
                    ) -> list[dict[str, Any]]:
        """Re-fetch records by GID (``nodes(ids:)``, 250 per call); missing ones are left out."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), 250):
            data = await self.execute("Nodes", {"ids": list(ids[start:start + 250])}, lane=lane)
            found.extend(n for n in data.get("nodes") or [] if isinstance(n, dict))
        return found

    async def rest_pages(self, path: str, key: str, params: Mapping[str, Any] | None = None,
                         *, lane: Lane = "bulk") -> AsyncIterator[dict[str, Any]]:
        """A legacy REST listing (``/admin/api/<v>/<path>.json``) followed by ``Link`` headers.

        Only for resources with no GraphQL equivalent; the leaky bucket is corrected from
        ``X-Shopify-Shop-Api-Call-Limit`` on every answer."""
        paginator = LinkHeaderPaginator(items_key=key)
        url = f"{self.admin_url}/{path.strip('/')}.json"
        while not paginator.finished:
            page_url, page_params = paginator.request(url, dict(params or {}))
            await self.rest_bucket.acquire()
            response, body = await self._rest.request("GET", page_url, params=page_params or None,
                                                      headers=self._headers, lane=lane)
            page = Page(body, response.headers)
            records = paginator.items(page)
            paginator.advance(page)
            for record in records:
                yield record
