"""Holded's two paging schemes, as paginator factories.

v1: ``?page=N`` from 1, a fixed 500 records per page (``limit``/``per_page`` are
ignored), no total count: the end is an empty array. v2: ``limit`` + ``cursor`` ->
``{items, cursor, has_more}``; the documented maximum ``limit`` is unverified, 100 is
what third-party clients use.
"""

from __future__ import annotations

from typing import Any, Literal

from connectors.base.paginators import CursorPaginator, PageNumberPaginator, Paginator

__all__ = ["V1_PAGE_SIZE", "V2_LIMIT", "for_version", "v1_pages", "v2_cursor"]

V1_PAGE_SIZE = 500
V2_LIMIT = 100


def v1_pages() -> PageNumberPaginator:
    # No short-page shortcut: the 500 page size is only verified on /products, so we
    # always read on until the empty page rather than risk dropping records.
    return PageNumberPaginator(start=1, param="page")


def v2_cursor(limit: int = V2_LIMIT) -> CursorPaginator:
    return CursorPaginator(limit=limit, items_key="items", cursor_key="cursor",
                           has_more_key="has_more")


def for_version(version: Literal["v1", "v2"]) -> Paginator[Any]:
    return v1_pages() if version == "v1" else v2_cursor()
