"""A strict SAP Business One Service Layer sandbox (``/b1s/v1``, OData v3) over aiosqlite.

Start it in a test::

    server = await start_sap_sandbox(port=0)
    # POST {server.url}/Login {"CompanyDB": "SBODEMOES", "UserName": "manager",
    #                          "Password": "sandbox-pass"}  -> cookies B1SESSION, ROUTEID
    server.faults.lose_next_writes = 1       # the next POST/PATCH commits, its answer is lost
    await server.move_stock("A0001", "01", -5)   # a delivery: InStock moves, UpdateDate not
    await server.find("IncomingPayments", Remarks="payment/holded/p1")
    await server.stop()

``server.url`` is the Service Layer root (``http://127.0.0.1:<port>/b1s/v1``). Errors come
back as ``{"error": {"code": .., "message": {"lang": "en-us", "value": ..}}}``; paging via
``odata.nextLink`` honours ``Prefer: odata.maxpagesize=N`` (default 20, b1s.conf's ``PageSize``
default; 0 turns paging off: SL manual, "Paginate the Selected Orders"); ``$filter`` /
``$select`` / ``$orderby`` as in :mod:`sandbox_query`, ``$top`` / ``$skip`` / ``$inlinecount``
as the manual's "Query Options" describe them. Sessions time out after ``session_timeout``
seconds of inactivity. Binds 127.0.0.1 only.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from connectors.base.jsonio import strict_loads
from connectors.base.sandbox_serving import (
    HOST, Dropped, drop_connection, hold, listen, run_until_signal,
)
from connectors.sap_b1.sandbox_faults import Faults, RequestRecord
from connectors.sap_b1.sandbox_query import QueryError, parse_filter, parse_orderby, parse_select
from connectors.sap_b1.sandbox_seed import seed as seed_data
from connectors.sap_b1.sandbox_store import (KEYS, OBJECT_CODES, SERIES, TEMPLATES, VERSIONED,
                                             SapError, Store, etag, filter_literal)

__all__ = ["COMPANY_DB", "PASSWORD", "USER", "Faults", "RequestRecord", "SapSandbox", "serve",
           "start_sap_sandbox"]

logger = logging.getLogger(__name__)

ROOT = "/b1s/v1"
COMPANY_DB, USER, PASSWORD = "SBODEMOES", "manager", "sandbox-pass"
DEFAULT_PAGE = 20
STATE = web.AppKey("sap_sandbox", object)
_PATH = re.compile(r"^(\w+)(?:\((.+)\))?$")
_SAFE = "$,'()"  # SL writes nextLinks with bare $ options (as in "?$skip=20")
# ASCII digits, few enough for int(): a longer number is no page size, and is not applied
_PREFER = re.compile(r"odata\.maxpagesize\s*=\s*([0-9]{1,9})(?![0-9])")


# The system query options of OData v3 (MS-ODATA 2.2.3.6.1) and v4 (URL Conventions, 5).
_SYSTEM_OPTIONS = frozenset({
    "$apply", "$compute", "$count", "$deltatoken", "$expand", "$filter", "$format", "$id",
    "$index", "$inlinecount", "$levels", "$orderby", "$schemaversion", "$search", "$select",
    "$skip", "$skiptoken", "$top"})
_COLLECTION_OPTIONS = frozenset({"$top", "$skip", "$orderby", "$inlinecount", "$skiptoken"})


@dataclass
class SapSandbox:
    url: str
    port: int
    store: Store
    faults: Faults
    zone: dt.tzinfo
    company_db: str = COMPANY_DB
    users: dict[str, str] = field(default_factory=lambda: {USER: PASSWORD})
    session_timeout: float = 30 * 60
    requests: list[RequestRecord] = field(default_factory=list)
    sessions: dict[str, float] = field(default_factory=dict)  # B1SESSION -> last use
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    # ---- helpers for tests -----------------------------------------------------------
    async def all(self, entity_set: str) -> list[dict[str, Any]]:
        return await self.store.all(entity_set)

    async def find(self, entity_set: str, **equals: Any) -> list[dict[str, Any]]:
        return [r for r in await self.store.all(entity_set)
                if all(r.get(k) == v for k, v in equals.items())]

    async def get(self, entity_set: str, key: Any) -> dict[str, Any]:
        return await self.store.get(entity_set, key)

    async def create(self, entity_set: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create as SAP would (rules, stamps), bypassing HTTP and faults."""
        return await self.store.create(entity_set, body)

    async def patch(self, entity_set: str, key: Any, body: dict[str, Any]) -> dict[str, Any]:
        """Change a record as a person in the SAP client would (DataVersion moves)."""
        return await self.store.patch(entity_set, key, body, None)

    async def move_stock(self, item_code: str, warehouse: str, quantity: Decimal | int
                         ) -> dict[str, Any]:
        """An inventory posting (goods receipt, or issue when negative) of ``quantity`` units:
        only the warehouse row's ``InStock`` moves, not the item's update time."""
        return await self.store.move_stock(item_code, warehouse, Decimal(quantity))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    async def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.store.close()

    # ---- sessions --------------------------------------------------------------------
    def login(self, body: Any) -> str:
        if not isinstance(body, dict):
            raise SapError(400, -1000, "Login expects a JSON object")
        if body.get("CompanyDB") != self.company_db:
            raise SapError(401, -304, f"Fail to get DB Credentials from SLD ("
                           f"{body.get('CompanyDB')!r})")
        if self.faults.revoked or self.users.get(str(body.get("UserName"))) != body.get(
                "Password"):
            raise SapError(401, 100000027, "Login failed")
        session = str(uuid.uuid4())
        self.sessions[session] = _clock()
        return session

    def check_session(self, request: web.Request) -> None:
        session = request.cookies.get("B1SESSION", "")
        last = self.sessions.get(session)
        if self.faults.revoked:
            self.sessions.clear()
            last = None
        if last is not None and (_clock() - last > self.session_timeout
                                 or self.faults.take("expire_next")):
            del self.sessions[session]
            last = None
        if last is None:
            raise SapError(401, 301, "Invalid session or session already timeout.")
        self.sessions[session] = _clock()


def _clock() -> float:
    return asyncio.get_running_loop().time()


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(data, default=_number, ensure_ascii=False),
                        status=status, content_type="application/json", headers=headers)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    raise TypeError(type(value).__name__)


async def _read_json(request: web.Request) -> Any:
    """The body as JSON, or a 400: bytes not in the request's charset (or no such charset),
    NaN / Infinity, nesting too deep to parse, a lone surrogate (\ud800) that is no text."""
    try:
        text = (await request.read()).decode(request.charset or "utf-8")
        body = strict_loads(text, parse_float=Decimal)
        json.dumps(body, default=_number, ensure_ascii=False).encode("utf-8")
    except (ValueError, LookupError):
        raise SapError(400, -1000, "The request body is not valid JSON") from None
    return body


def _error(error: SapError) -> web.Response:
    return _json(error.body(), status=error.status)


def _target(request: web.Request) -> tuple[str, Any]:
    match = _PATH.match(request.match_info["path"])
    if match is None or match.group(1) not in TEMPLATES:
        raise SapError(404, -1000, f"Resource not found for the segment "
                       f"'{request.match_info['path']}'")
    entity_set, raw = match.group(1), match.group(2)
    if raw is None:
        return entity_set, None
    if raw.startswith("'") and raw.endswith("'"):
        if KEYS[entity_set] == "DocEntry":
            raise SapError(400, -1000, "Key of type Int32 given a string")
        return entity_set, raw[1:-1].replace("''", "'")
    # An Edm.Int32 in ASCII digits ("²".isdigit() is true, and int("²") fails)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise SapError(400, -1000, f"Invalid key {raw!r}")
    return entity_set, int(raw)


def _out(entity_set: str, record: dict[str, Any], select: Any = None) -> dict[str, Any]:
    body = {k: record[k] for k in select} if select else dict(record)
    if entity_set in VERSIONED:
        body["odata.etag"] = etag(record)
    return body


def _count(query: Any, option: str) -> int | None:
    """``$top`` / ``$skip`` as OData writes them (MS-ODATA 2.2.3.6.1.7/8: ``1*DIGIT``, below 0
    the URI is malformed): ASCII digits only, no sign, no blanks; None when absent."""
    if option not in query:
        return None
    value = query[option]
    try:
        if not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        return int(value)
    except ValueError:
        raise SapError(400, -1000, f"{option} must be a non-negative integer") from None


async def _collection(request: web.Request, sb: SapSandbox, entity_set: str) -> web.Response:
    fields = TEMPLATES[entity_set]
    # Collections (DocumentLines, ...) are no values to compare or sort by: $select only.
    scalars = [name for name, default in fields.items()
               if not isinstance(default, list) and name != "ItemWarehouseInfoCollection"]
    query = request.query
    try:
        predicate = parse_filter(query.get("$filter"), scalars,
                                 lambda name, value: filter_literal(entity_set, name, value))
        order = parse_orderby(query.get("$orderby"), scalars)
        select = parse_select(query.get("$select"), fields)
        rows = [r for r in await sb.store.all(entity_set) if predicate(r)]
    except QueryError as exc:
        raise SapError(400, exc.code, str(exc)) from None
    for name, descending in reversed(order):
        rows.sort(key=lambda r: (r.get(name) is not None, r.get(name)), reverse=descending)
    inlinecount = query.get("$inlinecount", "none")
    if inlinecount not in ("allpages", "none"):  # the SL manual: anything else is a 400
        raise SapError(400, -1000, "$inlinecount must be allpages or none")
    skip, top = _count(query, "$skip"), _count(query, "$top")
    skip = 0 if sb.faults.ignore_paging or skip is None else skip
    prefer = _PREFER.search(request.headers.get("Prefer", ""))
    size = int(prefer.group(1)) if prefer else DEFAULT_PAGE
    # A page size of 0 turns paging off (SL manual, "Paginate the Selected Orders").
    page_size = size or len(rows)
    limit = page_size if top is None else min(page_size, top)
    page = rows[skip:skip + limit]
    body: dict[str, Any] = {"odata.metadata": f"{sb.url}/$metadata#{entity_set}"}
    if inlinecount == "allpages":  # every match, before $skip / $top; a string, as SL writes it
        body["odata.count"] = str(len(rows))
    body["value"] = [_out(entity_set, r, select) for r in page]
    remaining = len(rows) - skip - len(page)
    if top is not None:
        remaining = min(remaining, top - len(page))
    if remaining > 0 and page:
        params = {k: v for k, v in query.items() if k not in ("$skip", "$top")}
        params["$skip"] = str(skip + len(page))
        if top is not None:
            params["$top"] = str(top - len(page))
        body["odata.nextLink"] = f"{entity_set}?{urlencode(params, safe=_SAFE, quote_via=quote)}"
    headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if prefer else None
    return _json(body, headers=headers)


def _check_options(query: Any, single: bool) -> None:
    """System query options as MS-ODATA 2.2.3.6.1 defines them: names are case-sensitive, a
    name beginning with $ that OData (v3 or v4) does not define is no custom option but a
    malformed URI, and so is an option incompatible with the resource: $top, $skip, $orderby,
    $inlinecount and $skiptoken pick from a collection, not one entity. Options OData defines
    and the sandbox does not serve ($expand, $format, $apply, ...) are ignored, as before."""
    for name in query:
        if name.startswith("$") and (name not in _SYSTEM_OPTIONS
                                     or single and name in _COLLECTION_OPTIONS):
            raise SapError(400, -1000, f"Query option '{name}' is not valid for this resource")


async def _api(request: web.Request) -> web.Response:
    sb: SapSandbox = request.app[STATE]  # type: ignore[assignment]
    entity_set, key = _target(request)
    if request.method == "GET":
        _check_options(request.query, single=key is not None)
        if key is None:
            return await _collection(request, sb, entity_set)
        try:
            select = parse_select(request.query.get("$select"), TEMPLATES[entity_set])
        except QueryError as exc:
            raise SapError(400, exc.code, str(exc)) from None
        record = await sb.store.get(entity_set, key)
        headers = {"ETag": etag(record)} if entity_set in VERSIONED else None
        return _json(_out(entity_set, record, select), headers=headers)
    if request.method == "DELETE" and key is not None and entity_set in OBJECT_CODES:
        # SL manual, "Deleting Entities": a document cannot be removed, only cancelled.
        raise SapError(400, -5006, "The requested action is not supported for this object.")
    body = await _read_json(request)
    if not isinstance(body, dict):
        raise SapError(400, -1000, "The request body must be a JSON object")
    if request.method == "POST" and key is None:
        record = await sb.store.create(entity_set, body)
        if sb.faults.take("lose_next_writes"):
            raise Dropped()
        return _json(_out(entity_set, record), status=201)
    if request.method == "PATCH" and key is not None:
        await sb.store.patch(entity_set, key, body, request.headers.get("If-Match"))
        if sb.faults.take("lose_next_writes"):
            raise Dropped()
        return web.Response(status=204)
    raise SapError(405, -1000, f"{request.method} is not supported on this resource")


async def _document_series(request: web.Request) -> web.Response:
    """``POST SeriesService_GetDocumentSeries`` {"DocumentTypeParams": {"Document": "13"}}: the
    numbering series of one object (a read, though a POST: a service action). ``Document`` is
    an ``Edm.String`` in the metadata: a number is refused here (what SL does with one is
    UNVERIFIED), as is an object the sandbox keeps no series for."""
    sb: SapSandbox = request.app[STATE]  # type: ignore[assignment]
    body = await _read_json(request)
    params = body.get("DocumentTypeParams") if isinstance(body, dict) else None
    if not isinstance(params, dict) or set(params) - {"Document", "DocumentSubType"} \
            or not isinstance(params.get("Document"), str):
        raise SapError(400, -1000, "DocumentTypeParams.Document (a string) is required")
    series = [dict(s) for s in SERIES if s["Document"] == params["Document"]
              and params.get("DocumentSubType", s["DocumentSubType"]) == s["DocumentSubType"]]
    if not series:
        raise SapError(400, -5002, f"No numbering series for document {params['Document']!r}")
    return _json({"odata.metadata": f"{sb.url}/$metadata#Collection(SAPB1.Series)",
                  "value": series})


async def _login(request: web.Request) -> web.Response:
    sb: SapSandbox = request.app[STATE]  # type: ignore[assignment]
    try:
        body = await _read_json(request)
    except SapError:
        body = None
    session = sb.login(body)
    response = _json({"odata.metadata": f"{sb.url}/$metadata#B1Sessions/@Element",
                      "SessionId": session, "Version": "1000190",
                      "SessionTimeout": int(sb.session_timeout // 60)})
    response.set_cookie("B1SESSION", session, path="/b1s", httponly=True)
    response.set_cookie("ROUTEID", ".node1", path="/b1s")
    return response


async def _logout(request: web.Request) -> web.Response:
    sb: SapSandbox = request.app[STATE]  # type: ignore[assignment]
    sb.sessions.pop(request.cookies.get("B1SESSION", ""), None)
    return web.Response(status=204)


@web.middleware
async def _pipeline(request: web.Request, handler: Any) -> web.StreamResponse:
    sb: SapSandbox = request.app[STATE]  # type: ignore[assignment]
    record = RequestRecord(_clock(), request.method, request.path, request.query_string)
    sb.requests.append(record)
    if sb.faults.latency_ms:
        await hold(sb._stopping, sb.faults.latency_ms / 1000)
    try:
        if not record.auth:
            if sb.faults.take("throttle_next"):
                record.status = 429
                return _json({"error": {"code": 429, "message": {
                    "lang": "en-us", "value": "Too Many Requests"}}}, status=429,
                    headers={"Retry-After": str(sb.faults.retry_after)})
            if sb.faults.take("error_next"):
                record.status = sb.faults.error_status
                return web.Response(status=sb.faults.error_status, content_type="text/html",
                                    text="<html><body>Service Unavailable</body></html>")
            sb.check_session(request)
        response = await handler(request)
    except SapError as error:
        record.outcome, record.code = "error", error.code
        response = _error(error)
    except Dropped:
        record.outcome = "dropped"
        drop_connection(request)
        return web.Response(status=500)
    record.status = response.status
    return response


def build_app(sb: SapSandbox) -> web.Application:
    app = web.Application(middlewares=[_pipeline])
    app[STATE] = sb
    app.router.add_post(f"{ROOT}/Login", _login)
    app.router.add_post(f"{ROOT}/Logout", _logout)
    app.router.add_post(f"{ROOT}/SeriesService_GetDocumentSeries", _document_series)
    app.router.add_route("*", ROOT + "/{path:[^/]+}", _api)
    return app


async def start_sap_sandbox(*, port: int = 0, db_path: str = ":memory:",
                            faults: Faults | None = None, seed: bool = True,
                            zone: str = "Europe/Madrid",
                            now: Callable[[], dt.datetime] | None = None,
                            session_timeout: float = 30 * 60) -> SapSandbox:
    """Start the sandbox on 127.0.0.1:``port`` (0 = a free port); ``now`` is its clock
    (aware; stamps are written in ``zone``, the company server's local time)."""
    tz = ZoneInfo(zone)
    clock = now or (lambda: dt.datetime.now(tz))
    store = await Store.open(db_path, lambda: clock().astimezone(tz))
    if seed:
        await seed_data(store)
    sb = SapSandbox(url="", port=0, store=store, faults=faults or Faults(), zone=tz,
                    session_timeout=session_timeout)
    runner, sb.port = await listen(build_app(sb), port)
    sb.url = f"http://{HOST}:{sb.port}{ROOT}"
    sb._runner = runner
    logger.info("sap b1 sandbox listening on %s (company %s)", sb.url, sb.company_db)
    return sb


def serve(port: int = 50000, **options: Any) -> None:
    """Run the sandbox until SIGINT/SIGTERM (``holded-sync sandbox sap-b1``)."""

    async def main() -> None:
        from app.devrun.sandboxes import worker_env

        server = await start_sap_sandbox(port=port, **options)
        await run_until_signal(
            f"SAP B1 Service Layer sandbox at {server.url}  (CompanyDB {server.company_db}, "
            f"user {USER} / {PASSWORD})\n"
            f"  a worker uses it with {worker_env('sap_b1', server)}",
            server.stop)

    asyncio.run(main())
