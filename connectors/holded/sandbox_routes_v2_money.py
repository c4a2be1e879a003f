"""v2 money routes: invoices, credit notes, payments, bank accounts (+ movements), price lists.

Documents are the v1 documents seen in snake_case with RFC 3339 dates; creating one
goes through the same line/tax/numbering rules as v1.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from aiohttp import web

from connectors.holded.sandbox_documents import (
    MAX_EPOCH, apply_totals, assign_number, build_lines, check_custom_fields, day_of,
)
from connectors.holded.sandbox_http import STATE, BadRequest, ok
from connectors.holded.sandbox_routes_v2 import V2, cursor_page, load_v2, read_body
from connectors.holded.sandbox_seed import default_of

__all__ = ["add_v2_money_routes"]

logger = logging.getLogger(__name__)

_DOC_PATHS = {"invoices": "invoice", "credit-notes": "creditnote"}


def iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def parse_date(value: Any, name: str) -> int:
    """``YYYY-MM-DD`` or RFC 3339 (with an offset or ``Z``) -> epoch seconds."""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a date string")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{name} is not a valid date") from exc
    if parsed.tzinfo is None:
        if "T" in value:
            raise BadRequest(f"{name} needs a time zone offset")
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        epoch = int(parsed.timestamp())
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        epoch = -1
    if not 0 <= epoch < MAX_EPOCH:  # the range of v1's epoch dates (same store)
        raise BadRequest(f"{name} is out of range")
    return epoch


def view_document(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["id"], "document_number": d.get("docNumber"), "contact_id": d.get("contact"),
        "contact_name": d.get("contactName", ""), "date": iso(d["date"]), "due_date": iso(d.get("dueDate")),
        "approved_at": iso(d.get("approvedAt")), "draft": bool(d.get("draft")), "status": d.get("status", 0),
        "notes": d.get("notes", ""), "custom_fields": d.get("customFields", []), "currency": d.get("currency"),
        "subtotal": d.get("subtotal"), "discount": d.get("discount"), "tax": d.get("tax"), "total": d.get("total"),
        "payments_total": d.get("paymentsTotal"), "payments_pending": d.get("paymentsPending"),
        "lines": [{"name": p["name"], "description": p.get("desc", ""), "units": p["units"], "price": p["price"],
                   "discount": p.get("discount", 0), "taxes": p.get("taxes", []), "product_id": p.get("productId"),
                   "sku": p.get("sku")} for p in d.get("products", [])],
    }


_LINE_FIELDS = {"name", "description", "units", "price", "discount", "taxes", "sku"}


def _v1_items(lines: Any) -> list[dict[str, Any]]:
    if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
        raise BadRequest("lines must be a list of objects")
    out = []
    for line in lines:
        unknown = sorted(set(line) - _LINE_FIELDS)
        if unknown:
            raise BadRequest(f"unknown line fields: {', '.join(unknown)}")
        item = {k: line[k] for k in ("name", "units", "discount", "taxes", "sku") if k in line}
        item["desc"] = line.get("description", "")
        if "price" in line:
            item["subtotal"] = line["price"]
        out.append(item)
    return out


def _documents(path: str):  # type: ignore[no-untyped-def]
    doc_type = _DOC_PATHS[path]

    async def list_(request: web.Request) -> web.Response:
        start = parse_date(request.query["start_date"], "start_date") if "start_date" in request.query else None
        end = parse_date(request.query["end_date"], "end_date") if "end_date" in request.query else None
        contact = request.query.get("contact_id")
        return await cursor_page(request, "documents", view_document, lambda d: (
            d["docType"] == doc_type and (start is None or d["date"] >= start)
            and (end is None or d["date"] <= end) and (contact is None or d.get("contact") == contact)))

    async def create(request: web.Request) -> web.Response:
        state = request.app[STATE]
        body = await read_body(request, ("contact_id", "date", "due_date", "notes", "custom_fields", "lines",
                                         "approve", "currency"), ("contact_id", "date", "lines"))
        date = parse_date(body["date"], "date")
        check_custom_fields(body.get("custom_fields"),
                            "custom_fields must be a list of {field, value} objects")
        async with state.store.lock:
            contact = await state.store.get("contacts", str(body["contact_id"]))
            if contact is None:
                raise BadRequest("contact_id does not exist", status=422)
            lines = await build_lines(state, _v1_items(body["lines"]), doc_type)
            doc: dict[str, Any] = {
                "id": state.store.new_id(), "docType": doc_type, "contact": contact["id"],
                "contactName": contact.get("name", ""), "date": day_of(date), "accountingDate": date,
                "dueDate": parse_date(body["due_date"], "due_date") if body.get("due_date") else None,
                "approvedAt": None, "draft": True, "docNumber": None, "status": 0, "notes": body.get("notes", ""),
                "customFields": body.get("custom_fields", []), "currency": body.get("currency", "eur"),
                "currencyChange": 1, "tags": [], "products": lines, "_payments": [], "paymentsRefunds": 0,
            }
            if body.get("approve") is True:
                await assign_number(state, doc, {})
            apply_totals(doc, tax_base=state.line_tax_base)
            await state.store.insert("documents", doc)
        return ok(view_document(doc), status=201)

    async def get(request: web.Request) -> web.Response:
        doc = await load_v2(request.app[STATE], "documents", request.match_info["id"])
        if doc["docType"] != doc_type:
            raise BadRequest(f"{path} {doc['id']} not found", status=404)
        return ok(view_document(doc))

    return list_, create, get


def view_payment(p: dict[str, Any]) -> dict[str, Any]:
    return {"id": p["id"], "bank_account_id": p.get("bankId"), "contact_id": p.get("contactId"),
            "contact_name": p.get("contactName", ""), "amount": p.get("amount"), "description": p.get("desc", ""),
            "date": iso(p.get("date")), "document_id": p.get("documentId")}


async def payments_create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_body(request, ("bank_account_id", "contact_id", "amount", "description", "date"),
                           ("amount", "date"))
    amount = body["amount"]
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise BadRequest("amount must be a number")
    async with state.store.lock:
        bank = (await load_v2(state, "treasury", str(body["bank_account_id"])) if body.get("bank_account_id")
                else default_of(await state.store.list("treasury")))
        contact = await load_v2(state, "contacts", str(body["contact_id"])) if body.get("contact_id") else None
        record = await state.store.insert("payments", {
            "bankId": bank["id"] if bank else None, "contactId": contact["id"] if contact else None,
            "contactName": contact.get("name", "") if contact else "", "amount": amount,
            "desc": body.get("description", ""), "date": parse_date(body["date"], "date")})
    return ok(view_payment(record), status=201)


def view_bank(t: dict[str, Any]) -> dict[str, Any]:
    return {"id": t["id"], "name": t.get("name", ""), "type": t.get("type", "bank"), "balance": t.get("balance", 0),
            "iban": t.get("iban", ""), "swift": t.get("swift", ""), "bank_name": t.get("bankname", ""),
            "account_number": t.get("accountNumber")}


async def movements(request: web.Request) -> web.Response:
    bank = await load_v2(request.app[STATE], "treasury", request.match_info["id"])
    return await cursor_page(request, "payments", lambda p: {
        "id": p["id"], "date": iso(p.get("date")), "amount": p.get("amount"), "description": p.get("desc", ""),
        "contact_id": p.get("contactId"), "document_id": p.get("documentId")},
        lambda p: p.get("bankId") == bank["id"])


def view_price_list(p: dict[str, Any]) -> dict[str, Any]:
    return {"id": p["id"], "name": p.get("name", ""), "currency": p.get("currency", "eur"),
            "is_default": bool(p.get("default")), "items": p.get("items", [])}


def _getter(collection: str, view):  # type: ignore[no-untyped-def]
    async def get(request: web.Request) -> web.Response:
        return ok(view(await load_v2(request.app[STATE], collection, request.match_info["id"])))
    return get


def add_v2_money_routes(app: web.Application) -> None:
    r = app.router
    for path in _DOC_PATHS:
        list_, create, get = _documents(path)
        r.add_get(f"{V2}/{path}", list_)
        r.add_post(f"{V2}/{path}", create)
        r.add_get(f"{V2}/{path}/{{id}}", get)
    r.add_get(f"{V2}/payments", lambda req: cursor_page(req, "payments", view_payment))
    r.add_post(f"{V2}/payments", payments_create)
    r.add_get(f"{V2}/payments/{{id}}", _getter("payments", view_payment))
    r.add_get(f"{V2}/bank-accounts", lambda req: cursor_page(req, "treasury", view_bank))
    r.add_get(f"{V2}/bank-accounts/{{id}}", _getter("treasury", view_bank))
    r.add_get(f"{V2}/bank-accounts/{{id}}/movements", movements)
    r.add_get(f"{V2}/price-lists", lambda req: cursor_page(req, "pricelists", view_price_list))
    r.add_get(f"{V2}/price-lists/{{id}}", _getter("pricelists", view_price_list))
