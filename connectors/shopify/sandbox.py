"""A strict Shopify Admin API sandbox: GraphQL with query costs and THROTTLED, one REST listing.

Start it in a test::

    server = await start_shopify_sandbox(port=0)
    shop = ShopifyClient(http, shop_url=server.url, access_token=server.access_token,
                         api_version=server.api_version)
    server.faults.lose_next_writes = 1       # next mutation commits, its response is lost
    server.bucket.drain(1000)                # empty the cost bucket: next query is THROTTLED
    server.shop["taxesIncluded"] = False     # the shop's prices exclude tax from now on
    server.scopes.discard("write_inventory") # the token loses a scope: ACCESS_DENIED
    await server.available("GIR-500")         # {location GID: available units} of a SKU
    server.webhooks.subscribe("customers/update", receiver_url)
    await server.webhooks.flush()            # deliver queued, signed deliveries now
    await server.stop()

It binds 127.0.0.1 only. Routes: ``POST /admin/api/{version}/graphql.json`` and
``GET /admin/api/{version}/customers.json`` (REST, ``Link`` paging and
``X-Shopify-Shop-Api-Call-Limit``). Pipeline of a request, in order: record -> latency ->
version (404) -> ``X-Shopify-Access-Token`` (401) -> 429 storm -> 5xx fault -> cost check
(THROTTLED, nothing runs) -> resolver -> lost response (mutations only).
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.base.jsonio import strict_loads
from connectors.base.sandbox_serving import (
    HOST, RunningSandbox, drop_connection, hold, listen, run_until_signal,
)
from connectors.shopify.queries import MUTATIONS
from connectors.shopify.sandbox_faults import Faults, RequestRecord
from connectors.shopify.sandbox_graphql import CostBucket, GraphQLError, Resolvers, price
from connectors.shopify.sandbox_seed import seed
from connectors.shopify.sandbox_store import SandboxStore, utcnow
from connectors.shopify.sandbox_webhooks import WebhookSender

__all__ = ["ACCESS_TOKEN", "API_VERSIONS", "APP_SECRET", "Faults", "RequestRecord",
           "ShopifySandbox", "serve", "start_shopify_sandbox"]

logger = logging.getLogger(__name__)

ACCESS_TOKEN = "shpat_sandbox_token"
APP_SECRET = "sandbox-app-secret"
API_VERSIONS = frozenset({"2024-10", "2025-01", "2025-04", "2025-07", "2025-10"})
REST_BUCKET, REST_LEAK = 40, 2.0
_REST_LIMIT = re.compile(r"[0-9]{1,3}")
_REST_ID = re.compile(r"[0-9]{1,19}")
# customers.json's documented filters; with page_info only limit and fields may be sent.
_REST_FILTERS = ("since_id", "ids", "created_at_min", "created_at_max", "updated_at_min",
                 "updated_at_max")
_PAGINATION_DOC = "https://shopify.dev/api/usage/pagination-rest"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RECORD = web.RequestKey("record", RequestRecord)


@dataclass
class SandboxState:
    store: SandboxStore
    resolvers: Resolvers
    bucket: CostBucket
    webhooks: WebhookSender
    faults: Faults
    tokens: set[str]
    requests: list[RequestRecord] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    rest_level: float = 0.0
    rest_at: float = 0.0


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, headers=headers,
                        content_type="application/json")


def build_app(state: SandboxState) -> web.Application:
    app = web.Application(middlewares=[_middleware(state)], client_max_size=1024 * 1024)
    app.router.add_post("/admin/api/{version}/graphql.json", _graphql(state))
    app.router.add_get("/admin/api/{version}/customers.json", _rest_customers(state))
    return app


def _middleware(state: SandboxState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        record = RequestRecord(time=asyncio.get_running_loop().time(), method=request.method,
                               path=request.path)
        state.requests.append(record)
        request[RECORD] = record
        faults = state.faults
        if faults.latency_ms > 0:
            await hold(state.stopping, faults.latency_ms / 1000)
        version = request.match_info.get("version")
        if version is not None and version not in API_VERSIONS:
            response: web.StreamResponse = _json({"errors": "Not Found"}, 404)
        elif request.headers.get("X-Shopify-Access-Token") not in state.tokens:
            response = _json({"errors": "[API] Invalid API key or access token (unrecognized "
                                        "login or wrong password)"}, 401)
        elif faults.take_storm():
            headers = {} if faults.storm_retry_after is None else {
                "Retry-After": f"{float(faults.storm_retry_after):.1f}"}
            response = _json({"errors": "Exceeded 2 calls per second for api client. Reduce "
                                        "request rates to resume uninterrupted service."},
                             429, headers)
        elif faults.take_error():
            response = _json({"errors": "Internal Server Error"}, faults.error_status)
        else:
            record.authorized = True
            response = await handler(request)
        record.status = response.status
        return response
    return middleware


def _graphql(state: SandboxState) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        record = request[RECORD]
        try:
            body = strict_loads(await request.text())
        except (ValueError, LookupError):
            # Not JSON, not in its charset (charset=bogus: LookupError), nested beyond the
            # parser or holding NaN / Infinity (strict_loads): each once a 500 here.
            return _json({"errors": "Bad Request: invalid JSON"}, 400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        operation = str(body.get("operationName") or "")
        variables = body.get("variables") or {}
        record.operation = operation
        requested = price(operation, variables) if isinstance(variables, dict) else 1
        cost: dict[str, Any] = {"requestedQueryCost": requested}
        if requested > state.bucket.maximum:
            cost.update(actualQueryCost=None, throttleStatus=state.bucket.status())
            return _json({"errors": [GraphQLError(
                f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({int(state.bucket.maximum)}).", "MAX_COST_EXCEEDED").body()],
                "extensions": {"cost": cost}})
        if requested > state.bucket.available():
            record.outcome = "throttled"
            cost.update(actualQueryCost=None, throttleStatus=state.bucket.status())
            record.cost = dict(cost["throttleStatus"])
            return _json({"errors": [GraphQLError("Throttled", "THROTTLED").body()],
                          "extensions": {"cost": cost}})
        state.bucket.charge(requested)
        try:
            if not isinstance(variables, dict):
                raise GraphQLError("variables must be an object", "INVALID_VARIABLE")
            data, actual = await state.resolvers.run(operation, body["query"], variables)
        except GraphQLError as exc:
            state.bucket.refund(requested - 1)
            cost.update(actualQueryCost=1, throttleStatus=state.bucket.status())
            return _json({"errors": [exc.body()], "extensions": {"cost": cost}})
        state.bucket.refund(max(0, requested - actual))
        cost.update(actualQueryCost=actual, throttleStatus=state.bucket.status())
        record.cost = dict(cost["throttleStatus"])
        response = _json({"data": data, "extensions": {"cost": cost}})
        if operation in MUTATIONS and state.faults.take_lose() and request.transport is not None:
            record.outcome = "dropped"
            drop_connection(request)
        return response
    return handle


def _page_info(last_id: int) -> str:
    """An opaque cursor, base64url JSON as Shopify's look: the last id served."""
    raw = json.dumps({"last_id": last_id, "direction": "next"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after_page_info(text: str) -> int | None:
    """The last id of a ``page_info`` this sandbox issued, None for any other value: Shopify
    answers a forged or edited one 400 ``{"page_info": "Invalid value."}`` (page_info=-1 once
    read as an offset here and served a page)."""
    try:
        body = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_",
                                           validate=True))
    except (ValueError, RecursionError):
        return None
    last = body.get("last_id") if isinstance(body, dict) else None
    if (not isinstance(last, int) or isinstance(last, bool) or not 0 < last < 1 << 63
            or body.get("direction") != "next"):
        return None
    return last


class _Refused(Exception):
    """A REST request Shopify answers 400 ``{"errors": errors}``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.errors = {name: message}


def _rest_window(query: Any) -> tuple[int, int]:
    """(limit, the id the page starts after) of a customers.json query; raises _Refused."""
    raw_limit = query.get("limit", "50")
    if not _REST_LIMIT.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= 250:
        raise _Refused("limit", "must be an integer between 1 and 250")
    if "page" in query:  # page-based paging is gone since 2019-07
        raise _Refused("page", "page cannot be passed.")
    filters = [name for name in _REST_FILTERS if name in query]
    if "page_info" in query:
        if filters:
            raise _Refused(filters[0], f"{filters[0]} cannot be passed when page_info is "
                           f"present. See {_PAGINATION_DOC} for more information.")
        after = _after_page_info(query["page_info"])
        if after is None:
            raise _Refused("page_info", "Invalid value.")
        return int(raw_limit), after
    if set(filters) - {"since_id"}:
        raise _Refused(filters[-1], "the sandbox does not implement this filter (only "
                       "since_id)")
    since = query.get("since_id", "0")
    if not _REST_ID.fullmatch(since):  # UNVERIFIED: Shopify may read it as 0 and list all
        raise _Refused("since_id", "Invalid value.")
    return int(raw_limit), int(since)


def _rest_customers(state: SandboxState) -> Handler:
    """Legacy REST ``customers.json``: ``limit``, ``fields``, ``since_id`` (the ids after it,
    as documented) and the opaque ``page_info`` of its ``Link`` header, which takes no other
    parameter but ``limit`` and ``fields`` (Shopify's 400 "since_id cannot be passed when
    page_info is present"); leaky bucket 40/2. The other documented filters (``ids``,
    ``created_at_*``, ``updated_at_*``) are refused: not implemented here, and ignoring them
    would list customers Shopify leaves out.

    Customers are listed by id, ascending (Shopify's default order is UNVERIFIED; its
    ``since_id`` walk is by id). ``limit`` is ASCII digits, 1..250: int() took " 5" and "+5",
    which a real shop's validation is not known to take (UNVERIFIED, so refused)."""
    async def handle(request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        state.rest_level = max(0.0, state.rest_level - (now - state.rest_at) * REST_LEAK) + 1
        state.rest_at = now
        if state.rest_level > REST_BUCKET:
            state.rest_level -= 1
            return _json({"errors": "Exceeded 2 calls per second for api client."}, 429,
                         {"Retry-After": "1.0"})
        try:
            limit, after = _rest_window(request.query)
        except _Refused as refused:
            return _json({"errors": refused.errors}, 400)
        records = sorted(await state.store.list("Customer"), key=_customer_id)
        records = [r for r in records if _customer_id(r) > after]
        page = records[:limit]
        headers = {"X-Shopify-Shop-Api-Call-Limit": f"{int(state.rest_level)}/{REST_BUCKET}"}
        fields = request.query.get("fields")
        if len(records) > limit:
            query = {"limit": limit, "page_info": _page_info(_customer_id(page[-1])),
                     **({"fields": fields} if fields is not None else {})}
            headers["Link"] = f'<{request.url.with_query(query)}>; rel="next"'
        customers = [{"id": _customer_id(r), "email": r.get("email"),
                      "first_name": r.get("firstName"), "last_name": r.get("lastName"),
                      "updated_at": r.get("updatedAt")} for r in page]
        if fields is not None:  # an unknown name is left out (UNVERIFIED)
            wanted = {name.strip() for name in fields.split(",")}
            customers = [{k: v for k, v in c.items() if k in wanted} for c in customers]
        return _json({"customers": customers}, 200, headers)
    return handle


def _customer_id(record: dict[str, Any]) -> int:
    return int(record["id"].rsplit("/", 1)[1])


@dataclass
class ShopifySandbox(RunningSandbox):
    """The running Shopify sandbox. ``bucket`` is live too: tests change it in between."""

    access_token: str = ACCESS_TOKEN
    app_secret: str = APP_SECRET
    api_version: str = "2025-01"
    seeded: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def bucket(self) -> CostBucket:
        return self.state.bucket

    @property
    def shop(self) -> dict[str, Any]:
        """The shop's settings ``Shop`` answers with (live): ``shop["taxesIncluded"] = False``
        turns it into a shop whose prices exclude tax."""
        return self.state.resolvers.shop

    @property
    def scopes(self) -> set[str]:
        """The access token's scopes (live): ``scopes.discard("write_inventory")``."""
        return self.state.resolvers.scopes

    async def available(self, sku: str) -> dict[str, int]:
        """Location GID -> available units of the variant with ``sku`` (none: {})."""
        for product in await self.store.list("Product"):
            for variant in (product.get("variants") or {}).get("nodes") or []:
                item_id = (variant.get("inventoryItem") or {}).get("id")
                if variant.get("sku") == sku and item_id:
                    item = await self.store.get("InventoryItem", item_id)
                    return dict((item or {}).get("levels", {}))
        return {}

    @property
    def webhooks(self) -> WebhookSender:
        return self.state.webhooks

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/admin/api/{self.api_version}/graphql.json"

    def revoke_token(self) -> None:
        """The app was uninstalled: its token is refused from now on."""
        self.state.tokens.discard(self.access_token)

    async def insert(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        return await self.state.store.insert(kind, record)

    async def all(self, kind: str) -> list[dict[str, Any]]:
        return await self.state.store.list(kind)

    async def get(self, kind: str, record_id: str | int) -> dict[str, Any] | None:
        return await self.state.store.get(kind, record_id)


async def start_shopify_sandbox(
    port: int = 0,
    *,
    db_path: str | os.PathLike[str] = ":memory:",
    access_token: str = ACCESS_TOKEN,
    app_secret: str = APP_SECRET,
    bucket_size: float = 1000.0,
    restore_rate: float = 100.0,
    faults: Faults | None = None,
    seed_data: bool = True,
    clock: Callable[[], dt.datetime] = utcnow,
) -> ShopifySandbox:
    """Start the sandbox on 127.0.0.1:``port`` (0 = a free port).

    ``bucket_size`` / ``restore_rate``: the GraphQL cost bucket (points, points per second);
    ``clock`` stamps ``createdAt`` / ``updatedAt`` (tz-aware UTC)."""
    store = await SandboxStore.open(db_path, clock=clock)
    seeded = await seed(store) if seed_data and not await store.list("Customer") else {}
    faults = faults or Faults()
    webhooks = WebhookSender(app_secret)
    loop = asyncio.get_running_loop()
    state = SandboxState(
        store=store, faults=faults, tokens={access_token}, webhooks=webhooks,
        resolvers=Resolvers(store, ignore_cursor=lambda: faults.ignore_cursor,
                            on_change=webhooks.changed),
        bucket=CostBucket(bucket_size, restore_rate, clock=loop.time))
    runner, bound = await listen(build_app(state), port)
    url = f"http://{HOST}:{bound}"
    logger.info("shopify sandbox listening on %s", url)
    return ShopifySandbox(url=url, port=bound, state=state, _runner=runner,
                          access_token=access_token, app_secret=app_secret, seeded=seeded)


def serve(port: int = 8793, *, webhook_url: str | None = None, flush_every: float = 5.0,
          **options: Any) -> None:
    """Run a sandbox until SIGINT/SIGTERM; with ``webhook_url``, deliver every synced topic
    there every ``flush_every`` seconds."""

    async def main() -> None:
        from app.devrun.sandboxes import worker_env

        server = await start_shopify_sandbox(port, **options)
        if webhook_url:
            for topic in ("orders/updated", "customers/update", "products/update"):
                server.webhooks.subscribe(topic, webhook_url)
        await run_until_signal(
            f"Shopify sandbox: GraphQL {server.graphql_url}\n"
            f"  X-Shopify-Access-Token {server.access_token}; webhook secret "
            f"{server.app_secret}\n"
            f"  a worker uses it with {worker_env('shopify', server)}",
            server.stop, every=flush_every, tick=server.webhooks.flush)

    asyncio.run(main())
