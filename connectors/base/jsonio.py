"""Exact JSON for money: Decimals out as JSON numbers with their exact text, numbers in as Decimal.

httpx's ``json=`` rejects Decimal and going through float would change amounts (0.1 + 0.2), so
clients send bodies through :class:`ExactJson` (or :func:`dumps_json` directly) and decode
answers with :func:`loads_json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx

__all__ = ["ExactJson", "dumps_json", "loads_json", "strict_loads"]


def dumps_json(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """Compact JSON in which a ``Decimal`` is a JSON number with its exact decimal text.

    NaN and infinities are refused. ``default`` (as in :func:`json.dumps`) turns any other
    value JSON cannot encode into one it can; without it such a value raises ``TypeError``.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:"
                              f"{dumps_json(v, default=default)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_json(v, default=default) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False, default=default)


def loads_json(data: bytes | str) -> Any:
    """JSON with every non-integer number as ``Decimal`` (amounts stay exact)."""
    return json.loads(data, parse_float=Decimal)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_loads(data: bytes | str, **options: Any) -> Any:
    """A request body as a strict server reads it (the sandboxes): ``NaN`` and ``Infinity`` are
    no JSON, and nesting too deep for Python's parser is a ValueError like any other bad body,
    not a RecursionError that answers 500. ``options``: json.loads's (``parse_float``...)."""
    try:
        return json.loads(data, parse_constant=_no_constant, **options)
    except RecursionError:
        raise ValueError("JSON nested too deep to parse") from None


class ExactJson:
    """The injected ``httpx.AsyncClient``, with JSON bodies encoded by :func:`dumps_json`.

    ``ApiTransport`` only builds and sends requests; this wrapper has the two methods it uses.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    def build_request(self, method: str, url: str, *, params: Any = None, json: Any = None,
                      headers: Mapping[str, str] | None = None) -> httpx.Request:
        if json is None:
            return self._http.build_request(method, url, params=params, headers=headers)
        headers = {**(headers or {}), "Content-Type": "application/json"}
        return self._http.build_request(method, url, params=params, headers=headers,
                                        content=dumps_json(json).encode("utf-8"))

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self._http.send(request)
