"""The OData API of the BC sandbox: path resolution, CRUD, paging, expand, bound actions.

Paths below ``/v2.0/{tenant}/{environment}/api/v2.0/`` are resolved segment by segment
(``companies(<id>)/salesInvoices(<id>)/salesInvoiceLines``); writes need ``If-Match`` on
PATCH and DELETE and answer 412 when the etag is stale.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from connectors.business_central import sandbox_posting as posting
from connectors.base.jsonio import dumps_json, strict_loads
from connectors.business_central.sandbox_entities import ENTITY_SETS, EntitySpec
from connectors.business_central.sandbox_odata import GUID_RE, ODataError, bad, parse_query
from connectors.business_central.sandbox_odata import sort_records
from connectors.business_central.sandbox_rules import clean_body, not_found
from connectors.business_central.sandbox_store import etag, public

if TYPE_CHECKING:
    from connectors.business_central.sandbox import SandboxState

__all__ = ["handle_api", "json_response"]

Record = dict[str, Any]
_SEGMENT = re.compile(r"^([A-Za-z.]+)(?:\((.*)\))?$")
_ACTIONS = {("salesInvoices", "post"): posting.post_invoice,
            ("salesCreditMemos", "post"): posting.post_credit_memo,
            ("customerPaymentJournals", "post"): posting.post_payment_journal}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(text=dumps_json(body), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    key: str | None


def _segments(path: str) -> list[Segment]:
    out = []
    for raw in filter(None, path.split("/")):
        match = _SEGMENT.match(raw)
        if match is None:
            raise ODataError(404, "BadRequest_NotFound", f"The segment '{raw}' is not valid.")
        key = match.group(2)
        if key is not None:
            key = key.strip("'") if key.startswith("'") else key
        out.append(Segment(match.group(1), key))
    return out


def _guid(key: str | None, what: str) -> str:
    if key is None or not GUID_RE.match(key):
        raise bad(f"The key '{key}' of {what} is not a valid GUID.")
    return key.lower()


async def handle_api(state: SandboxState, request: web.Request, path: str) -> web.Response:
    segments = _segments(path)
    if not segments:
        return json_response({"value": [{"name": n, "kind": "EntitySet", "url": n}
                                        for n in ("companies", "subscriptions")]})
    head = segments[0]
    if head.name == "subscriptions":
        return await _subscriptions(state, request, head.key, len(segments))
    if head.name != "companies":
        raise ODataError(404, "BadRequest_NotFound",
                         f"The resource '{head.name}' does not exist at this level; entity sets "
                         "live under companies(<id>).")
    if head.key is None:
        if request.method != "GET" or len(segments) > 1:
            raise bad("Companies cannot be changed through the API.",
                      "BadRequest_MethodNotAllowed")
        return await _collection(state, request, ENTITY_SETS["companies"], None, None)
    company = await state.store.get("companies", _guid(head.key, "companies"))
    if company is None:
        raise ODataError(404, "BadRequest_NotFound", f"The company '{head.key}' does not exist.")
    if len(segments) == 1:
        return json_response(public(company))
    return await _in_company(state, request, company["id"], segments[1:])


async def _in_company(state: SandboxState, request: web.Request, company: str,
                      segments: list[Segment]) -> web.Response:
    first = segments[0]
    spec = ENTITY_SETS.get(first.name)
    if spec is None or spec.name == "companies" or not spec.top_level:
        raise ODataError(404, "BadRequest_NotFound",
                         f"Resource not found for the segment '{first.name}'.")
    if first.key is None:
        if len(segments) > 1:
            raise ODataError(404, "BadRequest_NotFound", "A key is required before "
                             f"'{segments[1].name}'.")
        return await _collection(state, request, spec, company, None)
    record = await _load(state, spec, company, first.key)
    if len(segments) == 1:
        return await _entity(state, request, spec, company, record, None)
    second = segments[1]
    if second.name.startswith("Microsoft.NAV."):
        return await _action(state, request, spec, company, record, second.name[14:])
    if spec.name == "customers" and second.name == "customerFinancialDetails":
        return json_response(await posting.financial_details(state.rules, company, record))
    child = ENTITY_SETS.get(second.name)
    if child is None or child.parent != spec.name or len(segments) > 2:
        raise ODataError(404, "BadRequest_NotFound",
                         f"Resource not found for the segment '{second.name}'.")
    if second.key is None:
        return await _collection(state, request, child, company, record)
    line = await _load(state, child, company, second.key)
    if line.get(child.parent_field or "") != record["id"]:
        raise not_found(child.name)
    return await _entity(state, request, child, company, line, record)


async def _load(state: SandboxState, spec: EntitySpec, company: str, key: str | None) -> Record:
    record = await state.store.get(spec.name, _guid(key, spec.name))
    if record is None or record.get("_company") != company:
        raise not_found(spec.name, f"Identification fields and values: Id='{key}'")
    return record


async def _shape(state: SandboxState, spec: EntitySpec, company: str, record: Record,
                 expand: tuple[str, ...], select: tuple[str, ...] = ()) -> Record:
    """The record as returned: ``$select``ed properties only (the etag always), plus the
    ``$expand``ed children."""
    out = public(record)
    if select:
        out = {k: v for k, v in out.items() if k == "@odata.etag" or k in select}
    for name in expand:
        if name == "customerFinancialDetails":
            out[name] = await posting.financial_details(state.rules, company, record)
            continue
        child = ENTITY_SETS[name]
        lines = await state.store.list(name, **{child.parent_field or "": record["id"]})
        out[name] = [public(line) for line in sorted(lines, key=lambda r: r.get("sequence", 0))]
    return out


async def _collection(state: SandboxState, request: web.Request, spec: EntitySpec,
                      company: str | None, parent: Record | None) -> web.Response:
    if request.method == "POST":
        return await _create(state, request, spec, company, parent)
    if request.method != "GET":
        raise bad(f"{request.method} is not allowed on a collection.",
                  "BadRequest_MethodNotAllowed")
    query = parse_query(request.query, spec.types, spec.type_name, spec.expandable)
    equals: dict[str, Any] = {}
    if company is not None:
        equals["_company"] = company
    if parent is not None and spec.parent_field:
        equals[spec.parent_field] = parent["id"]
    records = await state.store.list(spec.name, **equals)
    if query.filter is not None:
        records = [r for r in records if query.filter(r)]
    records = sort_records(records, query.orderby, spec.types)
    page_size = state.page_size
    prefer = _max_page_size(request.headers.get("Prefer", ""))
    headers = {}
    if prefer is not None:
        page_size = min(page_size, prefer)
        headers["Preference-Applied"] = f"odata.maxpagesize={prefer}"
    start = query.skip + (0 if state.faults.ignore_skiptoken else query.skiptoken)
    end = len(records) if query.top is None else min(len(records), query.skip + query.top)
    page = records[start:min(end, start + page_size)]
    body: Record = {"@odata.context": f"{state.api_root}/$metadata#{spec.name}",
                    "value": [await _shape(state, spec, company or "", r, query.expand,
                                           query.select) for r in page]}
    if start + len(page) < end:
        params = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = str(query.skiptoken + len(page))
        body["@odata.nextLink"] = f"{state.base_url}{request.path}?{urlencode(params)}"
    return json_response(body, headers=headers)


def _max_page_size(prefer: str) -> int | None:
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        # ASCII digits only ("²".isdigit() is true, int("²") fails), and few enough for int()
        if name.strip().lower() == "odata.maxpagesize" and re.fullmatch(r"[0-9]{1,9}",
                                                                         value.strip()):
            return max(1, int(value))
    return None


async def _create(state: SandboxState, request: web.Request, spec: EntitySpec,
                  company: str | None, parent: Record | None) -> web.Response:
    if not spec.creatable or company is None:
        raise bad(f"{spec.name} cannot be created through the API.",
                  "BadRequest_MethodNotAllowed")
    values = clean_body(spec, await _body(request))
    async with state.store.lock:
        record = await state.rules.prepare(spec, company, values, None, parent)
        record = await state.store.insert(spec.name, record)
        await _after_write(state, spec, company, record, parent, "created")
        record = await state.store.get(spec.name, record["id"]) or record
    location = f"{state.base_url}{request.path}({record['id']})"
    return json_response(await _shape(state, spec, company, record, ()), 201,
                         {"Location": location, "ETag": etag(record)})


async def _after_write(state: SandboxState, spec: EntitySpec, company: str, record: Record,
                       parent: Record | None, change: str) -> None:
    if parent is not None and spec.name.endswith("Lines"):
        fresh = await state.store.get(spec.parent or "", parent["id"])
        assert fresh is not None
        fresh = await state.rules.refresh_totals(spec.parent or "", fresh)
        await state.changed(company, spec.parent or "", fresh["id"], "updated",
                            fresh["lastModifiedDateTime"])
    elif parent is not None:  # journal lines: the journal is what webhooks report
        await state.changed(company, spec.parent or "", parent["id"], "updated",
                            record.get("lastModifiedDateTime", ""))
    else:
        await state.changed(company, spec.name, record["id"], change,
                            record.get("lastModifiedDateTime", ""))


def _check_etag(request: web.Request, record: Record) -> None:
    if_match = request.headers.get("If-Match")
    if not if_match:
        raise bad("An If-Match header is required to change or delete a record.",
                  "BadRequest_IfMatchRequired")
    if if_match != "*" and if_match != etag(record):
        raise ODataError(412, "Request_EntityChanged",
                         "Another user has already changed the record.")


async def _entity(state: SandboxState, request: web.Request, spec: EntitySpec, company: str,
                  record: Record, parent: Record | None) -> web.Response:
    if request.method == "GET":
        query = parse_query(request.query, spec.types, spec.type_name, spec.expandable)
        return json_response(await _shape(state, spec, company, record, query.expand,
                                          query.select))
    if request.method == "PATCH":
        if not spec.updatable:
            raise bad(f"{spec.name} cannot be changed.", "BadRequest_MethodNotAllowed")
        values = clean_body(spec, await _body(request))
        async with state.store.lock:
            current = await state.store.get(spec.name, record["id"]) or record
            _check_etag(request, current)
            updated = await state.rules.prepare(spec, company, values, current, parent)
            updated = await state.store.put(spec.name, updated)
            await _after_write(state, spec, company, updated, parent, "updated")
        return json_response(await _shape(state, spec, company, updated, ()))
    if request.method == "DELETE":
        if not spec.deletable:
            raise bad(f"{spec.name} cannot be deleted.", "BadRequest_MethodNotAllowed")
        async with state.store.lock:
            _check_etag(request, record)
            if spec.name.endswith("Lines"):
                await state.rules._check_draft(spec, parent)
            if spec.name in ("salesInvoices", "salesCreditMemos") and record["status"] != "Draft":
                raise bad("A posted document cannot be deleted.", "BadRequest_MethodNotAllowed")
            await state.store.delete(spec.name, record["id"])
            await _after_write(state, spec, company, record, parent, "deleted")
        return web.Response(status=204)
    raise bad(f"{request.method} is not allowed here.", "BadRequest_MethodNotAllowed")


async def _action(state: SandboxState, request: web.Request, spec: EntitySpec, company: str,
                  record: Record, name: str) -> web.Response:
    handler = _ACTIONS.get((spec.name, name))
    if handler is None:
        raise ODataError(404, "BadRequest_NotFound",
                         f"The action 'Microsoft.NAV.{name}' does not exist on {spec.name}.")
    if request.method != "POST":
        raise bad("Bound actions are invoked with POST.", "BadRequest_MethodNotAllowed")
    async with state.store.lock:
        current = await state.store.get(spec.name, record["id"]) or record
        touched = await handler(state.rules, company, current)
        for entity_set, record_id, change in touched:
            fresh = await state.store.get(entity_set, record_id)
            await state.changed(company, entity_set, record_id, change,
                                (fresh or {}).get("lastModifiedDateTime", ""))
    return web.Response(status=204)


async def _subscriptions(state: SandboxState, request: web.Request, key: str | None,
                         depth: int) -> web.Response:
    subs = state.subscriptions
    if depth > 1:
        raise ODataError(404, "BadRequest_NotFound", "Resource not found.")
    if key is None:
        if request.method == "POST":
            return json_response(await subs.create(await _body(request)), 201)
        if request.method == "GET":
            return json_response({"value": [subs.shape(r)
                                             for r in await state.store.list("subscriptions")]})
    elif request.method == "GET":
        return json_response(subs.shape(await subs.get(key)))
    elif request.method == "PATCH":
        return json_response(await subs.renew(key, await _body(request),
                                              request.headers.get("If-Match")))
    elif request.method == "DELETE":
        await subs.delete(key)
        return web.Response(status=204)
    raise bad(f"{request.method} is not allowed here.", "BadRequest_MethodNotAllowed")


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    if request.content_type != "application/json":
        raise ODataError(415, "UnsupportedMediaType",
                         "The content type must be application/json.")
    try:
        body = strict_loads(raw, parse_float=Decimal)  # nested too deep: a ValueError
        dumps_json(body).encode("utf-8")  # a lone surrogate (\ud800) is no text to store
    except ValueError:
        raise bad("The request body is not valid JSON.") from None
    return body


