"""Exact JSON for money: Decimals out as JSON numbers with their exact text, numbers in as Decimal.

httpx's ``json=`` rejects Decimal and a float would change amounts (0.1 + 0.2), so the client
sends bodies through :class:`ExactJsonClient` and decodes answers with :func:`loads`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

__all__ = ["ExactJsonClient", "dumps", "loads"]


def dumps(value: Any) -> str:
    """Compact JSON in which a ``Decimal`` is a number written with its exact decimal text."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def loads(data: bytes | str) -> Any:
    """JSON with every non-integer number as ``Decimal`` (BC amounts stay exact)."""
    return json.loads(data, parse_float=Decimal)


class ExactJsonClient:
    """The injected ``httpx.AsyncClient``, with JSON bodies encoded by :func:`dumps`."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    def build_request(self, method: str, url: str, *, params: Any = None, json: Any = None,
                      headers: Mapping[str, str] | None = None) -> httpx.Request:
        if json is None:
            return self._http.build_request(method, url, params=params, headers=headers)
        headers = {**(headers or {}), "Content-Type": "application/json"}
        return self._http.build_request(method, url, params=params, headers=headers,
                                        content=dumps(json).encode("utf-8"))

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self._http.send(request)
