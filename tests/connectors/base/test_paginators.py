from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base.errors import FatalError, PaginationLoop
from connectors.base.paginators import (
    CursorPaginator,
    LinkHeaderPaginator,
    ODataPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    Paginator,
    next_link,
)


def drain(paginator: Paginator[Any], pages: dict[Any, Page]) -> list[Any]:
    """Walk a paginator over canned pages keyed by token; return every record."""
    records: list[Any] = []
    while not paginator.finished:
        page = pages[paginator.current]
        records += paginator.items(page)
        paginator.advance(page)
    return records


def test_page_number_1200_records_is_three_pages_then_an_empty_one() -> None:
    data = list(range(1200))
    pages = {n: Page(data[(n - 1) * 500 : n * 500]) for n in range(1, 5)}
    paginator = PageNumberPaginator()
    requested = []
    records = []
    while not paginator.finished:
        requested.append(paginator.request("/contacts", {"x": 1}))
        page = pages[paginator.current]
        records += paginator.items(page)
        paginator.advance(page)
    assert records == data
    assert [params["page"] for _, params in requested] == [1, 2, 3, 4]
    assert requested[0] == ("/contacts", {"x": 1, "page": 1})


def test_page_number_that_is_ignored_by_the_server_raises() -> None:
    paginator = PageNumberPaginator()
    same = Page([{"id": "a"}, {"id": "b"}])
    paginator.advance(same)
    with pytest.raises(PaginationLoop):
        paginator.advance(same)


def test_page_number_rejects_a_non_list_body() -> None:
    with pytest.raises(FatalError):
        PageNumberPaginator().advance(Page({"status": 0}))


def test_page_number_with_items_key() -> None:
    paginator = PageNumberPaginator(items_key="data")
    assert drain(paginator, {1: Page({"data": [1]}), 2: Page({"data": []})}) == [1]


def test_offset() -> None:
    pages = {0: Page([1, 2]), 2: Page([3, 4]), 4: Page([5])}
    paginator = OffsetPaginator(limit=2)
    assert paginator.request("/x", {}) == ("/x", {"offset": 0, "limit": 2})
    assert drain(paginator, pages) == [1, 2, 3, 4, 5]


def test_cursor_follows_has_more_and_stops() -> None:
    pages = {
        None: Page({"items": [1, 2], "cursor": "c1", "has_more": True}),
        "c1": Page({"items": [3], "cursor": "c2", "has_more": True}),
        "c2": Page({"items": [4], "cursor": None, "has_more": False}),
    }
    paginator = CursorPaginator(limit=100)
    assert paginator.request("/v2/contacts", {}) == ("/v2/contacts", {"limit": 100})
    assert drain(paginator, pages) == [1, 2, 3, 4]


def test_cursor_request_carries_the_cursor() -> None:
    paginator = CursorPaginator(limit=100)
    paginator.advance(Page({"items": [1], "cursor": "abc", "has_more": True}))
    assert paginator.request("/v2/x", {"a": 1}) == ("/v2/x", {"a": 1, "limit": 100, "cursor": "abc"})


def test_cursor_repeat_raises() -> None:
    paginator = CursorPaginator()
    paginator.advance(Page({"items": [1], "cursor": "c1", "has_more": True}))
    paginator.advance(Page({"items": [2], "cursor": "c2", "has_more": True}))
    with pytest.raises(PaginationLoop, match="c1"):
        paginator.advance(Page({"items": [3], "cursor": "c1", "has_more": True}))


def test_cursor_has_more_without_cursor_is_malformed() -> None:
    with pytest.raises(FatalError):
        CursorPaginator().advance(Page({"items": [1], "cursor": None, "has_more": True}))


def test_cursor_without_has_more_uses_cursor_presence() -> None:
    paginator = CursorPaginator()
    paginator.advance(Page({"items": [1], "cursor": None}))
    assert paginator.finished


def test_link_header() -> None:
    first = Page([1], {"link": '<https://x/p?page=2>; rel="next", <https://x/p?page=9>; rel="last"'})
    pages = {None: first, "https://x/p?page=2": Page([2], {})}
    paginator = LinkHeaderPaginator()
    assert paginator.request("/p", {"q": 1}) == ("/p", {"q": 1})
    assert drain(paginator, pages) == [1, 2]


def test_link_header_next_url_replaces_url_and_params() -> None:
    paginator = LinkHeaderPaginator()
    paginator.advance(Page([1], {"link": '<https://x/p?page=2>; rel="next"'}))
    assert paginator.request("/p", {"q": 1}) == ("https://x/p?page=2", {})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ('<https://a/2>; rel="prev"', None),
        ('<https://a/1>; rel="prev", <https://a/3>; rel=next', "https://a/3"),
        ('<https://a/3>; title="x"; rel="next last"', "https://a/3"),
    ],
)
def test_next_link(header: str, expected: str | None) -> None:
    assert next_link(header) == expected


def test_link_header_repeat_raises() -> None:
    paginator = LinkHeaderPaginator()
    paginator.advance(Page([1], {"link": "<https://x/2>; rel=next"}))
    with pytest.raises(PaginationLoop):
        paginator.advance(Page([2], {"link": "<https://x/2>; rel=next"}))


def test_odata_next_link() -> None:
    pages = {
        None: Page({"value": [1], "@odata.nextLink": "https://bc/items?$skiptoken=1"}),
        "https://bc/items?$skiptoken=1": Page({"value": [2]}),
    }
    assert drain(ODataPaginator(), pages) == [1, 2]


def test_odata_repeat_raises() -> None:
    paginator = ODataPaginator()
    paginator.advance(Page({"value": [1], "@odata.nextLink": "n1"}))
    with pytest.raises(PaginationLoop):
        paginator.advance(Page({"value": [2], "@odata.nextLink": "n1"}))


def test_advance_after_finish_is_a_bug() -> None:
    paginator = PageNumberPaginator()
    paginator.advance(Page([]))
    assert paginator.finished
    with pytest.raises(RuntimeError):
        paginator.advance(Page([]))


@given(total=st.integers(min_value=0, max_value=2000), size=st.integers(min_value=1, max_value=600))
def test_page_number_returns_every_record_once(total: int, size: int) -> None:
    data = list(range(total))
    pages = {n: Page(data[(n - 1) * size : n * size]) for n in range(1, total // size + 3)}
    assert drain(PageNumberPaginator(), pages) == data
