"""A strict Business Central API v2.0 sandbox (OData v4) with an Entra ID token endpoint.

Start it in a test::

    server = await start_bc_sandbox(port=0)
    bc = BusinessCentralClient(http, tenant=server.tenant, environment=server.environment,
                               company_id=server.company_id, client_id=server.client_id,
                               client_secret=server.client_secret, api_url=server.url,
                               token_url=server.token_url)
    server.faults.lose_next_writes = 1      # next write commits, its response is lost
    await server.flush_notifications()      # deliver queued webhook notices now
    await server.stop()

It binds 127.0.0.1 only. Routes: ``POST /{tenant}/oauth2/v2.0/token`` and
``/v2.0/{tenant}/{environment}/api/v2.0/...``. Pipeline of an API request, in order:
record -> latency -> bearer token (401) -> 429 storm -> 5xx fault -> handler -> lost
response (writes only). Where the reference is unsure, the sandbox takes the stricter reading.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.base.sandbox_serving import (
    HOST, RunningSandbox, drop_connection, hold, listen, run_until_signal,
)
from connectors.business_central.sandbox_auth import TokenIssuer
from connectors.business_central.sandbox_faults import Faults, RequestRecord
from connectors.business_central.sandbox_odata import ODataError
from connectors.business_central.sandbox_routes import handle_api, json_response
from connectors.business_central.sandbox_rules import Rules
from connectors.business_central.sandbox_seed import COMPANY_ID, seed
from connectors.business_central.sandbox_store import SandboxStore, utcnow
from connectors.business_central.sandbox_subscriptions import Subscriptions

__all__ = ["BCSandbox", "Faults", "RequestRecord", "SandboxState", "serve", "start_bc_sandbox"]

logger = logging.getLogger(__name__)

TENANT = "sandbox-tenant"
ENVIRONMENT = "production"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
_WRITES = frozenset({"POST", "PATCH", "DELETE"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SandboxState:
    store: SandboxStore
    rules: Rules
    tokens: TokenIssuer
    subscriptions: Subscriptions
    faults: Faults
    tenant: str
    environment: str
    page_size: int
    base_url: str = ""
    requests: list[RequestRecord] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/v2.0/{self.tenant}/{self.environment}/api/v2.0"

    async def changed(self, company: str, entity_set: str, record_id: str, change: str,
                      when: str) -> None:
        await self.subscriptions.changed(company, entity_set, record_id, change, when)


def _error(exc: ODataError) -> web.Response:
    return json_response(exc.body(), exc.status, exc.headers)


def build_app(state: SandboxState) -> web.Application:
    app = web.Application(middlewares=[_middleware(state)])
    app.router.add_post("/{tenant}/oauth2/v2.0/token", _token_route(state))
    app.router.add_route("*", "/v2.0/{tenant}/{environment}/api/v2.0{rest:.*}", _api_route(state))
    return app


def _token_route(state: SandboxState) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.match_info["tenant"] != state.tenant:
            from connectors.business_central.sandbox_auth import aad_error
            return aad_error(400, "invalid_request", 90002,
                             f"Tenant '{request.match_info['tenant']}' not found.")
        if state.faults.take_token_error():
            return web.json_response({"error": "temporarily_unavailable",
                                      "error_description": "AADSTS90033: try again"}, status=503)
        return await state.tokens.handle(request)
    return handle


def _api_route(state: SandboxState) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        if info["tenant"] != state.tenant or info["environment"] != state.environment:
            return _error(ODataError(404, "NoEnvironment",
                                     f"Environment '{info['environment']}' of tenant "
                                     f"'{info['tenant']}' does not exist."))
        return await handle_api(state, request, info["rest"])
    return handle


def _middleware(state: SandboxState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        token_route = request.path.endswith("/oauth2/v2.0/token")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        client = (state.tokens.client_of(token.strip(), time.monotonic())
                  if scheme.lower() == "bearer" else None)
        record = RequestRecord(
            time=asyncio.get_running_loop().time(), method=request.method, path=request.path,
            query={k: request.query.getall(k) for k in request.query.keys()}, client=client,
            headers={k: v for k, v in request.headers.items() if k in ("If-Match", "Prefer")})
        state.requests.append(record)
        try:
            response = await (handler(request) if token_route
                              else _pipeline(state, request, handler, record))
        except ODataError as exc:
            response = _error(exc)
        record.status = response.status
        return response
    return middleware


async def _pipeline(state: SandboxState, request: web.Request, handler: Handler,
                    record: RequestRecord) -> web.StreamResponse:
    faults = state.faults
    if faults.latency_ms > 0:
        await hold(state.stopping, faults.latency_ms / 1000)
    if record.client is None:
        return json_response({"error": {"code": "Authentication_InvalidCredentials",
                                        "message": "The server has rejected the client "
                                                   "credentials."}}, 401,
                             {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
    if faults.take_storm():
        headers = {} if faults.storm_retry_after is None else {
            "Retry-After": str(faults.storm_retry_after)}
        return _error(ODataError(429, "Application_TooManyRequests",
                                 "Too many requests reached. Please try again later.", headers))
    if faults.take_error():
        return _error(ODataError(faults.error_status, "InternalServerError",
                                 "The service is temporarily unavailable."))
    try:
        response = await handler(request)
    except ODataError as exc:
        return _error(exc)
    if request.method in _WRITES and response.status < 400 and faults.take_lose():
        if request.transport is not None:
            record.outcome = "dropped"
            drop_connection(request)
    return response


@dataclass
class BCSandbox(RunningSandbox):
    """The running Business Central sandbox."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    company_id: str = COMPANY_ID

    @property
    def tenant(self) -> str:
        return self.state.tenant

    @property
    def environment(self) -> str:
        return self.state.environment

    @property
    def token_url(self) -> str:
        return f"{self.url}/{self.tenant}/oauth2/v2.0/token"

    @property
    def api_root(self) -> str:
        return self.state.api_root

    @property
    def company_url(self) -> str:
        return f"{self.api_root}/companies({self.company_id})"

    def revoke_tokens(self) -> None:
        """Every token issued so far is rejected from now on (the API answers 401)."""
        self.state.tokens.revoke_all()

    def revoke_client(self, client_id: str | None = None) -> None:
        """The app registration is gone: its secret is refused and its tokens stop working."""
        clients = dict(self.state.tokens.clients)
        clients.pop(client_id or self.client_id, None)
        self.state.tokens.clients = clients
        self.state.tokens.revoke_all()

    async def insert(self, collection: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Load records straight into the store (no validation), in this sandbox's company."""
        return [await self.state.store.insert(collection, {"_company": self.company_id, **r})
                for r in records]

    async def flush_notifications(self) -> int:
        """Deliver queued webhook notices now; returns the number of POSTs made."""
        return await self.state.subscriptions.flush()

    async def all(self, collection: str, **equals: Any) -> list[dict[str, Any]]:
        """Stored records (private ``_`` fields included), in creation order."""
        return await self.state.store.list(collection, **equals)

    async def get(self, collection: str, record_id: str) -> dict[str, Any] | None:
        return await self.state.store.get(collection, record_id)


async def start_bc_sandbox(
    port: int = 0,
    *,
    db_path: str | os.PathLike[str] = ":memory:",
    tenant: str = TENANT,
    environment: str = ENVIRONMENT,
    clients: dict[str, str] | None = None,
    token_ttl: int = 3599,
    page_size: int = 20000,
    collection_threshold: int = 1000,
    faults: Faults | None = None,
    seed_data: bool = True,
    rng_seed: int = 0,
    clock: Callable[[], dt.datetime] = utcnow,
) -> BCSandbox:
    """Start the sandbox on 127.0.0.1:``port`` (0 = a free port).

    ``clients`` maps Entra client ids to secrets (default ``sandbox-client`` /
    ``sandbox-secret``); ``page_size`` is the server-driven page size (BC: 20,000);
    ``clock`` stamps ``lastModifiedDateTime`` (tz-aware UTC).
    """
    store = await SandboxStore.open(db_path, seed=rng_seed, clock=clock)
    if seed_data and not await store.list("companies"):
        await seed(store)
    state = SandboxState(
        store=store, rules=Rules(store),
        tokens=TokenIssuer(clients or {CLIENT_ID: CLIENT_SECRET}, ttl=token_ttl),
        subscriptions=Subscriptions(store, collection_threshold=collection_threshold),
        faults=faults or Faults(), tenant=tenant, environment=environment, page_size=page_size)
    runner, bound = await listen(build_app(state), port)
    state.base_url = f"http://{HOST}:{bound}"
    logger.info("business central sandbox listening on %s", state.api_root)
    return BCSandbox(url=state.base_url, port=bound, state=state, _runner=runner)


def serve(port: int = 8791, *, notify_every: float = 30.0, **options: Any) -> None:
    """Run a sandbox until SIGINT/SIGTERM, delivering webhook notices every ``notify_every`` s."""

    async def main() -> None:
        from app.devrun.sandboxes import worker_env

        server = await start_bc_sandbox(port, **options)
        await run_until_signal(
            f"Business Central sandbox: API {server.company_url}\n"
            f"  token endpoint {server.token_url} (client {server.client_id})\n"
            f"  a worker uses it with {worker_env('business_central', server)}",
            server.stop, every=notify_every, tick=server.flush_notifications)

    asyncio.run(main())
