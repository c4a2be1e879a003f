"""The sandbox's request pipeline: record, delay, authenticate, limit, inject faults, run.

Order matters and is the contract tests rely on:
record -> latency -> (v1 unknown route: HTML) -> auth 401 -> blocked 402 -> 429 storm ->
rate limit 429 -> HTML-200 fault -> 5xx fault -> timeout fault -> handler -> lost response.
Every request is recorded at arrival, rejected ones included.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from connectors.base.sandbox_serving import drop_connection, hold
from connectors.holded.sandbox_faults import RateLimitDecision, RequestRecord
from connectors.holded.sandbox_http import (
    STATE, BadRequest, NotARoute, SandboxState, envelope_error, html_page, problem,
)

__all__ = ["sandbox_middleware", "key_id_of"]

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
V2_PREFIX = "/api/v2"


def key_id_of(key: str) -> str:
    """A stable, non-secret id for a key, as recorded in ``server.requests``."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:10]


def _credential(request: web.Request, v2: bool) -> str | None:
    if not v2:
        return request.headers.get("key") or None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _error(v2: bool, status: int, info: str, title: str) -> web.Response:
    return problem(status, title, info) if v2 else envelope_error(info, status)


def _too_many(v2: bool, retry_after: int | None, limit: int | None) -> web.Response:
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"} if limit else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    resp = _error(v2, 429, "Too many requests", "Too Many Requests")
    resp.headers.update(headers)
    return resp


async def _run(request: web.Request, handler: Handler, v2: bool) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return _error(v2, exc.status, exc.info, "Bad Request" if exc.status == 400 else "Not Found")
    except NotARoute:
        if v2:
            return problem(404, "Not Found", f"No route {request.method} {request.path}")
        return html_page()


async def _pipeline(request: web.Request, handler: Handler, state: SandboxState,
                    record: RequestRecord, credential: str | None) -> web.StreamResponse:
    faults = state.faults
    v2 = request.path.startswith(V2_PREFIX)
    if faults.latency_ms > 0:
        await hold(state.stopping, faults.latency_ms / 1000)
    unmatched = request.match_info.http_exception is not None
    if unmatched and not v2:
        return html_page()
    if credential is None or credential not in state.api_keys:
        return _error(v2, 401, "Unauthorized", "Unauthorized")
    if faults.account_blocked:
        return _error(v2, 402, "Account has been blocked. Reason: Unpaid", "Payment Required")
    limit = state.limiter.limit.requests if state.limiter else None
    if faults.take_storm():
        return _too_many(v2, faults.storm_retry_after, limit)
    decision: RateLimitDecision | None = None
    if state.limiter is not None:
        decision = state.limiter.check(credential, record.time)
        if not decision.allowed:
            return _too_many(v2, decision.retry_after, limit)
    response = await _faulty(request, handler, state, record, v2, unmatched)
    if decision is not None:
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    return response


async def _faulty(request: web.Request, handler: Handler, state: SandboxState,
                  record: RequestRecord, v2: bool, unmatched: bool) -> web.StreamResponse:
    faults = state.faults
    if faults.take_html():
        return html_page()
    if faults.take_error():
        return _error(v2, faults.error_status, "Internal error", "Service Unavailable")
    if unmatched:
        return problem(404, "Not Found", f"No route {request.method} {request.path}")
    if faults.take_timeout():
        record.outcome = "held"
        if not faults.timeout_commits:
            await hold(state.stopping, faults.timeout_seconds)
            return _error(v2, 504, "Gateway timeout", "Gateway Timeout")
        response = await _run(request, handler, v2)
        await hold(state.stopping, faults.timeout_seconds)
        return response
    if request.method in _WRITES and not faults.writes.is_open:
        record.outcome = "held"
        await faults.writes.wait(state.stopping)
    if request.method == "GET" and "id" not in request.match_info and not faults.lists.is_open:
        record.outcome = "held"
        await faults.lists.wait(state.stopping)
    response = await _run(request, handler, v2)
    if (request.method in _WRITES and response.status < 400
            and request.path.endswith(faults.lose_path) and faults.take_lose()):
        if faults.lose_mode == "drop" and request.transport is not None:
            record.outcome = "dropped"
            drop_connection(request)
            return response
        return _error(v2, faults.lose_status, "Bad gateway", "Bad Gateway")
    return response


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    v2 = request.path.startswith(V2_PREFIX)
    credential = _credential(request, v2)
    key_id = None
    if credential is not None:
        key_id = state.api_keys.get(credential, "invalid")
    record = RequestRecord(
        time=asyncio.get_running_loop().time(),
        method=request.method,
        path=request.path,
        query={k: request.query.getall(k) for k in request.query.keys()},
        key_id=key_id,
    )
    state.requests.append(record)
    try:
        response = await _pipeline(request, handler, state, record, credential)
    except Exception:
        record.status = 500
        raise
    record.status = response.status
    return response
