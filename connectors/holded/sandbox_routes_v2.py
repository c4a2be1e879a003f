"""v2 routes (``/api/v2``): Bearer auth, snake_case, cursor pages, RFC 7807 problems.

Same store as v1: one tenant seen through two APIs. Cursor pages are
``{items, cursor, has_more}``; ``limit`` is 1..100 (default 50), anything else is a
400 problem. Unknown body fields are a 400 problem too (the stricter reading of an
unverified contract). ``PUT /contacts/{id}`` replaces the whole record.
"""
from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from decimal import InvalidOperation
from typing import Any

from aiohttp import web

from connectors.holded.sandbox_http import STATE, BadRequest, SandboxState, loads_json, ok
from connectors.holded.sandbox_stock import total_stock
from connectors.holded.sandbox_store import is_object_id
from connectors.holded.sandbox_taxes import TAX_BY_KEY, TAXES, product_total

__all__ = ["V2", "add_v2_routes", "cursor_page", "read_body", "load_v2"]

logger = logging.getLogger(__name__)

V2 = "/api/v2"
MAX_LIMIT = 100
DEFAULT_LIMIT = 50


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"o:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, seq = text.partition(":")
        if tag != "o" or not 0 <= int(seq) < 2**63:  # a position the store can hold
            raise ValueError(cursor)
        return int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not valid") from exc


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError as exc:
        raise BadRequest("limit must be an integer") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


async def cursor_page(request: web.Request, collection: str, view: Callable[[dict[str, Any]], dict[str, Any]],
                      where: Callable[[dict[str, Any]], bool] | None = None) -> web.Response:
    state = request.app[STATE]
    limit = _limit(request)
    cursor = request.query.get("cursor")
    after = _decode_cursor(cursor) if cursor else 0
    rows = await state.store.list_with_seq(collection, where, after_seq=after)
    page, has_more = rows[:limit], len(rows) > limit
    return ok({"items": [view(body) for _, body in page],
               "cursor": _encode_cursor(page[-1][0]) if has_more else None, "has_more": has_more})


async def read_body(request: web.Request, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise BadRequest("Content-Type must be application/json")
    try:
        body = loads_json(await request.read())
    except ValueError as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    missing = [name for name in required if body.get(name) in (None, "")]
    if missing:
        raise BadRequest(f"missing required fields: {', '.join(missing)}")
    return body


async def load_v2(state: SandboxState, collection: str, record_id: str) -> dict[str, Any]:
    record = await state.store.get(collection, record_id) if is_object_id(record_id) else None
    if record is None:
        raise BadRequest(f"{collection} {record_id} not found", status=404)
    return record


# --- contacts --------------------------------------------------------------------------------
_CONTACT_MAP = {"custom_id": "customId", "name": "name", "trade_name": "tradeName", "vat_number": "code",
                "email": "email", "phone": "phone", "mobile": "mobile", "type": "type", "is_person": "isperson",
                "tags": "tags", "iban": "iban"}
_ADDRESS_MAP = {"address": "address", "city": "city", "postal_code": "postalCode", "province": "province",
                "country": "country"}


def view_contact(r: dict[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {"custom_id": None, "type": "client", "is_person": False, "tags": []}
    out = {v2: r.get(v1, defaults.get(v2, "")) for v2, v1 in _CONTACT_MAP.items()}
    address = r.get("billAddress", {})
    out.update(id=r["id"], bill_address={v2: address.get(v1, "") for v2, v1 in _ADDRESS_MAP.items()})
    return out


def _contact_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = {v1: body[v2] for v2, v1 in _CONTACT_MAP.items() if v2 in body}
    if "type" in fields and fields["type"] not in ("supplier", "debtor", "creditor", "client", "lead"):
        raise BadRequest("type is not valid")
    address = body.get("bill_address")
    if address is not None:
        if not isinstance(address, dict) or set(address) - set(_ADDRESS_MAP):
            raise BadRequest("bill_address is not valid")
        fields["billAddress"] = {v1: address.get(v2, "") for v2, v1 in _ADDRESS_MAP.items()}
    return fields


async def contacts_list(request: web.Request) -> web.Response:
    return await cursor_page(request, "contacts", view_contact)


async def contacts_search(request: web.Request) -> web.Response:
    name = request.query.get("name", "").lower()
    if not name:
        raise BadRequest("name is required")
    return await cursor_page(request, "contacts", view_contact, lambda r: name in str(r.get("name", "")).lower())


async def contacts_create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_body(request, (*_CONTACT_MAP, "bill_address"), ("name",))
    record = await state.store.insert("contacts", _contact_fields(body))
    return ok(view_contact(record), status=201)


async def contacts_get(request: web.Request) -> web.Response:
    return ok(view_contact(await load_v2(request.app[STATE], "contacts", request.match_info["id"])))


async def contacts_replace(request: web.Request) -> web.Response:
    """Full replacement: what the body leaves out falls back to defaults."""
    state = request.app[STATE]
    body = await read_body(request, (*_CONTACT_MAP, "bill_address"), ("name",))
    async with state.store.lock:
        old = await load_v2(state, "contacts", request.match_info["id"])
        record = {"id": old["id"], **_contact_fields(body)}
        await state.store.put("contacts", record)
    return ok(view_contact(record))


async def delete_in(request: web.Request, collection: str) -> web.Response:
    state = request.app[STATE]
    async with state.store.lock:
        record = await load_v2(state, collection, request.match_info["id"])
        await state.store.delete(collection, record["id"])
    return web.Response(status=204)


# --- products, taxes, usage ------------------------------------------------------------------
def view_product(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "name": r.get("name", ""), "description": r.get("desc", ""), "sku": r.get("sku", ""),
            "barcode": r.get("barcode", ""), "kind": r.get("kind", "simple"), "price": r.get("price", 0.0),
            "cost": r.get("cost", 0), "taxes": r.get("taxes", []), "total": r.get("total", 0.0),
            "stock": total_stock(r)}


_PRODUCT_FIELDS = ("name", "description", "sku", "barcode", "kind", "price", "cost", "taxes")


def _product_fields(body: dict[str, Any]) -> dict[str, Any]:
    taxes = body.get("taxes", ["s_iva_21"])
    # None (as v1, where a product always has its VAT key, s_iva_0 for none): UNVERIFIED
    # whether v2 takes a product without taxes; refused, the strict reading.
    if not isinstance(taxes, list) or not taxes or any(
            k not in TAX_BY_KEY or not k.startswith("s_") for k in taxes):
        raise BadRequest("taxes must be a non-empty list of sales tax keys")
    price = body.get("price", 0)
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        raise BadRequest("price must be a number")
    cost = body.get("cost")  # v1 reads it as a number (sandbox_routes_v1.write_product)
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))):
        raise BadRequest("cost must be a number")
    try:
        total = product_total(price, taxes)
    except InvalidOperation as exc:  # too large to count to the cent (see sandbox_documents)
        raise BadRequest("price is out of range") from exc
    fields = {k: body[k] for k in ("name", "sku", "barcode", "kind", "cost") if k in body}
    fields.update(desc=body.get("description", ""), price=float(price), taxes=taxes, total=total)
    return fields


async def products_create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_body(request, _PRODUCT_FIELDS, ("name",))
    record = await state.store.insert("products", _product_fields(body))
    return ok(view_product(record), status=201)


async def products_update(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_body(request, _PRODUCT_FIELDS)
    async with state.store.lock:
        record = await load_v2(state, "products", request.match_info["id"])
        merged = {**view_product(record), **body}
        record.update(_product_fields(merged))
        await state.store.put("products", record)
    return ok(view_product(record))


async def taxes_list(request: web.Request) -> web.Response:
    return ok({"items": [{"key": t["key"], "name": t["name"], "rate": float(t["amount"]), "scope": t["scope"],
                          "group": t["group"], "type": t["type"], "items": t["items"]} for t in TAXES],
               "cursor": None, "has_more": False})


async def usage(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    key_id = state.api_keys.get(token)
    count = sum(1 for r in state.requests if r.key_id == key_id and r.path.startswith(V2))
    return ok({"type": "standard", "period": "monthly", "usage": round(100 * count / state.monthly_limit, 2),
               "limit": state.monthly_limit, "count": count})


def add_v2_routes(app: web.Application) -> None:
    from connectors.holded.sandbox_routes_v2_money import add_v2_money_routes

    r = app.router
    r.add_get(f"{V2}/contacts", contacts_list)
    r.add_post(f"{V2}/contacts", contacts_create)
    r.add_get(f"{V2}/contacts/search", contacts_search)
    r.add_get(f"{V2}/contacts/{{id}}", contacts_get)
    r.add_put(f"{V2}/contacts/{{id}}", contacts_replace)
    r.add_delete(f"{V2}/contacts/{{id}}", lambda req: delete_in(req, "contacts"))
    r.add_get(f"{V2}/products", lambda req: cursor_page(req, "products", view_product))
    r.add_post(f"{V2}/products", products_create)
    r.add_get(f"{V2}/products/{{id}}", lambda req: _get(req, "products", view_product))
    r.add_put(f"{V2}/products/{{id}}", products_update)
    r.add_delete(f"{V2}/products/{{id}}", lambda req: delete_in(req, "products"))
    r.add_get(f"{V2}/taxes", taxes_list)
    r.add_get(f"{V2}/usage", usage)
    add_v2_money_routes(app)


async def _get(request: web.Request, collection: str, view: Callable[[dict[str, Any]], dict[str, Any]]) -> web.Response:
    return ok(view(await load_v2(request.app[STATE], collection, request.match_info["id"])))
