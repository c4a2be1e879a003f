"""Response shapes shared by the sandbox's routes: v1 envelopes, the HTML app page, v2 problems.

``SandboxState`` is what every handler reaches through ``request.app[STATE]``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.base.jsonio import strict_loads
from connectors.holded.sandbox_faults import Faults, RequestRecord, SlidingWindowLimiter
from connectors.holded.sandbox_store import SandboxStore

__all__ = [
    "STATE", "SandboxState", "BadRequest", "NotARoute", "HTML_PAGE",
    "ok", "created", "envelope_error", "html_page", "problem", "read_json", "page_of", "query_int",
    "loads_json",
]

logger = logging.getLogger(__name__)

# What api.holded.com serves for any route it does not know: the web app's shell, HTTP 200.
HTML_PAGE = (
    "<!DOCTYPE html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>Holded</title>"
    "<link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><div id=\"app\"></div>"
    "<script src=\"/assets/app.js\"></script></body></html>"
)

V1_PAGE_SIZE = 500


@dataclass
class SandboxState:
    store: SandboxStore
    faults: Faults
    limiter: SlidingWindowLimiter | None
    api_keys: dict[str, str]  # key -> key id
    requests: list[RequestRecord] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    monthly_limit: int = 7500
    # What a document line's tax is computed on: "exact" or "cent" (sandbox_taxes.compute_totals).
    line_tax_base: str = "exact"
    # What a sales document approved at creation is numbered with (sandbox_documents
    # .assign_number): "series", its series' next number whatever ``invoiceNum`` says (the
    # strict reading of the reference's "an auto-numbering series may override it",
    # UNVERIFIED), or "kept", the ``invoiceNum`` sent (a tenant whose series keeps it).
    sales_invoice_num: str = "series"


STATE: web.AppKey[SandboxState] = web.AppKey("holded_sandbox_state", SandboxState)


class NotARoute(Exception):
    """Raised when a path only looks like a route (``/documents/invoice/search``): HTML page."""


class BadRequest(Exception):
    """Raised by handlers; the v1 middleware renders ``{"status":0,"info":...}`` with HTTP 400."""

    def __init__(self, info: str, status: int = 400) -> None:
        super().__init__(info)
        self.info = info
        self.status = status


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def created(record_id: str) -> web.Response:
    return ok({"status": 1, "info": "Created", "id": record_id}, status=201)


def envelope_error(info: str, status: int = 400) -> web.Response:
    return ok({"status": 0, "info": info}, status=status)


def html_page() -> web.Response:
    return web.Response(text=HTML_PAGE, status=200, content_type="text/html")


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {
        "type": f"https://api.holded.com/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    return web.Response(
        text=json.dumps(body), status=status, content_type="application/problem+json", headers=headers
    )


def _finite(text: str) -> float | int:
    """A JSON number Holded's JavaScript can hold: one that reads as Infinity is refused."""
    if not math.isfinite(float(text)):
        raise ValueError(f"number out of range: {text[:20]}")
    return float(text) if any(c in text for c in ".eE") else int(text)


def loads_json(raw: bytes) -> Any:
    """Strict JSON, as a JavaScript server parses it: ``NaN`` and ``Infinity`` are not JSON,
    and a number beyond a double (``1e400``) is refused rather than read as infinity (which
    JavaScript would do; UNVERIFIED what Holded does next: refused, the strict reading).
    Raises ValueError."""
    return strict_loads(raw, parse_float=_finite, parse_int=_finite)


async def read_json(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The JSON object body. Holded requires ``Content-Type: application/json`` on writes."""
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("Empty body")
    if request.content_type != "application/json":
        raise BadRequest("Content-Type must be application/json")
    try:
        body = loads_json(raw)
    except ValueError as exc:
        raise BadRequest("Invalid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON")
    return body


def page_of(request: web.Request, items: list[Any]) -> list[Any]:
    """v1 paging: ``page`` from 1, a fixed 500 per page (``limit``/``per_page`` are ignored)."""
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        page = 1
    page = max(page, 1)
    start = (page - 1) * V1_PAGE_SIZE
    return items[start:start + V1_PAGE_SIZE]


def query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None
