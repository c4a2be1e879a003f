"""Async client for the Business Central API v2.0 with OAuth2 client credentials.

Every call goes through one :class:`ApiTransport` (limiter -> send -> classify -> retry) and
one concurrency gate (BC serves at most 5 simultaneous OData requests per user). Answers
become taxonomy errors in :mod:`connectors.business_central.errors` only.

Tokens come from the Entra ID token endpoint (``client_credentials``), are cached until
shortly before ``expires_in`` and fetched again once when the API answers 401; a second 401
is a :class:`FatalError` naming the app registration, not a loop.

    bc = BusinessCentralClient(http, tenant="contoso.onmicrosoft.com", environment="production",
                               company_id="...", client_id="...", client_secret=SecretStr("..."))
    async for customer in bc.modified_since("customers", since): ...
    invoice = await bc.get("salesInvoices", invoice_id, expand=("salesInvoiceLines",))
    await bc.update("customers", customer_id, {"taxRegistrationNumber": "B1"}, etag=etag)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.base.errors import (
    AuthExpired,
    FatalError,
    Fault,
    RetryableError,
)
from connectors.base.http import ApiTransport
from connectors.base.jsonio import ExactJson, loads_json
from connectors.base.limiter import Clock, Lane, RateLimit, SystemClock, TokenBucket
from connectors.base.classify import response_context, translate_httpx_errors
from connectors.base.paginators import ODataPaginator, Page
from connectors.base.retry import NoBlindRepeat, Retrier, RetryPolicy
from connectors.business_central import errors, odata

__all__ = ["API_URL", "BUDGETS", "DEFAULT_BUDGET", "SCOPE", "BusinessCentralClient",
           "TokenProvider", "request_budget"]

logger = logging.getLogger(__name__)

API_URL = "https://api.businesscentral.dynamics.com"
LOGIN_URL = "https://login.microsoftonline.com"
SCOPE = "https://api.businesscentral.dynamics.com/.default"  # UNVERIFIED string, see docs
MAX_CONCURRENT = 5  # "5 concurrent OData requests" per user (operational limits, 2020)

# Two published figures disagree (docs/business_central.md): 600 requests/minute in production
# and 300 in sandboxes (operational limits page, 2020) versus 6,000 per 5-minute sliding
# window (newer training text). We default to the stricter, older figures.
BUDGETS: Mapping[str, RateLimit] = {
    "production": RateLimit(rate=600 / 60, burst=MAX_CONCURRENT),
    "sandbox": RateLimit(rate=300 / 60, burst=MAX_CONCURRENT),
    "sliding-5min": RateLimit(rate=6000 / 300, burst=MAX_CONCURRENT),
}
DEFAULT_BUDGET = "production"


def request_budget(name: str = DEFAULT_BUDGET) -> RateLimit:
    """The request budget named ``production``, ``sandbox`` or ``sliding-5min``."""
    try:
        return BUDGETS[name]
    except KeyError:
        raise ValueError(f"unknown budget {name!r}; one of {', '.join(BUDGETS)}") from None


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float  # clock.monotonic() seconds


class TokenProvider:
    """Client-credentials tokens from Entra ID, cached until ``skew`` seconds before expiry."""

    def __init__(self, http: httpx.AsyncClient, *, token_url: str, client_id: str,
                 client_secret: SecretStr | str, scope: str = SCOPE, clock: Clock | None = None,
                 retry: RetryPolicy | None = None, rand: Callable[[], float] = random.random,
                 skew: float = 60.0) -> None:
        secret = (client_secret.get_secret_value() if isinstance(client_secret, SecretStr)
                  else client_secret)
        if not client_id or not secret:
            raise ValueError("client_id and client_secret are required")
        self._form = {"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret, "scope": scope}
        self._url, self._clock, self._skew = token_url, clock or SystemClock(), skew
        self._http = http
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.secrets: tuple[str, ...] = (secret,)
        self.fetches = 0
        # Entra ID is not BC: its own retries, and a bucket that never throttles us.
        self._retrier = Retrier(retry or RetryPolicy(max_attempts=3), self._clock, rand)

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or self._clock.monotonic() >= self._token.expires_at:
                self._token = await self._retrier.run(self._fetch)
            return self._token.value

    def invalidate(self, value: str | None = None) -> None:
        """Forget the cached token (only if it is still ``value``, when given)."""
        if self._token is not None and (value is None or self._token.value == value):
            self._token = None

    async def _fetch(self) -> _Token:
        request = self._http.build_request("POST", self._url, data=self._form,
                                           headers={"Accept": "application/json"})
        with translate_httpx_errors(errors.SYSTEM, request, secrets=self.secrets):
            response = await self._http.send(request)
        errors.check_token_response(response, secrets=self.secrets)
        body = response.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise FatalError("token endpoint answered without an access_token",
                             fault=Fault.REMOTE)
        self.fetches += 1
        self.secrets = (*self.secrets[:1], str(body["access_token"]))
        lifetime = float(body.get("expires_in") or 0)
        expires = self._clock.monotonic() + max(0.0, lifetime - self._skew)
        return _Token(str(body["access_token"]), expires)


class BusinessCentralClient:
    """One company of one BC environment, reached with one Entra app registration."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant: str,
        environment: str,
        company_id: str,
        client_id: str,
        client_secret: SecretStr | str,
        api_url: str = API_URL,
        token_url: str | None = None,
        scope: str = SCOPE,
        limiter: TokenBucket | None = None,
        budget: str = DEFAULT_BUDGET,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rand: Callable[[], float] = random.random,
        max_concurrent: int = MAX_CONCURRENT,
        page_size: int | None = None,
    ) -> None:
        # Every missing one named at once (as Odoo's client does): one fix, not one per try.
        needed = {"tenant": tenant, "environment": environment, "company_id": company_id,
                  "client_id": client_id}
        if missing := [name for name, value in needed.items() if not value]:
            raise ValueError("tenant, environment, company_id and client_id are required with the "
                             f"client secret; {', '.join(missing)} not set")
        if "/" in tenant or "/" in environment:
            raise ValueError("tenant and environment must be non-empty path segments")
        self.company_id = odata.check_guid(company_id)
        clock = clock or SystemClock()
        self.root = f"{api_url.rstrip('/')}/v2.0/{tenant}/{environment}/api/v2.0"
        self.company_url = f"{self.root}/companies({self.company_id})"
        self.tokens = TokenProvider(
            http, token_url=token_url or f"{LOGIN_URL}/{tenant}/oauth2/v2.0/token",
            client_id=client_id, client_secret=client_secret, scope=scope, clock=clock,
            rand=rand)
        self.page_size = page_size
        self._gate = asyncio.Semaphore(max_concurrent)
        exact = ExactJson(http)
        options: dict[str, Any] = dict(
            system=errors.SYSTEM, table=errors.TABLE, secrets=self.tokens.secrets,
            limiter=limiter or TokenBucket(request_budget(budget), clock),
            check=self._check, decode=_decode)
        self.transport = ApiTransport(exact, retrier=Retrier(retry, clock, rand),  # type: ignore[arg-type]
                                      **options)
        # BC has no idempotency keys: a POST (create, bound action) whose outcome is unknown
        # (5xx, timeout, dropped connection) is not repeated blindly; the sink searches first.
        self._post_transport = ApiTransport(exact, retrier=NoBlindRepeat(retry, clock, rand),  # type: ignore[arg-type]
                                            **options)

    # -- plumbing ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL of ``path`` under the company (``customers``, ``salesInvoices(id)``)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.company_url}/{path.lstrip('/')}"

    async def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                      body: Any = None, headers: Mapping[str, str] | None = None,
                      lane: Lane = "realtime") -> tuple[httpx.Response, Any]:
        """One logical call with a bearer token; a 401 gets one new token, then fails."""
        for attempt in (1, 2):
            token = await self.tokens.token()
            merged = {"Accept": "application/json", "Authorization": f"Bearer {token}",
                      **(headers or {})}
            if self.page_size and method == "GET":
                merged.setdefault("Prefer", f"odata.maxpagesize={self.page_size}")
            try:
                transport = self._post_transport if method == "POST" else self.transport
                async with self._gate:
                    return await transport.request(method, url, params=params,
                                                        json_body=body, headers=merged, lane=lane)
            except AuthExpired as error:
                self.tokens.invalidate(token)
                if attempt == 2:
                    raise FatalError(
                        "Business Central rejected a freshly issued token: check that the Entra "
                        "app is registered in BC (Microsoft Entra Applications) with permissions",
                        fault=Fault.CONFIG, context=error.context) from error
                logger.info("business central answered 401; fetching a new token")
        raise AssertionError("unreachable")

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, self.url(path), **kwargs))[1]

    async def iterate(self, path: str, params: Mapping[str, Any] | None = None, *,
                      lane: Lane = "realtime") -> AsyncIterator[dict[str, Any]]:
        """Every record of a collection, following ``@odata.nextLink``."""
        paginator = ODataPaginator()
        url: str = self.url(path)
        query = dict(params or {})
        while not paginator.finished:
            page_url, page_params = paginator.request(url, query)
            # httpx drops a URL's own query when handed params={}: a nextLink carries its own.
            response, body = await self.request("GET", page_url, params=page_params or None,
                                                lane=lane)
            page = Page(body, response.headers)
            records = paginator.items(page)
            paginator.advance(page)
            for record in records:
                yield record

    # -- collections ------------------------------------------------------------------------
    def list(self, path: str, *, filter: str | None = None, expand: Sequence[str] = (),
             top: int | None = None, orderby: str | None = None,
             lane: Lane = "realtime") -> AsyncIterator[dict[str, Any]]:
        params: dict[str, Any] = {}
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        if expand:
            params["$expand"] = ",".join(expand)
        if top is not None:
            params["$top"] = top
        return self.iterate(path, params, lane=lane)

    def modified_since(self, path: str, since: dt.datetime | None, *, expand: Sequence[str] = (),
                       lane: Lane = "bulk") -> AsyncIterator[dict[str, Any]]:
        """Records with ``lastModifiedDateTime gt since`` (all of them when ``since`` is None)."""
        flt = None if since is None else f"lastModifiedDateTime gt {odata.format_datetime(since)}"
        return self.list(path, filter=flt, expand=expand, lane=lane)

    async def find(self, path: str, **equals: str) -> list[dict[str, Any]]:
        """Records whose string fields equal ``equals`` (``number="10000"``)."""
        flt = " and ".join(f"{name} eq {odata.string(value)}" for name, value in equals.items())
        return [record async for record in self.list(path, filter=flt)]

    async def get(self, entity_set: str, record_id: str, *, expand: Sequence[str] = (),
                  parent: str = "", lane: Lane = "realtime") -> dict[str, Any]:
        params = {"$expand": ",".join(expand)} if expand else None
        return await self.call("GET", _join(parent, odata.key(entity_set, record_id)),
                               params=params, lane=lane)

    async def create(self, path: str, body: Mapping[str, Any], *,
                     lane: Lane = "realtime") -> dict[str, Any]:
        return await self.call("POST", path, body=dict(body), lane=lane)

    async def update(self, entity_set: str, record_id: str, body: Mapping[str, Any], *,
                     etag: str, parent: str = "", lane: Lane = "realtime") -> dict[str, Any]:
        """PATCH with ``If-Match: etag``; a changed record raises :class:`EtagConflict`."""
        if not etag:
            raise ValueError("an etag is required: Business Central never overwrites blindly")
        return await self.call("PATCH", _join(parent, odata.key(entity_set, record_id)),
                               body=dict(body), headers={"If-Match": etag}, lane=lane)

    async def delete(self, entity_set: str, record_id: str, *, etag: str = "*",
                     parent: str = "", lane: Lane = "realtime") -> None:
        await self.call("DELETE", _join(parent, odata.key(entity_set, record_id)),
                        headers={"If-Match": etag}, lane=lane)

    async def action(self, entity_set: str, record_id: str, name: str, *,
                     lane: Lane = "realtime") -> None:
        """A bound action such as ``Microsoft.NAV.post`` (answers 204)."""
        await self.call("POST", f"{odata.key(entity_set, record_id)}/Microsoft.NAV.{name}",
                        lane=lane)

    # -- webhook subscriptions (at the API root, not under a company) -----------------------
    def resource(self, entity_set: str) -> str:
        """A subscription ``resource``: ``/api/v2.0/companies(<id>)/customers``."""
        return f"/api/v2.0/companies({self.company_id})/{entity_set}"

    async def create_subscription(self, *, notification_url: str, entity_set: str,
                                  client_state: str) -> dict[str, Any]:
        body = {"notificationUrl": notification_url, "resource": self.resource(entity_set),
                "clientState": client_state}
        return (await self.request("POST", f"{self.root}/subscriptions", body=body))[1]

    async def renew_subscription(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH the subscription with its etag: BC repeats the handshake and extends expiry."""
        url = f"{self.root}/subscriptions({odata.string(str(subscription['subscriptionId']))})"
        etag = str(subscription.get("@odata.etag") or "*")
        body = {"notificationUrl": subscription["notificationUrl"],
                "resource": subscription["resource"], "clientState": subscription["clientState"]}
        return (await self.request("PATCH", url, body=body, headers={"If-Match": etag}))[1]

    async def delete_subscription(self, subscription_id: str) -> None:
        url = f"{self.root}/subscriptions({odata.string(subscription_id)})"
        await self.request("DELETE", url, headers={"If-Match": "*"})

    async def subscriptions(self) -> list[dict[str, Any]]:
        return [s async for s in self.iterate(f"{self.root}/subscriptions")]

    def _check(self, response: httpx.Response) -> None:
        errors.check_response(response, secrets=self.tokens.secrets)


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return loads_json(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        context = response_context(errors.SYSTEM, response)
        raise RetryableError("response is not valid JSON", fault=Fault.REMOTE,
                             context=context) from exc



def _join(parent: str, child: str) -> str:
    return f"{parent.rstrip('/')}/{child}" if parent else child
