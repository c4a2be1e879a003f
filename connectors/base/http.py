"""One logical HTTP request: hold a limiter slot around the send -> classify -> retry.

Connector clients build an :class:`ApiTransport` around an injected
``httpx.AsyncClient`` and contain no loops, sleeps or httpx exception handling of
their own. A connector adapts it with two hooks: ``check`` (raise taxonomy errors for
a response, default :func:`raise_for_response`) and ``decode`` (body -> Python).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from connectors.base.classify import DEFAULT_TABLE, ClassificationTable, raise_for_response
from connectors.base.classify import invalid_url, response_context, translate_httpx_errors
from connectors.base.errors import (
    AuthExpired,
    FatalError,
    Fault,
    RateLimited,
    RetryableError,
)
from connectors.base.limiter import Lane, TokenBucket
from connectors.base.paginators import Page, Paginator
from connectors.base.retry import Retrier

__all__ = ["ApiTransport"]

logger = logging.getLogger(__name__)

Check = Callable[[httpx.Response], None]
Decode = Callable[[httpx.Response], Any]


class ApiTransport:
    """Rate-limited, classified, retried requests for one credential of one system."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        system: str,
        limiter: TokenBucket,
        retrier: Retrier,
        table: ClassificationTable = DEFAULT_TABLE,
        secrets: Iterable[str] = (),
        check: Check | None = None,
        decode: Decode | None = None,
        refresh_auth: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.system = system
        self.limiter = limiter
        self.table = table
        self._client = client
        self._retrier = retrier
        self._secrets = tuple(s for s in secrets if s)
        self._check = check or self._default_check
        self._decode = decode or self._default_decode
        self._refresh_auth = refresh_auth

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        lane: Lane = "realtime",
    ) -> tuple[httpx.Response, Any]:
        """Perform one logical request; returns the response and its decoded body."""

        async def attempt() -> tuple[httpx.Response, Any]:
            try:
                request = self._client.build_request(
                    method, url, params=params, json=json_body, headers=headers
                )
            except httpx.InvalidURL as exc:
                raise invalid_url(self.system, url, exc, self.table,
                                  secrets=self._secrets) from exc
            # The slot is held from the send to the response (window mode counts both ends).
            async with self.limiter.slot(lane):
                with translate_httpx_errors(self.system, request, self.table,
                                            secrets=self._secrets):
                    response = await self._client.send(request)
            logger.debug("%s %s -> %s", method, request.url.path, response.status_code)
            try:
                self._check(response)
            except RateLimited as error:
                self.limiter.on_rate_limited(error.retry_after)
                raise
            return response, self._decode(response)

        refreshed = False
        while True:
            try:
                return await self._retrier.run(attempt)
            except AuthExpired as error:
                if self._refresh_auth is None:
                    raise
                if refreshed:
                    raise FatalError(
                        f"credential rejected again after a refresh: {error.message}",
                        fault=Fault.CONFIG,
                        context=error.context,
                    ) from error
                refreshed = True
                await self._refresh_auth()

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Like :meth:`request`, returning only the decoded body."""
        return (await self.request(method, url, **kwargs))[1]

    async def paginate(
        self,
        url: str,
        paginator: Paginator[Any],
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        lane: Lane = "realtime",
    ) -> AsyncIterator[Any]:
        """Yield every record of every page, as the paginator directs."""
        while not paginator.finished:
            page_url, page_params = paginator.request(url, dict(params or {}))
            response, body = await self.request(
                "GET", page_url, params=page_params, headers=headers, lane=lane
            )
            page = Page(body, response.headers)
            records = paginator.items(page)
            paginator.advance(page)
            for record in records:
                yield record

    def _default_check(self, response: httpx.Response) -> None:
        raise_for_response(self.system, response, self.table, secrets=self._secrets)

    def _default_decode(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            context = response_context(self.system, response, self._secrets)
            raise RetryableError("response is not valid JSON", fault=Fault.REMOTE,
                                 context=context) from exc
