"""v1 reference-data routes: taxes, numbering series, treasury, payments, channels, accounts,
plus the accounting (chart, daily ledger, entries) and CRM (funnels, leads) modules."""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from aiohttp import web

from connectors.holded.sandbox_crud import Resource, add_resource, load, pick
from connectors.holded.sandbox_documents import apply_payments, check_payments, epoch_field
from connectors.holded.sandbox_http import (
    STATE, BadRequest, SandboxState, created, ok, page_of, query_int, read_json,
)
from connectors.holded.sandbox_routes_v1 import INVOICING
from connectors.holded.sandbox_seed import DOC_TYPES
from connectors.holded.sandbox_taxes import TAXES

__all__ = ["add_misc_routes", "ACCOUNTING", "CRM"]

logger = logging.getLogger(__name__)

ACCOUNTING = "/api/accounting/v1"
CRM = "/api/crm/v1"


def _plain(fields: tuple[str, ...], required: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    async def write(state: SandboxState, body: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        if old is None:
            for name in required:
                if not body.get(name):
                    raise BadRequest(f"Wrong {name}")
        return pick(body, fields)
    return write


def _view(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if not k.startswith("_")}


async def write_payment(state: SandboxState, body: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """``POST /payments`` and ``PUT /payments/{id}``. The create body is documented (``bankId,
    contactId, amount, desc, date``), which of it is required is not: a create without
    ``bankId`` is refused here (UNVERIFIED, strict: whether Holded books it to a default
    treasury is unknown, so nothing may rely on it). ``contactId`` stays optional: a payment
    booked to nobody is what the source must be able to read."""
    if old is None and not body.get("bankId"):
        raise BadRequest("Wrong bankId")
    if old is None or "date" in body:
        epoch_field(body, "date", "Wrong date")
    if old is None or "amount" in body:
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise BadRequest("Wrong amount")
    if body.get("bankId") and await state.store.get("treasury", str(body["bankId"])) is None:
        raise BadRequest("Treasury not found")
    fields = pick(body, ("bankId", "contactId", "amount", "desc", "date"))
    if body.get("contactId"):
        contact = await state.store.get("contacts", str(body["contactId"]))
        if contact is None:
            raise BadRequest("Contact not found")
        fields["contactName"] = contact.get("name", "")
    if old is not None and old.get("documentId"):
        await _edit_document_payment(state, old, fields)
    return fields


async def _edit_document_payment(state: SandboxState, old: dict[str, Any],
                                 fields: dict[str, Any]) -> None:
    """Editing a document's payment also changes the document's paid amounts (as deleting it
    does): the document and /payments never disagree."""
    if "amount" in fields and (isinstance(fields["amount"], bool) or fields["amount"] <= 0):
        raise BadRequest("Wrong amount")
    doc = await state.store.get("documents", old["documentId"])
    if doc is None:
        return
    for entry in doc["_payments"]:
        if entry["paymentId"] == old["id"]:
            entry.update({k: fields[k] for k in ("amount", "date", "desc") if k in fields})
            if "bankId" in fields:
                entry["treasury"] = fields["bankId"]
    check_payments(doc, doc["_payments"])
    apply_payments(doc)
    await state.store.put("documents", doc)


def _date_range(request: web.Request):  # type: ignore[no-untyped-def]
    start, end = query_int(request, "starttmp"), query_int(request, "endtmp")
    return lambda r: (start is None or r.get("date", 0) >= start) and (end is None or r.get("date", 0) <= end)


async def delete_payment(request: web.Request) -> web.Response:
    """Deleting a document's payment also takes it off the document's paid amounts."""
    state = request.app[STATE]
    async with state.store.lock:
        payment = await load(state, "payments", request.match_info["id"])
        await state.store.delete("payments", payment["id"])
        doc = await state.store.get("documents", payment.get("documentId") or "")
        if doc is not None:
            doc["_payments"] = [p for p in doc["_payments"] if p["paymentId"] != payment["id"]]
            apply_payments(doc)
            await state.store.put("documents", doc)
    return ok({"status": 1, "info": "Deleted", "id": payment["id"]})


async def list_taxes(request: web.Request) -> web.Response:
    return ok([dict(t) for t in TAXES])


def _series_type(request: web.Request) -> str:
    series_type = request.match_info["type"]
    if series_type not in DOC_TYPES:
        raise BadRequest("Undefined type series")
    return series_type


def _view_series(s: dict[str, Any]) -> dict[str, Any]:
    return {"id": s["id"], "name": s.get("name", ""), "format": s.get("format", ""), "last": s.get("last", 0),
            "type": s["type"], "default": bool(s.get("default"))}


async def list_series(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return ok([_view_series(s) for s in await state.store.find("numberingseries", type=_series_type(request))])


def _series_last(body: dict[str, Any]) -> None:
    """``last`` is the number the series gave last, which the next approval counts on from:
    a whole number (what Holded does with another is UNVERIFIED; refused, the strict reading)."""
    last = body.get("last", 0)
    if isinstance(last, bool) or not isinstance(last, int) or last < 0:
        raise BadRequest("Wrong last")


async def create_series(request: web.Request) -> web.Response:
    state = request.app[STATE]
    series_type = _series_type(request)
    body = await read_json(request)
    if not body.get("name"):
        raise BadRequest("Wrong name")
    _series_last(body)
    fields = pick(body, ("name", "format", "last", "prefix"))
    fields.setdefault("prefix", str(fields.get("format", "")).split("%")[0])
    record = await state.store.insert("numberingseries", {"last": 0, **fields, "type": series_type,
                                                          "default": False})
    return created(record["id"])


async def _series(request: web.Request) -> tuple[SandboxState, dict[str, Any]]:
    state = request.app[STATE]
    series = await load(state, "numberingseries", request.match_info["id"])
    if series["type"] != _series_type(request):
        raise BadRequest("not found")
    return state, series


async def update_series(request: web.Request) -> web.Response:
    body = await read_json(request)
    _series_last(body)
    state = request.app[STATE]
    async with state.store.lock:  # an approval numbers from the series meanwhile
        state, series = await _series(request)
        series.update(pick(body, ("name", "format", "last", "prefix")))
        await state.store.put("numberingseries", series)
    return ok({"status": 1, "info": "Updated", "id": series["id"]})


async def delete_series(request: web.Request) -> web.Response:
    state = request.app[STATE]
    async with state.store.lock:
        state, series = await _series(request)
        await state.store.delete("numberingseries", series["id"])
    return ok({"status": 1, "info": "Deleted", "id": series["id"]})


def _ledger_lines(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"entryNumber": e["entryNumber"], "line": i + 1, "timestamp": e["date"], "type": "custom",
             "description": line.get("description", ""), "docDescription": e.get("notes", ""),
             "account": line["account"], "debit": line.get("debit", 0), "credit": line.get("credit", 0),
             "tags": line.get("tags", []), "checked": "no"}
            for e in entries for i, line in enumerate(e["lines"])]


async def daily_ledger(request: web.Request) -> web.Response:
    state = request.app[STATE]
    entries = await state.store.list("entries", _date_range(request))
    return ok(page_of(request, _ledger_lines(entries)))


async def chart_of_accounts(request: web.Request) -> web.Response:
    state = request.app[STATE]
    lines = _ledger_lines(await state.store.list("entries", _date_range(request)))
    out = []
    for account in await state.store.list("chartofaccounts"):
        debit = sum(Decimal(str(x["debit"])) for x in lines if x["account"] == account["num"])
        credit = sum(Decimal(str(x["credit"])) for x in lines if x["account"] == account["num"])
        if request.query.get("includeEmpty") != "1" and not (debit or credit):
            continue
        out.append({**_view(account), "debit": float(debit), "credit": float(credit),
                    "balance": float(debit - credit)})
    return ok(out)


def _money(line: dict[str, Any], name: str) -> Decimal:
    value = line.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise BadRequest(f"Wrong {name}")
    return Decimal(str(value))


async def create_entry(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json(request)
    date = epoch_field(body, "date", "Wrong date")
    lines = body.get("lines")
    if not isinstance(lines, list) or len(lines) < 2 or not all(isinstance(x, dict) for x in lines):
        raise BadRequest("Wrong lines")
    known = {a["num"] for a in await state.store.list("chartofaccounts")}
    for line in lines:
        if isinstance(line.get("account"), bool) or not isinstance(line.get("account"), int):
            raise BadRequest("Wrong account")
        if line["account"] not in known:
            raise BadRequest(f"Account not found: {line['account']}")
    if sum(_money(x, "debit") for x in lines) != sum(_money(x, "credit") for x in lines):
        raise BadRequest("Entry is not balanced")
    async with state.store.lock:
        number = len(await state.store.list("entries")) + 1
        record = await state.store.insert("entries", {
            "entryNumber": number, "date": date, "notes": body.get("notes", ""),
            "lines": [pick(x, ("account", "debit", "credit", "description", "tags")) for x in lines]})
    return created(record["id"])


async def create_account(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json(request)
    prefix = str(body.get("prefix", ""))
    if len(prefix) != 4 or not prefix.isdigit():
        raise BadRequest("Wrong prefix")
    async with state.store.lock:
        taken = [a["num"] for a in await state.store.list("chartofaccounts") if str(a["num"]).startswith(prefix)]
        num = max(taken, default=int(prefix) * 10000) + 1
        record = await state.store.insert("chartofaccounts", {
            "num": num, "name": body.get("name", ""), "color": body.get("color", ""), "group": prefix[0]})
    return created(record["id"])


def add_misc_routes(app: web.Application) -> None:
    app.router.add_get(f"{INVOICING}/taxes", list_taxes)
    series = f"{INVOICING}/numberingseries/{{type}}"
    app.router.add_get(series, list_series)
    app.router.add_post(series, create_series)
    app.router.add_put(series + "/{id}", update_series)
    app.router.add_delete(series + "/{id}", delete_series)
    add_resource(app, Resource("treasury", f"{INVOICING}/treasury", _plain(
        ("name", "type", "balance", "accountNumber", "iban", "swift", "bank", "bankname"), ("name",)),
        _view, ops="lcg"))
    add_resource(app, Resource("payments", f"{INVOICING}/payments", write_payment, _view, ops="lcgu",
                               list_filter=_date_range))
    app.router.add_delete(f"{INVOICING}/payments/{{id}}", delete_payment)
    for name, fields in (("saleschannels", ("name", "desc", "accountNum")),
                         ("expensesaccounts", ("name", "desc", "accountNum"))):
        add_resource(app, Resource(name, f"{INVOICING}/{name}", _plain(fields, ("name",)), _view))
    add_resource(app, Resource("paymentmethods", f"{INVOICING}/paymentmethods", _plain(()), _view, ops="lg"))
    add_resource(app, Resource("remittances", f"{INVOICING}/remittances", _plain(()), _view, ops="lg"))
    app.router.add_get(f"{ACCOUNTING}/chartofaccounts", chart_of_accounts)
    app.router.add_get(f"{ACCOUNTING}/dailyledger", daily_ledger)
    app.router.add_post(f"{ACCOUNTING}/entry", create_entry)
    app.router.add_post(f"{ACCOUNTING}/account", create_account)
    add_resource(app, Resource("funnels", f"{CRM}/funnels", _plain(()), _view, ops="lg"))
    add_resource(app, Resource("leads", f"{CRM}/leads", _plain(()), _view, ops="lg"))
