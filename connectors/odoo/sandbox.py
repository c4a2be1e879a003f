"""A strict Odoo external-API sandbox: JSON-RPC, XML-RPC and JSON-2 over one SQLite store.

Start it in a test::

    server = await start_odoo_sandbox(port=0)
    # JSON-RPC:  POST {server.url}/jsonrpc   {"service": "object", "method": "execute_kw", ...}
    # XML-RPC:   POST {server.url}/xmlrpc/2/common | /xmlrpc/2/object
    # JSON-2:    POST {server.url}/json/2/<model>/<method>  Authorization: bearer <key>
    server.faults.lose_next_writes = 1      # the next write commits, its response is lost
    assert await server.count("account.payment", [("ref", "=", "payment/holded/p1")]) == 1
    await server.stop()

Database ``sandbox``; users ``admin`` (uid 2, key ``sandbox-key``) and ``reader`` (uid 6, key
``reader-key``, read-only: every write is an AccessError). Errors come back in Odoo's shapes:
JSON-RPC ``{"error": {"code": 200, "message": "Odoo Server Error", "data": {"name": ...}}}``,
XML-RPC ``Fault(faultCode, faultString)`` with Odoo's codes (1 application error, 2 user /
validation error, 3 AccessDenied, 4 AccessError), JSON-2 an HTTP status (401, 403, 404, 422,
500) with ``{"name", "message", "arguments", "context", "debug"}``. Binds 127.0.0.1 only.
"""
from __future__ import annotations

import asyncio
import json
import logging
import traceback
import xmlrpc.client
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.base.sandbox_serving import (
    HOST, Dropped, drop_connection, hold, listen, proxy_fault, run_until_signal,
)
from connectors.odoo.sandbox_accounting import install
from connectors.odoo.sandbox_partners import install as install_partners
from connectors.odoo.sandbox_products import install as install_products
from connectors.odoo.sandbox_domain import AccessDenied, OdooError, ServerError
from connectors.odoo.sandbox_faults import WRITE_METHODS, Faults, RequestRecord
from connectors.odoo.sandbox_models import TRANSIENT
from connectors.odoo.sandbox_orm import Orm, User
from connectors.odoo.sandbox_seed import seed as seed_data

__all__ = ["DB", "Faults", "OdooSandbox", "RequestRecord", "serve", "start_odoo_sandbox"]

logger = logging.getLogger(__name__)

DB = "sandbox"
VERSION = {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""],
           "server_serie": "17.0", "protocol_version": 1}
STATE = web.AppKey("odoo_sandbox", object)
RECORD = web.RequestKey("odoo_record", RequestRecord) if hasattr(web, "RequestKey") else "odoo_record"


@dataclass
class OdooSandbox:
    url: str
    port: int
    orm: Orm
    faults: Faults
    users: dict[str, tuple[int, str]]  # login -> (uid, api key)
    requests: list[RequestRecord] = field(default_factory=list)
    db: str = DB
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    # ---- helpers for tests -----------------------------------------------------------
    async def search_read(self, model: str, domain: list[Any] | None = None,
                          fields: list[str] | None = None) -> list[dict[str, Any]]:
        return await self.orm.call(model, "search_read", [domain or []], {"fields": fields},
                                   User(2, "admin"))

    async def count(self, model: str, domain: list[Any] | None = None) -> int:
        return int(await self.orm.call(model, "search_count", [domain or []], {}, User(2, "admin")))

    async def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run a model method as admin, bypassing HTTP and faults."""
        return await self.orm.call(model, method, list(args), kwargs, User(2, "admin"))

    async def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.orm.close()

    # ---- auth ------------------------------------------------------------------------
    def authenticate(self, db: Any, login: Any, key: Any) -> int | bool:
        self._check_db(db)
        uid, expected = self.users.get(str(login), (0, ""))
        if not uid or key != expected or key in self.faults.revoked:
            return False
        return uid

    def user_for(self, db: Any, uid: Any, key: Any) -> User:
        self._check_db(db)
        for login, (known_uid, expected) in self.users.items():
            if known_uid == uid and key == expected and key not in self.faults.revoked:
                if self.faults.take("deny_next"):
                    break
                return User(uid, login)
        raise AccessDenied()

    def user_for_key(self, key: str) -> User:
        for login, (uid, expected) in self.users.items():
            if key == expected and key not in self.faults.revoked:
                if self.faults.take("deny_next"):
                    break
                return User(uid, login)
        raise AccessDenied("Invalid apikey")

    def _check_db(self, db: Any) -> None:
        if db != self.db:
            raise ServerError(f'FATAL:  database "{db}" does not exist')

    # ---- calls -----------------------------------------------------------------------
    async def execute(self, record: RequestRecord, user: User, model: str, method: str,
                      args: list[Any], kwargs: dict[str, Any]) -> Any:
        record.call = f"{model}.{method}"
        if not isinstance(method, str):
            raise ServerError(f"The method '{method}' does not exist on the model '{model}'")
        if self.faults.ignore_paging and method in ("search", "search_read"):
            kwargs = {k: v for k, v in kwargs.items() if k != "offset"}
            if method == "search_read" and len(args) > 2:
                args = args[:2]
        if method in WRITE_METHODS and model not in TRANSIENT:
            await self.faults.writes.wait(self._stopping)
        result = await self.orm.call(model, method, list(args), dict(kwargs), user)
        if method in WRITE_METHODS and model not in TRANSIENT and self.faults.take("lose_next_writes"):
            raise Dropped()
        return result


# ---- protocol handlers -------------------------------------------------------------------

Handler = Callable[[web.Request, OdooSandbox, RequestRecord], Awaitable[web.StreamResponse]]


def _fault_data(error: OdooError) -> dict[str, Any]:
    return {"name": error.name, "debug": f"Traceback (most recent call last):\n{error.name}: "
            f"{error.message}\n", "message": error.message, "arguments": [error.message],
            "context": {}}


# Odoo 17 (odoo/http.py) serves /jsonrpc, a type='json' route, only to these mimetypes
# (Request._set_request_dispatcher: BadRequest otherwise).
_JSON_MIMETYPES = ("application/json", "application/json-rpc")


def _jsonrpc_error(rid: Any, error: OdooError) -> web.Response:
    return web.json_response({"jsonrpc": "2.0", "id": rid, "error": {
        "code": 200, "message": "Odoo Server Error", "data": _fault_data(error)}})


async def _jsonrpc(request: web.Request, sb: OdooSandbox, record: RequestRecord) -> web.Response:
    """As Odoo 17's JsonRPCDispatcher.dispatch: the body is read as UTF-8 with bad bytes
    replaced (werkzeug's get_data(as_text=True)); what json.loads refuses, or JSON that is no
    object, is a plain 400 before any JSON-RPC envelope; ``dict(params)`` failing, or a body
    nested past the parser (RecursionError, which its ``except ValueError`` lets through), is
    an Odoo Server Error (HTTP 200) like any exception of the call."""
    if request.content_type not in _JSON_MIMETYPES:
        return web.Response(status=400, content_type="text/html", text=(
            "<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad "
            "Request</h1>\n<p>Request inferred type is compatible with ['http'] but "
            "'/jsonrpc' is type='json'.</p>\n"))
    text = (await request.read()).decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        return web.Response(status=400, content_type="text/html", text="Invalid JSON data")
    except RecursionError as exc:
        return _jsonrpc_error(None, ServerError.of(exc, "jsonrpc"))
    if not isinstance(body, dict):
        return web.Response(status=400, content_type="text/html",
                            text="Invalid JSON-RPC data")
    rid = body.get("id")
    try:
        params = dict(body.get("params", {}))
    except (TypeError, ValueError) as exc:
        return _jsonrpc_error(rid, ServerError.of(exc, "jsonrpc"))
    service, method, args = params.get("service"), params.get("method"), params.get("args") or []
    record.call = f"{service}.{method}"
    try:
        if not isinstance(args, list):
            raise ServerError(f"{service}.{method}() takes a list of arguments, got {args!r}")
        result = await _dispatch(sb, record, service, method, list(args))
    except OdooError as error:
        record.outcome, record.fault = "fault", error.name
        return _jsonrpc_error(rid, error)
    return web.json_response({"jsonrpc": "2.0", "id": rid, "result": result})


async def _xmlrpc(request: web.Request, sb: OdooSandbox, record: RequestRecord) -> web.Response:
    service = request.match_info["service"]
    try:
        args, method = xmlrpc.client.loads(await request.read(), use_builtin_types=True)
    except Exception:  # noqa: BLE001 - any parse failure is a client error fault
        body = xmlrpc.client.dumps(xmlrpc.client.Fault(1, traceback.format_exc()),
                                   methodresponse=True)
        return web.Response(text=body, content_type="text/xml")
    record.call = f"{service}.{method}"
    try:
        result = await _dispatch(sb, record, service, method or "", list(args))
        body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True)
    except OdooError as error:
        record.outcome, record.fault = "fault", error.name
        text = error.message if error.fault_code != 1 else _fault_data(error)["debug"]
        body = xmlrpc.client.dumps(xmlrpc.client.Fault(error.fault_code, text),
                                   methodresponse=True)
    return web.Response(text=body, content_type="text/xml")


async def _dispatch(sb: OdooSandbox, record: RequestRecord, service: Any, method: Any,
                    args: list[Any]) -> Any:
    if service == "common":
        if method == "version":
            return VERSION
        if method in ("login", "authenticate"):
            if len(args) < 3:
                raise ServerError(f"{method}() missing arguments (db, login, password)")
            return sb.authenticate(*args[:3])
        raise ServerError(f"No such RPC method: common.{method}")
    if service == "object":
        if method not in ("execute_kw", "execute"):
            raise ServerError(f"No such RPC method: object.{method}")
        if len(args) < 5:
            raise ServerError(f"{method}() missing arguments")
        db, uid, key, model, model_method = args[:5]
        user = sb.user_for(db, uid, key)
        if method == "execute_kw":
            call_args = args[5] if len(args) > 5 else []
            kwargs = args[6] if len(args) > 6 else {}
        else:
            call_args, kwargs = args[5:], {}
        if not isinstance(call_args, list) or not isinstance(kwargs, dict):
            raise ServerError("execute_kw expects a list of args and a dict of kwargs")
        return await sb.execute(record, user, model, model_method, call_args, kwargs)
    raise ServerError(f"No such RPC service: {service}")


_JSON2_POSITIONAL = {  # JSON-2 passes positional parameters by name
    "search": ("domain",), "search_read": ("domain",), "search_count": ("domain",),
    "create": ("vals_list",), "write": ("vals",), "name_search": ("name",),
}


async def _json2(request: web.Request, sb: OdooSandbox, record: RequestRecord) -> web.Response:
    model, method = request.match_info["model"], request.match_info["method"]
    record.call = f"{model}.{method}"
    try:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise AccessDenied("Invalid apikey")
        db = request.headers.get("X-Odoo-Database", sb.db)
        sb._check_db(db)
        user = sb.user_for_key(key.strip())
        try:
            body = await request.json() if request.can_read_body else {}
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or too deep
            raise ServerError(f"Invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise ServerError("the body must be a JSON object")
        ids = body.pop("ids", None)
        context = body.pop("context", None)
        args: list[Any] = []
        if ids is not None:
            args.append(ids)
        for name in _JSON2_POSITIONAL.get(method, ()):
            if name in body:
                args.append(body.pop(name))
        if context:
            body["context"] = context
        result = await sb.execute(record, user, model, method, args, body)
    except OdooError as error:
        record.outcome, record.fault = "fault", error.name
        return web.json_response(_fault_data(error), status=error.http_status)
    return web.json_response(result)


@web.middleware
async def _pipeline(request: web.Request, handler: Any) -> web.StreamResponse:
    sb: OdooSandbox = request.app[STATE]  # type: ignore[assignment]
    protocol = ("jsonrpc" if request.path == "/jsonrpc" else
                "json2" if request.path.startswith("/json/2/") else "xmlrpc")
    record = RequestRecord(asyncio.get_running_loop().time(), protocol, request.path)
    sb.requests.append(record)
    request[RECORD] = record
    if sb.faults.latency_ms:
        await hold(sb._stopping, sb.faults.latency_ms / 1000)
    refused = proxy_fault(sb.faults, record,
                          "<html><body><h1>503 Service Unavailable</h1></body></html>")
    if refused is not None:
        return refused
    try:
        response = await handler(request)
    except Dropped:
        record.outcome = "dropped"
        drop_connection(request)
        return web.Response(status=500)
    record.status = response.status
    return response


def build_app(sb: OdooSandbox) -> web.Application:
    app = web.Application(middlewares=[_pipeline])
    app[STATE] = sb

    def route(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await fn(request, sb, request[RECORD])
        return handle

    app.router.add_post("/jsonrpc", route(_jsonrpc))
    app.router.add_post("/xmlrpc/2/{service:common|object}", route(_xmlrpc))
    app.router.add_post("/json/2/{model}/{method}", route(_json2))
    return app


async def start_odoo_sandbox(*, port: int = 0, db_path: str = ":memory:",
                             faults: Faults | None = None, seed: bool = True,
                             users: dict[str, tuple[int, str]] | None = None) -> OdooSandbox:
    """Start the sandbox on 127.0.0.1:``port`` (0 = a free port)."""
    orm = await Orm.open(db_path)
    install(orm)
    install_products(orm)
    install_partners(orm)
    if seed:
        await seed_data(orm)
    sb = OdooSandbox(url="", port=0, orm=orm, faults=faults or Faults(),
                     users=users or {"admin": (2, "sandbox-key"), "reader": (6, "reader-key")})
    runner, sb.port = await listen(build_app(sb), port)
    sb.url = f"http://{HOST}:{sb.port}"
    sb._runner = runner
    logger.info("odoo sandbox listening on %s (db %s)", sb.url, sb.db)
    return sb


def serve(port: int = 8069, **options: Any) -> None:
    """Run the sandbox until SIGINT/SIGTERM (``holded-sync sandbox odoo``)."""

    async def main() -> None:
        from app.devrun.sandboxes import worker_env

        server = await start_odoo_sandbox(port=port, **options)
        await run_until_signal(
            f"Odoo sandbox at {server.url}  (db {server.db}, admin key sandbox-key)\n"
            f"  a worker uses it with {worker_env('odoo', server)}",
            server.stop)

    asyncio.run(main())
