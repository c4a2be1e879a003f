"""Async Odoo external API client: JSON-RPC, XML-RPC or JSON-2 behind one interface.

``protocol`` selects the wire format:

- ``"jsonrpc"``: ``POST /jsonrpc`` ``{"service": "object", "method": "execute_kw",
  "args": [db, uid, api_key, model, method, args, kwargs]}``, uid from ``common.authenticate``;
- ``"xmlrpc"``: the same calls at ``/xmlrpc/2/common`` and ``/xmlrpc/2/object``, bodies built
  with the stdlib ``xmlrpc.client.dumps`` / ``loads`` and sent over the injected httpx client
  (no ``ServerProxy``: the transport stays injectable and async);
- ``"json2"`` (Odoo 19+): ``POST /json/2/<model>/<method>`` with ``Authorization: bearer
  <api key>``, positional parameters sent by name (``ids``, ``domain``, ``vals_list``...).

Every call passes the limiter, is classified, and Odoo faults become connector errors in
:mod:`connectors.odoo.errors` (the one boundary). Reads are retried; writes are retried only on
429 (nothing ran), because a write whose response was lost may have committed: the sink's
idempotency check, not a blind resend, decides what to do next. A rejected credential logs in
again once, then fails with a CONFIG-fault :class:`FatalError`.
"""
from __future__ import annotations

import itertools
import json
import logging
import random
import xmlrpc.client
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from connectors.base.classify import DEFAULT_TABLE, raise_for_response, translate_httpx_errors
from connectors.base.errors import (
    AuthExpired, ConnectorError, ErrorContext, FatalError, Fault, PaginationLoop, RateLimited,
    RetryableError,
)
from connectors.base.limiter import Clock, Lane, RateLimit, SystemClock, TokenBucket
from connectors.base.retry import Retrier, RetryPolicy
from connectors.odoo.errors import SYSTEM, from_fault_code, from_name

__all__ = ["DEFAULT_RATE", "OdooClient", "Protocol"]

logger = logging.getLogger(__name__)

Protocol = Literal["jsonrpc", "xmlrpc", "json2"]
# Self-hosted Odoo has no API rate limit; stay gentle with a shared server (one worker each).
DEFAULT_RATE = RateLimit(rate=10.0, burst=10)
_JSON2_POSITIONAL: dict[str, tuple[str, ...]] = {
    "search": ("domain",), "search_read": ("domain",), "search_count": ("domain",),
    "read": (), "create": ("vals_list",), "write": ("vals",), "name_search": ("name",),
}
_WITH_IDS = frozenset({"read", "write", "unlink"})


class _NoRetry(Exception):
    def __init__(self, error: ConnectorError) -> None:
        self.error = error


class OdooClient:
    """One Odoo database and API key. ``http`` is injected; the key is never logged."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, db: str, login: str,
                 api_key: SecretStr | str, protocol: Protocol = "jsonrpc",
                 limiter: TokenBucket | None = None, retry: RetryPolicy | None = None,
                 clock: Clock | None = None, rand: Callable[[], float] = random.random) -> None:
        if protocol not in ("jsonrpc", "xmlrpc", "json2"):
            raise ValueError(f"protocol must be jsonrpc, xmlrpc or json2, not {protocol!r}")
        secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not secret:
            raise ValueError("api_key is empty")
        # JSON-RPC and XML-RPC log in as ``login``; JSON-2 sends the key alone (and the db).
        needed = {"url": base_url, "db": db, **({} if protocol == "json2" else {"login": login})}
        if missing := [name for name, value in needed.items() if not value]:
            names = [*needed]
            raise ValueError(f"{', '.join(names[:-1])} and {names[-1]} are required with the API "
                             f"key; {', '.join(missing)} not set")
        self.protocol: Protocol = protocol
        self.db, self.login = db, login
        self._key = secret
        self._base = base_url.rstrip("/")
        self._http = http
        clock = clock or SystemClock()
        self.limiter = limiter or TokenBucket(DEFAULT_RATE, clock)
        self._retrier = Retrier(retry, clock, rand)
        self._uid: int | None = None
        self._ids = itertools.count(1)

    # ---- generic ORM calls -----------------------------------------------------------
    async def search_read(self, model: str, domain: Sequence[Any] = (), fields: Sequence[str] = (),
                          *, offset: int = 0, limit: int | None = None, order: str | None = None,
                          lane: Lane = "realtime", context: dict[str, Any] | None = None
                          ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": list(fields), "offset": offset}
        if limit is not None:
            kwargs["limit"] = limit
        if order:
            kwargs["order"] = order
        if context:
            kwargs["context"] = context
        return list(await self.execute_kw(model, "search_read", [list(domain)], kwargs, lane=lane))

    async def search(self, model: str, domain: Sequence[Any] = (), *, limit: int | None = None,
                     order: str | None = None, context: dict[str, Any] | None = None
                     ) -> list[int]:
        kwargs: dict[str, Any] = {"limit": limit} if limit else {}
        if order:
            kwargs["order"] = order
        if context:
            kwargs["context"] = context
        return list(await self.execute_kw(model, "search", [list(domain)], kwargs))

    async def search_count(self, model: str, domain: Sequence[Any] = ()) -> int:
        return int(await self.execute_kw(model, "search_count", [list(domain)]))

    async def read(self, model: str, ids: Sequence[int], fields: Sequence[str] = (),
                   lane: Lane = "realtime") -> list[dict[str, Any]]:
        if not ids:
            return []
        return list(await self.execute_kw(model, "read", [list(ids)], {"fields": list(fields)},
                                          lane=lane))

    async def create(self, model: str, vals: dict[str, Any],
                     context: dict[str, Any] | None = None) -> int:
        kwargs = {"context": context} if context else {}
        result = await self.execute_kw(model, "create", [[vals]], kwargs, write=True)
        return int(result[0] if isinstance(result, list) else result)

    async def write(self, model: str, ids: Sequence[int], vals: dict[str, Any]) -> bool:
        return bool(await self.execute_kw(model, "write", [list(ids), vals], write=True))

    async def call(self, model: str, method: str, ids: Sequence[int], **kwargs: Any) -> Any:
        """A business method on records, e.g. ``call("account.move", "action_post", [7])``."""
        return await self.execute_kw(model, method, [list(ids)], kwargs, write=True)

    async def iterate(self, model: str, domain: Sequence[Any] = (), fields: Sequence[str] = (),
                      *, page_size: int = 200, order: str = "id asc",
                      lane: Lane = "bulk") -> AsyncIterator[dict[str, Any]]:
        """Every matching record, ``page_size`` at a time (offset paging with a loop guard;
        pollers use keyset windows from :mod:`connectors.base.polling` instead)."""
        offset, previous = 0, None
        while True:
            page = await self.search_read(model, domain, fields, offset=offset, limit=page_size,
                                          order=order, lane=lane)
            ids = [r.get("id") for r in page]
            if page and ids == previous:
                raise PaginationLoop(f"{model}: offset {offset} returned the previous page again",
                                     context=ErrorContext(SYSTEM))
            for record in page:
                yield record
            if len(page) < page_size:
                return
            previous, offset = ids, offset + len(page)

    # ---- one call ------------------------------------------------------------------------
    async def execute_kw(self, model: str, method: str, args: Sequence[Any] = (),
                         kwargs: dict[str, Any] | None = None, *, write: bool = False,
                         lane: Lane = "realtime") -> Any:
        """Call ``model.method(*args, **kwargs)``; ``write`` marks non-idempotent calls."""
        refreshed = False
        while True:
            try:
                return await self._retried(lambda: self._execute(model, method, list(args),
                                                                 dict(kwargs or {}), lane), write)
            except AuthExpired as error:
                if refreshed or self.protocol == "json2":
                    raise FatalError(f"Odoo rejected the API key for {self.login!r} on "
                                     f"{self.db!r}{' again after logging in' if refreshed else ''}"
                                     f": {error.message}", fault=Fault.CONFIG,
                                     context=error.context) from error
                refreshed = True
                self._uid = None  # log in again on the next attempt

    async def authenticate(self, lane: Lane = "realtime") -> int:
        uid = await self._retried(lambda: self._rpc("common", "authenticate",
                                                    [self.db, self.login, self._key, {}], lane),
                                  False)
        if not uid:
            raise FatalError(f"Odoo login failed for {self.login!r} on database {self.db!r}: "
                             "check the login and API key", fault=Fault.CONFIG,
                             context=ErrorContext(SYSTEM, "POST", self._base))
        self._uid = int(uid)
        return self._uid

    async def version(self) -> dict[str, Any]:
        return dict(await self._retried(lambda: self._rpc("common", "version", [], "realtime"),
                                        False))

    async def _retried(self, attempt: Callable[[], Awaitable[Any]], write: bool) -> Any:
        async def guarded() -> Any:
            try:
                return await attempt()
            except RetryableError as error:
                if write and not isinstance(error, RateLimited):
                    raise _NoRetry(error) from error
                raise

        try:
            return await self._retrier.run(guarded)
        except _NoRetry as wrapped:
            raise wrapped.error from wrapped.error.__cause__

    async def _execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any],
                       lane: Lane) -> Any:
        if self.protocol == "json2":
            return await self._json2(model, method, args, kwargs, lane)
        if self._uid is None:
            await self.authenticate(lane)
        return await self._rpc("object", "execute_kw",
                               [self.db, self._uid, self._key, model, method, args, kwargs], lane)

    # ---- wire formats ---------------------------------------------------------------------
    async def _rpc(self, service: str, method: str, args: list[Any], lane: Lane) -> Any:
        if self.protocol == "xmlrpc":
            body = xmlrpc.client.dumps(tuple(args), method, allow_none=True).encode()
            response = await self._send(httpx.Request(
                "POST", f"{self._base}/xmlrpc/2/{service}", content=body,
                headers={"Content-Type": "text/xml"}), lane)
            return self._decode_xmlrpc(response)
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(self._ids),
                   "params": {"service": service, "method": method, "args": args}}
        response = await self._send(httpx.Request("POST", f"{self._base}/jsonrpc", json=payload),
                                    lane)
        return self._decode_jsonrpc(response)

    async def _json2(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any],
                     lane: Lane) -> Any:
        body: dict[str, Any] = {k: v for k, v in kwargs.items() if k != "context"}
        rest = list(args)
        if method in _WITH_IDS or method not in _JSON2_POSITIONAL:
            if rest:
                body["ids"] = rest.pop(0)
        for name, value in zip(_JSON2_POSITIONAL.get(method, ()), rest, strict=False):
            body[name] = value
        if kwargs.get("context"):
            body["context"] = kwargs["context"]
        request = httpx.Request("POST", f"{self._base}/json/2/{model}/{method}", json=body,
                                headers={"Authorization": f"bearer {self._key}",
                                         "X-Odoo-Database": self.db})
        response = await self._send(request, lane, odoo_errors_in_status=True)
        return response.json()

    async def _send(self, request: httpx.Request, lane: Lane,
                    odoo_errors_in_status: bool = False) -> httpx.Response:
        async with self.limiter.slot(lane):  # held from the send to the response
            with translate_httpx_errors(SYSTEM, request, DEFAULT_TABLE, secrets=(self._key,)):
                response = await self._http.send(request)
        logger.debug("POST %s -> %s", request.url.path, response.status_code)
        if odoo_errors_in_status and response.status_code in (401, 403, 404, 422, 500):
            name = _json_or_none(response, "name")
            if name:
                raise from_name(name, str(_json_or_none(response, "message") or ""),
                                self._context(request, response))
        try:
            raise_for_response(SYSTEM, response, DEFAULT_TABLE, secrets=(self._key,))
        except RateLimited as error:
            self.limiter.on_rate_limited(error.retry_after)
            raise
        return response

    def _context(self, request: httpx.Request, response: httpx.Response) -> ErrorContext:
        return ErrorContext.build(SYSTEM, request.method, str(request.url), response.status_code,
                                  response.text, (self._key,))

    def _decode_jsonrpc(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            context = self._context(response.request, response)
            if response.is_success:  # a web page answered: not an Odoo server at all
                raise FatalError("JSON-RPC response is not JSON: is ODOO_URL an Odoo server?",
                                 fault=Fault.CONFIG, context=context) from exc
            raise RetryableError("JSON-RPC response is not JSON", fault=Fault.REMOTE,
                                 context=context) from exc
        if "error" in body:
            error = body["error"] or {}
            data = error.get("data") or {}
            raise from_name(str(data.get("name") or error.get("message") or "Odoo error"),
                            str(data.get("message") or error.get("message") or ""),
                            self._context(response.request, response))
        return body.get("result")

    def _decode_xmlrpc(self, response: httpx.Response) -> Any:
        try:
            (result,), _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
        except xmlrpc.client.Fault as fault:
            raise from_fault_code(fault.faultCode, str(fault.faultString),
                                  self._context(response.request, response)) from fault
        except Exception as exc:  # noqa: BLE001 - ExpatError, ValueError: not XML-RPC at all
            raise RetryableError("XML-RPC response could not be parsed", fault=Fault.REMOTE,
                                 context=self._context(response.request, response)) from exc
        return result


def _json_or_none(response: httpx.Response, key: str) -> Any:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body.get(key) if isinstance(body, dict) else None
