"""Generic v1 CRUD routes: a resource is declared as data (collection, path, write, view).

Every v1 id route follows the same rules: a segment that is not a 24-hex ObjectId is
not a route (HTML page, as ``/documents/invoice/search`` is on the real API); an
ObjectId that does not exist is HTTP 400 ``{"status":0,"info":"not found"}``.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from connectors.holded.sandbox_http import (
    STATE, BadRequest, NotARoute, SandboxState, created, ok, page_of, read_json,
)
from connectors.holded.sandbox_store import is_object_id

__all__ = ["Resource", "add_resource", "load", "pick"]

logger = logging.getLogger(__name__)

WriteFn = Callable[[SandboxState, dict[str, Any], "dict[str, Any] | None"], Awaitable[dict[str, Any]]]
ViewFn = Callable[[dict[str, Any]], dict[str, Any]]
FilterFn = Callable[[web.Request], Callable[[dict[str, Any]], bool] | None]


def pick(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Known fields only: Holded drops unknown fields silently."""
    return {k: body[k] for k in fields if k in body}


async def load(state: SandboxState, collection: str, record_id: str) -> dict[str, Any]:
    if not is_object_id(record_id):
        raise NotARoute()
    record = await state.store.get(collection, record_id)
    if record is None:
        raise BadRequest("not found")
    return record


@dataclass(frozen=True, slots=True)
class Resource:
    collection: str
    path: str
    write: WriteFn
    view: ViewFn
    ops: str = "lcgud"          # list, create, get, update, delete
    list_filter: FilterFn | None = None
    paged: bool = True


def add_resource(app: web.Application, res: Resource) -> None:
    async def list_(request: web.Request) -> web.Response:
        state = request.app[STATE]
        where = res.list_filter(request) if res.list_filter else None
        records = await state.store.list(res.collection, where)
        if res.paged:
            records = page_of(request, records)
        return ok([res.view(r) for r in records])

    async def create(request: web.Request) -> web.Response:
        state = request.app[STATE]
        body = await read_json(request)
        async with state.store.lock:
            record = await state.store.insert(res.collection, await res.write(state, body, None))
        return created(record["id"])

    async def get(request: web.Request) -> web.Response:
        state = request.app[STATE]
        return ok(res.view(await load(state, res.collection, request.match_info["id"])))

    async def update(request: web.Request) -> web.Response:
        state = request.app[STATE]
        body = await read_json(request)
        async with state.store.lock:
            record = await load(state, res.collection, request.match_info["id"])
            record.update(await res.write(state, body, record))
            await state.store.put(res.collection, record)
        return ok({"status": 1, "info": "Updated", "id": record["id"]})

    async def delete(request: web.Request) -> web.Response:
        state = request.app[STATE]
        async with state.store.lock:
            record = await load(state, res.collection, request.match_info["id"])
            await state.store.delete(res.collection, record["id"])
        return ok({"status": 1, "info": "Deleted", "id": record["id"]})

    table = {"l": ("GET", "", list_), "c": ("POST", "", create), "g": ("GET", "/{id}", get),
             "u": ("PUT", "/{id}", update), "d": ("DELETE", "/{id}", delete)}
    for op in res.ops:
        method, suffix, handler = table[op]
        app.router.add_route(method, res.path + suffix, handler)
