"""GraphQL connection paging: ``first``/``after`` with ``pageInfo { hasNextPage endCursor }``.

The paginator reads the connection at ``path`` inside ``data`` (``("orders",)``); the client
passes ``paginator.current`` as the ``after`` variable. The base class refuses a cursor seen
before or a page identical to the previous one (a server that ignores ``after``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.base.errors import ErrorContext, FatalError, Fault
from connectors.base.paginators import Page, Paginator

__all__ = ["ConnectionPaginator", "connection_at"]


def connection_at(data: Any, path: Sequence[str]) -> dict[str, Any]:
    node = data
    for name in path:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get("nodes"), list):
        raise FatalError(f"malformed page: no connection with nodes at {'.'.join(path)}",
                         fault=Fault.REMOTE, context=ErrorContext("shopify"))
    return node


class ConnectionPaginator(Paginator["str | None"]):
    """Pages of one GraphQL connection; ``page.body`` is the response's ``data``."""

    def __init__(self, path: Sequence[str]) -> None:
        super().__init__(None)
        self.path = tuple(path)

    def items(self, page: Page) -> list[Any]:
        return list(connection_at(page.body, self.path)["nodes"])

    def next_token(self, page: Page) -> str | None:
        info = connection_at(page.body, self.path).get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return None
        cursor = info.get("endCursor")
        if not cursor:
            raise FatalError("malformed page: hasNextPage without an endCursor",
                             fault=Fault.REMOTE, context=ErrorContext("shopify"))
        return str(cursor)
