"""Paginator objects: pure state machines over pages, tested without I/O.

A client loops ``while not paginator.finished``: it asks :meth:`Paginator.request`
for the URL and query of the current page, fetches it, and hands the decoded
:class:`Page` to :meth:`Paginator.advance`. Every paginator refuses to go in circles:
a token seen before, or a page identical to the previous one (an API that ignores
the page parameter), raises :class:`PaginationLoop`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from connectors.base.errors import ErrorContext, FatalError, Fault, PaginationLoop

__all__ = [
    "CursorPaginator",
    "LinkHeaderPaginator",
    "ODataPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "Paginator",
]

T = TypeVar("T")
Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    """A decoded response: JSON body plus headers."""

    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_response(cls, response: httpx.Response, body: Any = None) -> Page:
        return cls(response.json() if body is None else body, response.headers)


class Paginator(Generic[T]):
    """Base: ``current`` token, ``finished`` flag, ``advance(page)`` with a repeat guard."""

    def __init__(self, start: T) -> None:
        self._current: T = start
        self._finished = False
        self._seen: set[Any] = {self._key(start)}
        self._last_fingerprint: str | None = None

    @property
    def current(self) -> T:
        return self._current

    @property
    def finished(self) -> bool:
        return self._finished

    def items(self, page: Page) -> list[Any]:
        """The records of a page (override when they sit under a key)."""
        if not isinstance(page.body, list):
            raise _malformed(f"expected a JSON array, got {type(page.body).__name__}")
        return page.body

    def next_token(self, page: Page) -> T | None:
        """The token of the next page, or None when this page was the last."""
        raise NotImplementedError

    def request(self, url: str, params: Params) -> tuple[str, Params]:
        """URL and query string for the current page."""
        return url, params

    def advance(self, page: Page) -> None:
        if self._finished:
            raise RuntimeError("advance() called on a finished paginator")
        items = self.items(page)
        fingerprint = _fingerprint(items)
        if items and fingerprint == self._last_fingerprint:
            raise PaginationLoop(f"page {self._current!r} repeats the previous page")
        self._last_fingerprint = fingerprint
        token = self.next_token(page)
        if token is None:
            self._finished = True
            return
        if self._key(token) in self._seen:
            raise PaginationLoop(f"pagination token {token!r} was already seen")
        self._seen.add(self._key(token))
        self._current = token

    @staticmethod
    def _key(token: Any) -> Any:
        return json.dumps(token, sort_keys=True, default=str)


class PageNumberPaginator(Paginator[int]):
    """``?page=N`` from ``start``; the end is an empty page (no count is trusted)."""

    def __init__(self, start: int = 1, param: str = "page", items_key: str | None = None):
        super().__init__(start)
        self.param, self.items_key = param, items_key

    def items(self, page: Page) -> list[Any]:
        if self.items_key is None:
            return super().items(page)
        return _list_at(page.body, self.items_key)

    def next_token(self, page: Page) -> int | None:
        return self._current + 1 if self.items(page) else None

    def request(self, url: str, params: Params) -> tuple[str, Params]:
        return url, {**params, self.param: self._current}


class OffsetPaginator(Paginator[int]):
    """``?offset=N&limit=L``; ends on a short or empty page."""

    def __init__(self, limit: int, start: int = 0, items_key: str | None = None,
                 offset_param: str = "offset", limit_param: str = "limit"):
        super().__init__(start)
        self.limit, self.items_key = limit, items_key
        self.offset_param, self.limit_param = offset_param, limit_param

    def items(self, page: Page) -> list[Any]:
        return super().items(page) if self.items_key is None else _list_at(page.body, self.items_key)

    def next_token(self, page: Page) -> int | None:
        count = len(self.items(page))
        return self._current + count if count >= self.limit else None

    def request(self, url: str, params: Params) -> tuple[str, Params]:
        return url, {**params, self.offset_param: self._current, self.limit_param: self.limit}


class CursorPaginator(Paginator["str | None"]):
    """``{items, cursor, has_more}``: follow ``cursor`` while ``has_more`` is true."""

    def __init__(self, limit: int | None = None, items_key: str = "items",
                 cursor_key: str = "cursor", has_more_key: str = "has_more",
                 cursor_param: str = "cursor", limit_param: str = "limit"):
        super().__init__(None)
        self.limit, self.items_key = limit, items_key
        self.cursor_key, self.has_more_key = cursor_key, has_more_key
        self.cursor_param, self.limit_param = cursor_param, limit_param

    def items(self, page: Page) -> list[Any]:
        return _list_at(page.body, self.items_key)

    def next_token(self, page: Page) -> str | None:
        cursor = page.body.get(self.cursor_key)
        has_more = page.body.get(self.has_more_key, cursor is not None)
        if not has_more:
            return None
        if not cursor:
            raise _malformed(f"{self.has_more_key} is true but {self.cursor_key} is empty")
        return str(cursor)

    def request(self, url: str, params: Params) -> tuple[str, Params]:
        extra: Params = {} if self.limit is None else {self.limit_param: self.limit}
        if self._current is not None:
            extra[self.cursor_param] = self._current
        return url, {**params, **extra}


class LinkHeaderPaginator(Paginator["str | None"]):
    """RFC 8288 ``Link: <url>; rel="next"``; the next URL already carries the query."""

    def __init__(self, items_key: str | None = None) -> None:
        super().__init__(None)
        self.items_key = items_key

    def items(self, page: Page) -> list[Any]:
        return super().items(page) if self.items_key is None else _list_at(page.body, self.items_key)

    def next_token(self, page: Page) -> str | None:
        return next_link(page.headers.get("link", ""))

    def request(self, url: str, params: Params) -> tuple[str, Params]:
        return (url, params) if self._current is None else (self._current, {})


class ODataPaginator(Paginator["str | None"]):
    """OData ``{"value": [...], "@odata.nextLink": url}`` (Business Central, SAP B1)."""

    def __init__(self, items_key: str = "value", link_key: str = "@odata.nextLink") -> None:
        super().__init__(None)
        self.items_key, self.link_key = items_key, link_key

    def items(self, page: Page) -> list[Any]:
        return _list_at(page.body, self.items_key)

    def next_token(self, page: Page) -> str | None:
        return page.body.get(self.link_key) or None

    def request(self, url: str, params: Params) -> tuple[str, Params]:
        return (url, params) if self._current is None else (self._current, {})


def next_link(header: str) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header, if any."""
    for part in header.split(","):
        target, _, attrs = part.partition(";")
        rels = [a.split("=", 1)[1].strip().strip('"') for a in attrs.split(";")
                if a.strip().lower().startswith("rel=")]
        if any("next" in rel.lower().split() for rel in rels):
            return target.strip().strip("<>") or None
    return None


def _list_at(body: Any, key: str) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise _malformed(f"expected an object with a {key!r} array")
    return body[key]


def _fingerprint(items: list[Any]) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()


def _malformed(message: str) -> FatalError:
    # The remote broke its own paging contract: following it further would guess.
    return FatalError(f"malformed page: {message}", fault=Fault.REMOTE,
                      context=ErrorContext("paginator"))
