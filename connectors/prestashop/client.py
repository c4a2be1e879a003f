"""Async PrestaShop webservice client: Basic auth with the key, JSON output, offset paging.

    ps = PrestaShopClient(http, base_url="https://shop.example", api_key=SecretStr("KEY..."))
    async for customer in ps.list("customers", filters={"date_upd": interval(a, b)}, date=True,
                                  sort="[date_upd_ASC,id_ASC]"): ...
    address = await ps.get("addresses", 5)
    await ps.update("addresses", 5, {**address, "vat_number": "ESB12345678"})

Every request carries ``Authorization: Basic base64(<key>:)`` (key as user, empty password) and
``output_format=JSON``; lists ask ``display=full`` and walk ``limit=<offset>,<N>`` pages with
:class:`PrestaShopPaginator` (the base offset paginator: a page that repeats the previous one
raises :class:`PaginationLoop`). ``filter[date_add|date_upd]`` and a sort on them are refused
here unless ``date=True`` (PrestaShop ignores or rejects them without ``date=1``).

Writes send PrestaShop's XML input (``<prestashop><address>...``): JSON input is UNVERIFIED on
8.x. Reads and PUT (a full replacement, so repeating it is harmless) are retried; a POST whose
answer was lost is never repeated blindly (only a 429, which wrote nothing, is retried): the
sink searches before it writes again. Errors become taxonomy errors in
:func:`connectors.prestashop.errors.check_response` only.
"""
from __future__ import annotations

import base64
import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any
from xml.etree import ElementTree

import httpx
from pydantic import SecretStr

from connectors.base.classify import response_context, translate_httpx_errors
from connectors.base.errors import ErrorContext, Fault, RateLimited, RetryableError
from connectors.base.http import ApiTransport
from connectors.base.limiter import Clock, Lane, RateLimit, SystemClock, TokenBucket
from connectors.base.paginators import OffsetPaginator, Page, _malformed
from connectors.base.retry import NoBlindRepeat, Retrier, RetryPolicy
from connectors.prestashop.errors import SYSTEM, check_response

__all__ = ["DEFAULT_RATE", "DATE_FIELDS", "PrestaShopClient", "PrestaShopPaginator", "any_of",
           "interval", "singular", "to_xml"]

logger = logging.getLogger(__name__)

# PrestaShop core has no rate limit; each request is a full PHP bootstrap on the shop's own
# server, so stay gentle by default (one shop, one worker).
DEFAULT_RATE = RateLimit(rate=5.0, burst=5)
DATE_FIELDS = frozenset({"date_add", "date_upd"})
_SINGULAR = {"addresses": "address", "countries": "country", "currencies": "currency",
             "taxes": "tax", "stock_availables": "stock_available"}
_READ_ONLY = frozenset({"date_add", "date_upd", "associations"})

def singular(resource: str) -> str:
    """The element name of one record: ``addresses`` -> ``address``, ``orders`` -> ``order``."""
    return _SINGULAR.get(resource, resource[:-1] if resource.endswith("s") else resource)


def interval(low: Any, high: Any) -> str:
    """A ``filter[...]`` interval ``[low,high]`` (inclusive)."""
    return f"[{low},{high}]"


def any_of(values: Iterable[Any]) -> str:
    """A ``filter[...]`` alternative ``[a|b|c]``."""
    return "[" + "|".join(str(v) for v in values) + "]"


def to_xml(resource: str, record: Mapping[str, Any]) -> bytes:
    """PrestaShop's XML input for one record; multilang values are ``[{"id","value"}]``."""
    root = ElementTree.Element("prestashop")
    node = ElementTree.SubElement(root, singular(resource))
    for name, value in record.items():
        if name in _READ_ONLY or isinstance(value, dict):
            continue
        child = ElementTree.SubElement(node, name)
        if isinstance(value, list):
            for lang in value:
                ElementTree.SubElement(child, "language", id=str(lang["id"])).text = str(
                    lang.get("value") or "")
        else:
            child.text = "" if value is None else str(value)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


class PrestaShopPaginator(OffsetPaginator):
    """``limit=<offset>,<N>``; records under the plural resource name; ``[]`` is an empty page
    (PrestaShop answers a list with no match as a bare JSON array)."""

    def __init__(self, resource: str, limit: int) -> None:
        super().__init__(limit)
        self.resource = resource

    def items(self, page: Page) -> list[Any]:
        body = page.body
        if body in (None, [], {}, ""):
            return []
        if isinstance(body, dict) and isinstance(body.get(self.resource), list):
            return body[self.resource]
        raise _malformed(f"expected {{{self.resource!r}: [...]}} or []")

    def request(self, url: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return url, {**params, "limit": f"{self._current},{self.limit}"}


class PrestaShopClient:
    """One shop's webservice, one key. ``http`` is injected; the key is never logged."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, api_key: SecretStr | str,
                 limiter: TokenBucket | None = None, retry: RetryPolicy | None = None,
                 clock: Clock | None = None, rand: Callable[[], float] = random.random,
                 page_size: int = 100) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise ValueError("api_key is empty")
        if not base_url:
            raise ValueError("the shop's url is required with the API key")
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        self.api_url = base_url.rstrip("/") + "/api"
        self.page_size = page_size
        self._key = key
        self._auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        self._http = http
        clock = clock or SystemClock()
        self.limiter = limiter or TokenBucket(DEFAULT_RATE, clock)
        self._secrets = (key, self._auth.split(" ", 1)[1])
        self.transport = ApiTransport(http, system=SYSTEM, limiter=self.limiter,
                                      retrier=Retrier(retry, clock, rand), secrets=self._secrets,
                                      check=self._check, decode=self._decode)
        self._retrier = Retrier(retry, clock, rand)
        self._post_retrier = NoBlindRepeat(retry, clock, rand, keep_cause=True)

    # ---- reads -----------------------------------------------------------------------------
    def url(self, resource: str, record_id: int | str | None = None) -> str:
        return f"{self.api_url}/{resource}" + (f"/{record_id}" if record_id is not None else "")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._auth, "Accept": "application/json"}

    async def list(self, resource: str, *, filters: Mapping[str, str] | None = None,
                   display: str = "full", sort: str | None = None, date: bool = False,
                   page_size: int | None = None, lane: Lane = "realtime"
                   ) -> AsyncIterator[dict[str, Any]]:
        """Every record of ``resource`` matching ``filters`` (``{"id_customer": "[7]"}``)."""
        params = _list_params(resource, filters, display, sort, date)
        paginator = PrestaShopPaginator(resource, page_size or self.page_size)
        async for record in self.transport.paginate(self.url(resource), paginator, params=params,
                                                    headers=self._headers(), lane=lane):
            yield record

    async def page(self, resource: str, *, limit: int, offset: int = 0,
                   filters: Mapping[str, str] | None = None, display: str = "full",
                   sort: str | None = None, date: bool = False, lane: Lane = "realtime"
                   ) -> list[dict[str, Any]]:
        """One page (``limit=<offset>,<limit>``): for keyset walks that filter on ``id``."""
        params = _list_params(resource, filters, display, sort, date)
        params["limit"] = f"{offset},{limit}"
        body = await self.transport.json("GET", self.url(resource), params=params,
                                         headers=self._headers(), lane=lane)
        return PrestaShopPaginator(resource, limit).items(Page(body))

    async def get(self, resource: str, record_id: int | str, *, lane: Lane = "realtime"
                  ) -> dict[str, Any]:
        body = await self.transport.json("GET", self.url(resource, record_id),
                                         params={"output_format": "JSON"},
                                         headers=self._headers(), lane=lane)
        return _one(resource, body)

    async def blank(self, resource: str) -> dict[str, Any]:
        """The resource's blank schema (``?schema=blank``): every writable field, empty."""
        body = await self.transport.json("GET", self.url(resource),
                                         params={"output_format": "JSON", "schema": "blank"},
                                         headers=self._headers())
        return _one(resource, body)

    # ---- writes ----------------------------------------------------------------------------
    async def create(self, resource: str, record: Mapping[str, Any], *,
                     lane: Lane = "realtime") -> dict[str, Any]:
        """POST one record; a lost answer raises (never re-sent: search before retrying)."""
        body = await self._write("POST", self.url(resource), to_xml(resource, record), lane,
                                 self._post_retrier)
        return _one(resource, body)

    async def update(self, resource: str, record_id: int | str, record: Mapping[str, Any], *,
                     lane: Lane = "realtime") -> dict[str, Any]:
        """PUT the full record (PrestaShop replaces every field): read it first, change, send."""
        full = {**record, "id": record_id}
        body = await self._write("PUT", self.url(resource, record_id), to_xml(resource, full),
                                 lane, self._retrier)
        return _one(resource, body)

    async def _write(self, method: str, url: str, content: bytes, lane: Lane,
                     retrier: Retrier) -> Any:
        async def attempt() -> Any:
            request = self._http.build_request(
                method, url, params={"output_format": "JSON"}, content=content,
                headers={**self._headers(), "Content-Type": "application/xml"})
            async with self.limiter.slot(lane):  # held from the send to the response
                with translate_httpx_errors(SYSTEM, request, secrets=self._secrets):
                    response = await self._http.send(request)
            logger.debug("%s %s -> %s", method, request.url.path, response.status_code)
            try:
                self._check(response)
            except RateLimited as error:
                self.limiter.on_rate_limited(error.retry_after)
                raise
            return self._decode(response)

        return await retrier.run(attempt)

    # ---- the boundary ----------------------------------------------------------------------
    def _check(self, response: httpx.Response) -> None:
        check_response(response, secrets=self._secrets)

    def _decode(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            pass
        # A PHP notice printed before the JSON is a common shop misconfiguration: say so, and
        # read the JSON after it rather than failing every sync.
        text = response.content.decode("utf-8", "replace")
        start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
        if start > 0:
            try:
                body = json.loads(text[start:])
            except ValueError:
                body = None
            if body is not None:
                logger.warning("prestashop printed %d bytes before its JSON (PHP notices?)",
                               start)
                return body
        context = response_context(SYSTEM, response, self._secrets, body=text)
        raise RetryableError("response is not JSON: is output_format=JSON honoured?",
                             fault=Fault.REMOTE, context=context)


def _list_params(resource: str, filters: Mapping[str, str] | None, display: str,
                 sort: str | None, date: bool) -> dict[str, Any]:
    filters = dict(filters or {})
    dated = DATE_FIELDS & set(filters) or (sort and any(f in sort for f in DATE_FIELDS))
    if dated and not date:
        raise ValueError(f"{resource}: filtering or sorting on date_add / date_upd needs "
                         "date=True (PrestaShop's date=1)")
    params: dict[str, Any] = {"output_format": "JSON", "display": display}
    params.update({f"filter[{name}]": value for name, value in filters.items()})
    if sort:
        params["sort"] = sort
    if date:
        params["date"] = "1"
    return params


def _one(resource: str, body: Any) -> dict[str, Any]:
    """The record of a single-record answer ``{"address": {...}}``."""
    if isinstance(body, dict):
        value = body.get(singular(resource))
        if isinstance(value, dict):
            return value
        if len(body) == 1 and isinstance(next(iter(body.values())), dict):
            return next(iter(body.values()))
    raise RetryableError(f"{resource}: unexpected single-record answer", fault=Fault.REMOTE,
                         context=ErrorContext(SYSTEM))
