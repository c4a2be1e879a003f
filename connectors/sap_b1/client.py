"""Async client for the SAP Business One Service Layer (OData v3, ``/b1s/v1``).

Sessions: ``POST /Login`` {CompanyDB, UserName, Password} answers cookies ``B1SESSION`` (and
``ROUTEID`` behind SAP's load balancer); every call carries them in its own ``Cookie`` header
(never the shared httpx cookie jar, so several clients can share one ``httpx.AsyncClient``).
A 401 on an API call logs in again once; a second 401 is a :class:`FatalError`, and a refused
login is :class:`~connectors.sap_b1.errors.LoginRejected` (CONFIG), never a retry storm.

Every call goes through one :class:`ApiTransport` (limiter -> send -> classify -> retry);
SAP's error shape becomes taxonomy errors in :mod:`connectors.sap_b1.errors` only. POSTs go
through :class:`NoBlindRepeat`: a create whose answer was lost is not sent again; the sink
searches SAP for it first.

    sap = SapB1Client(http, base_url="https://sap:50000/b1s/v1", company_db="SBODEMOES",
                      username="manager", password=SecretStr("..."), page_size=100)
    async for bp in sap.list("BusinessPartners", filter="CardType eq 'cCustomer'"): ...
    invoice = await sap.get("Invoices", 12)
    await sap.update("BusinessPartners", "C0001", {"FederalTaxID": "B1"}, etag=invoice_etag)
    await sap.logout()
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, cast
from urllib.parse import urljoin

import httpx
from pydantic import SecretStr

from connectors.base.errors import ConnectorError, ErrorContext, Fault, RetryableError
from connectors.base.http import ApiTransport
from connectors.base.limiter import Clock, Lane, RateLimit, SystemClock, TokenBucket
from connectors.base.paginators import ODataPaginator, Page
from connectors.base.retry import NoBlindRepeat, Retrier, RetryPolicy
from connectors.sap_b1 import errors, odata

__all__ = ["DEFAULT_RATE", "NoBlindRepeat", "SapB1Client"]

logger = logging.getLogger(__name__)

# SAP documents no rate limit for the Service Layer; this is our own courtesy budget so a
# backfill does not starve the people working in SAP (UNVERIFIED what a real server takes).
DEFAULT_RATE = RateLimit(rate=20.0, burst=5)
SESSION_COOKIES = ("B1SESSION", "ROUTEID")
# The session cookie the current task last sent: a 401 renews the session only if it is still
# the one that was rejected, so concurrent calls on an expired session log in once.
_SENT: ContextVar[str | None] = ContextVar("sap_b1_session_sent", default=None)


class _Wire:
    """The injected httpx client, with exact JSON bodies and the session cookie added."""

    def __init__(self, http: httpx.AsyncClient, cookie: Callable[[], str | None]) -> None:
        self._http, self._cookie = http, cookie

    def build_request(self, method: str, url: str, *, params: Any = None, json: Any = None,
                      headers: Mapping[str, str] | None = None) -> httpx.Request:
        merged = {"Accept": "application/json", **(headers or {})}
        if (cookie := self._cookie()) is not None:
            merged["Cookie"] = cookie
            _SENT.set(cookie)
        if json is None:
            return self._http.build_request(method, url, params=params, headers=merged)
        merged["Content-Type"] = "application/json"
        return self._http.build_request(method, url, params=params, headers=merged,
                                        content=odata.dumps(json).encode("utf-8"))

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self._http.send(request)


class SapB1Client:
    """One company database of one Service Layer, reached with one SAP user."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, company_db: str,
                 username: str, password: SecretStr | str, page_size: int | None = None,
                 limiter: TokenBucket | None = None, retry: RetryPolicy | None = None,
                 clock: Clock | None = None, rand: Callable[[], float] = random.random,
                 language: int | None = None) -> None:
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        if not company_db or not username or not secret:
            raise ValueError("company_db, username and password are required")
        self.base_url = base_url.rstrip("/") + "/"
        self.page_size = page_size
        self._credentials: dict[str, Any] = {"CompanyDB": company_db, "UserName": username,
                                             "Password": secret}
        if language is not None:
            self._credentials["Language"] = language
        self._secrets: tuple[str, ...] = (secret,)
        self._session: dict[str, str] = {}
        self._login_lock = asyncio.Lock()
        self.logins = 0
        clock = clock or SystemClock()
        options: dict[str, Any] = dict(
            system=errors.SYSTEM, table=errors.TABLE, secrets=self._secrets,
            limiter=limiter or TokenBucket(DEFAULT_RATE, clock), decode=_decode)
        # ApiTransport wants an httpx.AsyncClient; _Wire has the two methods it uses.
        wire = cast(httpx.AsyncClient, _Wire(http, self._cookie))
        bare = cast(httpx.AsyncClient, _Wire(http, lambda: None))
        self.transport = ApiTransport(wire, retrier=Retrier(retry, clock, rand),
                                      check=self._check, refresh_auth=self._relogin, **options)
        self._post_transport = ApiTransport(wire, retrier=NoBlindRepeat(retry, clock, rand),
                                            check=self._check, refresh_auth=self._relogin,
                                            **options)
        # Login has no refresh of its own: a refused login is LoginRejected, never a loop.
        self._login_transport = ApiTransport(bare, retrier=Retrier(retry, clock, rand),
                                             check=self._check_login, **options)

    # -- session ----------------------------------------------------------------------------
    @property
    def logged_in(self) -> bool:
        return bool(self._session)

    async def login(self) -> dict[str, Any]:
        """Open a session; returns SAP's ``B1Session`` answer (``SessionId``, timeout)."""
        response, body = await self._login_transport.request(
            "POST", self.url("Login"), json_body=self._credentials)
        cookies = {name: response.cookies.get(name) for name in SESSION_COOKIES}
        session = {k: v for k, v in cookies.items() if v}
        if "B1SESSION" not in session and isinstance(body, dict) and body.get("SessionId"):
            session["B1SESSION"] = str(body["SessionId"])
        if "B1SESSION" not in session:
            raise errors.LoginRejected("SAP B1 login answered without a B1SESSION",
                                       fault=Fault.REMOTE)
        self._session = session
        self.logins += 1
        return body if isinstance(body, dict) else {}

    async def logout(self) -> None:
        """Close the session (``POST /Logout``); a session already gone is fine."""
        if not self._session:
            return
        try:
            await self._login_transport.request("POST", self.url("Logout"),
                                                headers={"Cookie": self._cookie() or ""})
        except ConnectorError as error:
            logger.info("sap b1 logout failed (%s); the session will time out", error.message)
        finally:
            self._session = {}

    async def _ensure_session(self) -> None:
        if not self._session:
            async with self._login_lock:
                if not self._session:
                    await self.login()

    async def _relogin(self) -> None:
        rejected = _SENT.get()  # the cookie this task's rejected request carried
        async with self._login_lock:
            if self._session and self._cookie() != rejected:
                return  # a concurrent call already logged in again
            logger.info("sap b1 session rejected; logging in again")
            self._session = {}
            await self.login()

    def _cookie(self) -> str | None:
        if not self._session:
            return None
        return "; ".join(f"{name}={value}" for name, value in self._session.items())

    # -- plumbing ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (``Invoices(12)``); a nextLink (absolute or relative) too."""
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return urljoin(self.base_url, path)
        return self.base_url + path

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Any = None, headers: Mapping[str, str] | None = None,
                      lane: Lane = "realtime") -> tuple[httpx.Response, Any]:
        """One logical call in the session (logging in first when there is none)."""
        await self._ensure_session()
        merged = dict(headers or {})
        if self.page_size and method == "GET":
            merged.setdefault("Prefer", f"odata.maxpagesize={self.page_size}")
        transport = self._post_transport if method == "POST" else self.transport
        return await transport.request(method, self.url(path), params=params, json_body=body,
                                       headers=merged, lane=lane)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs))[1]

    async def iterate(self, path: str, params: Mapping[str, Any] | None = None, *,
                      lane: Lane = "realtime") -> AsyncIterator[dict[str, Any]]:
        """Every record of a collection, following ``odata.nextLink``."""
        paginator = ODataPaginator(link_key="odata.nextLink")
        query = dict(params or {})
        while not paginator.finished:
            page_url, page_params = paginator.request(path, query)
            response, body = await self.request("GET", page_url, params=page_params or None,
                                                lane=lane)
            if isinstance(body, dict) and "odata.nextLink" not in body:
                body = {**body, "odata.nextLink": body.get("@odata.nextLink")}  # v2 spelling
            page = Page(body, response.headers)
            records = paginator.items(page)
            paginator.advance(page)
            for record in records:
                yield record

    # -- collections ------------------------------------------------------------------------
    def list(self, entity_set: str, *, filter: str | None = None, select: Sequence[str] = (),
             orderby: str | None = None, top: int | None = None,
             lane: Lane = "realtime") -> AsyncIterator[dict[str, Any]]:
        params: dict[str, Any] = {}
        if filter:
            params["$filter"] = filter
        if select:
            params["$select"] = ",".join(select)
        if orderby:
            params["$orderby"] = orderby
        if top is not None:
            params["$top"] = top
        return self.iterate(entity_set, params, lane=lane)

    async def find(self, entity_set: str, *, select: Sequence[str] = (),
                   **equals: str | int) -> list[dict[str, Any]]:
        """Records whose fields equal ``equals`` (``Remarks="payment/holded/1"``)."""
        flt = " and ".join(f"{name} eq {odata.string(v) if isinstance(v, str) else v}"
                           for name, v in equals.items())
        return [r async for r in self.list(entity_set, filter=flt, select=select)]

    async def get(self, entity_set: str, record_key: str | int, *, select: Sequence[str] = (),
                  lane: Lane = "realtime") -> dict[str, Any]:
        """One record; its ETag (``odata.etag`` or the ``ETag`` header) under ``odata.etag``."""
        params = {"$select": ",".join(select)} if select else None
        response, body = await self.request("GET", odata.key(entity_set, record_key),
                                            params=params, lane=lane)
        record = dict(body or {})
        if "odata.etag" not in record and response.headers.get("etag"):
            record["odata.etag"] = response.headers["etag"]
        return record

    async def create(self, entity_set: str, body: Mapping[str, Any], *,
                     lane: Lane = "realtime") -> dict[str, Any]:
        """POST a new record (never repeated blindly after a lost answer)."""
        return dict(await self.call("POST", entity_set, body=dict(body), lane=lane) or {})

    async def update(self, entity_set: str, record_key: str | int, body: Mapping[str, Any], *,
                     etag: str, lane: Lane = "realtime") -> None:
        """PATCH with ``If-Match: etag``; a moved DataVersion raises :class:`EtagConflict`."""
        if not etag:
            raise ValueError("an etag is required: the sink never overwrites SAP blindly")
        await self.call("PATCH", odata.key(entity_set, record_key), body=dict(body),
                        headers={"If-Match": etag}, lane=lane)

    async def highest(self, entity_set: str, field: str = "DocEntry") -> int | None:
        """The highest value of ``field`` (one record, ``$orderby desc``), None when empty."""
        async for record in self.list(entity_set, select=(field,), orderby=f"{field} desc",
                                      top=1):
            return int(record[field])
        return None

    def _check(self, response: httpx.Response) -> None:
        errors.check_response(response, secrets=self._secrets + tuple(self._session.values()))

    def _check_login(self, response: httpx.Response) -> None:
        errors.check_login_response(response, secrets=self._secrets)


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return odata.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        context = ErrorContext.build(errors.SYSTEM, response.request.method,
                                     str(response.request.url), response.status_code,
                                     response.text)
        raise RetryableError("response is not valid JSON", fault=Fault.REMOTE,
                             context=context) from exc
