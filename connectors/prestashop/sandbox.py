"""A strict PrestaShop webservice sandbox (``/api/<resource>[/<id>]``) over one SQLite store.

Start it in a test::

    server = await start_prestashop_sandbox(port=0)
    # GET {server.url}/api/customers?output_format=JSON&display=full&limit=0,50
    #     Authorization: Basic base64("<key>:")
    server.faults.lose_next_writes = 1       # the next POST/PUT commits, its answer is lost
    await server.stop()

Keys (``server.keys``): ``KEY`` (all resources, GET/POST/PUT/HEAD), ``READ_KEY`` (GET only) and
``NARROW_KEY`` (customers and addresses only). What it enforces, like PrestaShop 8:

- Basic auth with the key as user and an empty password; a missing, unknown or revoked key is a
  401 with ``WWW-Authenticate`` and an XML error (code 17 / 18); a resource or method the key
  is not allowed is a 401 "Resource of type ... is not allowed" (code 22);
- ``output_format=JSON`` (else XML); ``display=full`` or ``display=[f1,f2]`` (no display: ids
  only); ``limit=N`` or ``limit=<offset>,<N>``; ``filter[field]=[a|b]``, ``[a,b]`` (interval),
  ``[a]``, ``%[a]%``; ``sort=[field_ASC,other_DESC]``; ``filter[date_*]`` and a sort on a date
  field are 400 unless ``date=1``; an unknown field is a 400;
- ``?schema=blank``; a list with no match is ``[]`` in JSON;
- POST / PUT bodies in PrestaShop's XML (``<prestashop><address>...``); PUT replaces the whole
  record and needs the ``id`` in the body;
- ``stock_availables``: no POST, PUT validated as ``StockAvailable`` is, refused when the
  quantity depends on physical stock, a combination's change resets its product's total
  (``sandbox_stock.py``).
- ``combinations``: read only here (the seed makes them: a shirt in three sizes, each with its
  reference and its own ``stock_availables`` record), filtered like any list.

Errors are PrestaShop's shapes: ``{"errors":[{"code","message"}]}`` (JSON) or
``<prestashop><errors><error><code/><message/>`` (XML). Error codes other than 17/18 are this
sandbox's own (UNVERIFIED against PrestaShop's). Binds 127.0.0.1 only.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from aiohttp import web

from connectors.base.sandbox_serving import (
    HOST, Dropped, drop_connection, hold, listen, proxy_fault, run_until_signal,
)
from connectors.prestashop.sandbox_faults import Faults, RequestRecord
from connectors.prestashop.sandbox_query import ApiError, Query, php_int, select
from connectors.prestashop.sandbox_schema import (
    CLASSES, MULTILANG, REQUIRED, RESOURCES, WRITABLE, blank, singular,
)
from connectors.prestashop.sandbox_seed import seed as seed_data
from connectors.prestashop.sandbox_stock import FORBIDDEN, after_put, check_put
from connectors.prestashop.sandbox_store import SandboxStore

__all__ = ["KEY", "NARROW_KEY", "READ_KEY", "Faults", "PrestaShopSandbox", "RequestRecord",
           "serve", "start_prestashop_sandbox"]

logger = logging.getLogger(__name__)

KEY = "SANDBOXKEY0123456789ABCDEFGHIJKLM"
READ_KEY = "READONLYKEY0123456789ABCDEFGHIJK"
NARROW_KEY = "NARROWKEY0123456789ABCDEFGHIJKLM"
ALL = frozenset({"GET", "POST", "PUT", "HEAD"})
STATE = web.AppKey("prestashop_sandbox", object)
_DNI_LITE = re.compile(r"^[0-9A-Za-z-.]{1,16}$")  # Validate::isDniLite (PHP's $ as Python's)
REALM = ('Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key '
         'as the login. No password required."')


def default_keys() -> dict[str, dict[str, frozenset[str]]]:
    everything = {r: ALL for r in RESOURCES}
    return {KEY: everything, READ_KEY: {r: frozenset({"GET", "HEAD"}) for r in RESOURCES},
            NARROW_KEY: {"customers": ALL, "addresses": ALL}}


@dataclass
class PrestaShopSandbox:
    url: str
    port: int
    store: SandboxStore
    faults: Faults
    keys: dict[str, dict[str, frozenset[str]]]
    requests: list[RequestRecord] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.store.close()

    def authorize(self, header: str, resource: str, method: str) -> None:
        scheme, _, token = header.partition(" ")
        key = ""
        if scheme.lower() == "basic" and token:
            try:
                key = base64.b64decode(token.strip()).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            raise ApiError(401, 17, "Authentication key is empty")
        allowed = self.keys.get(key)
        if allowed is None or key in self.faults.revoked:
            raise ApiError(401, 18, "Invalid authentication key")
        if resource not in RESOURCES:
            raise ApiError(400, 23, f'Resource of type "{resource}" does not exist')
        if method not in allowed.get(resource, frozenset()):
            raise ApiError(401, 22, f'Resource of type "{resource}" is not allowed with this '
                           f"authentication key ({method})")


# ---- rendering ---------------------------------------------------------------------------
def _render(body: Any, as_json: bool, status: int = 200) -> web.Response:
    if as_json:
        return web.json_response(body, status=status)
    return web.Response(body=_xml(body), status=status, content_type="text/xml",
                        charset="utf-8")


def _xml(body: Any) -> bytes:
    root = ElementTree.Element("prestashop")

    def put(parent: ElementTree.Element, name: str, value: Any) -> None:
        node = ElementTree.SubElement(parent, name)
        if isinstance(value, dict):
            for k, v in value.items():
                put(node, k, v)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and set(item) == {"id", "value"}:
                    ElementTree.SubElement(node, "language", id=str(item["id"])).text = str(
                        item["value"])
                else:
                    put(node, singular(name), item)
        else:
            node.text = "" if value is None else str(value)

    if isinstance(body, dict):
        for name, value in body.items():
            put(root, name, value)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _error(error: ApiError, as_json: bool) -> web.Response:
    body = {"errors": [{"code": error.code, "message": error.message}]}
    response = _render(body, as_json, error.status)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


def _parse_body(resource: str, raw: bytes) -> dict[str, Any]:
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, LookupError, ValueError) as exc:
        # LookupError / ValueError (UnicodeError too): a declared encoding expat cannot read
        # (encoding='bogus', 'rot13', 'utf-32'), once a 500.
        raise ApiError(400, 127, f"XML error : {exc}") from None
    node = root.find(singular(resource))
    if root.tag != "prestashop" or node is None:
        raise ApiError(400, 39, f"Invalid XML: expected <prestashop><{singular(resource)}>")
    values: dict[str, Any] = {}
    for child in node:
        if child.tag not in RESOURCES[resource]:
            raise ApiError(400, 41, f'parameter "{child.tag}" not found for {resource}')
        if (resource, child.tag) in MULTILANG:
            values[child.tag] = [{"id": str(lang.get("id")), "value": lang.text or ""}
                                 for lang in child.findall("language")]
        else:
            # As is: PrestaShop sets each field from the XML text untrimmed ("(string)
            # $attributes->$fieldName"), so " 7" fails its isInt as "007" does.
            values[child.tag] = child.text or ""
    return values


# ---- handlers ----------------------------------------------------------------------------
async def _handle(request: web.Request) -> web.Response:
    sb: PrestaShopSandbox = request.app[STATE]  # type: ignore[assignment]
    resource = request.match_info["resource"]
    record_id = request.match_info.get("id")
    as_json = (request.query.get("output_format", "").upper() == "JSON"
               or request.headers.get("Output-Format", "").upper() == "JSON")
    try:
        # PrestaShop checks the key before it reads the output format: auth errors are XML.
        try:
            sb.authorize(request.headers.get("Authorization", ""), resource, request.method)
        except ApiError as error:
            if error.status == 401:
                return _error(error, False)
            raise
        if request.method in ("POST", "PUT"):
            return await _write(request, sb, resource, record_id, as_json)
        if request.query.get("schema") == "blank":
            return _render({singular(resource): blank(resource)}, as_json)
        if record_id is not None:
            record = await sb.store.get(resource, _id(record_id))
            if record is None:
                raise ApiError(404, 87, f"Invalid ID: no {singular(resource)} {record_id}")
            return _render({singular(resource): record}, as_json)
        query = Query.parse(resource, request.query, ignore_offset=sb.faults.ignore_paging)
        rows = select(await sb.store.all(resource), query)
        if not rows and as_json:
            return web.json_response([])
        return _render({resource: rows}, as_json)
    except ApiError as error:
        return _error(error, as_json)


def _id(text: str) -> int:
    """The URL's id: ASCII digits ("²" or "١" are digits to str.isdigit, not to PrestaShop);
    a huge one is cast as PHP does, an id no record has (404)."""
    if not (text.isascii() and text.isdigit()):
        raise ApiError(400, 20, f"Invalid ID: {text}")
    return php_int(text)


async def _write(request: web.Request, sb: PrestaShopSandbox, resource: str,
                 record_id: str | None, as_json: bool) -> web.Response:
    if resource not in WRITABLE:
        raise ApiError(405, 27, f"Method {request.method} is not valid for {resource}")
    if request.method in FORBIDDEN.get(resource, ()):
        raise ApiError(405, 101, f"Method {request.method} is not allowed for the resource "
                                 f"{resource}")
    values = _parse_body(resource, await request.read())
    if request.method == "POST":
        if record_id is not None:
            raise ApiError(400, 45, "id is forbidden when adding a new resource")
        values.pop("id", None)
        check_fields(resource, values)
        record = await sb.store.insert(resource, values)
        status = 201
    else:
        if record_id is None:
            raise ApiError(400, 90, "id is required when modifying a resource")
        if str(values.get("id", "")).strip() != record_id:
            raise ApiError(400, 89, "id in the URL and in the body differ (or is missing)")
        if await sb.store.get(resource, _id(record_id)) is None:
            raise ApiError(404, 87, f"Invalid ID: no {singular(resource)} {record_id}")
        check_fields(resource, values)
        check_put(resource, values)
        record = await sb.store.replace(resource, _id(record_id), values)
        await after_put(sb.store, resource, record)
        status = 200
    if sb.faults.take("lose_next_writes"):
        raise Dropped()
    return _render({singular(resource): record}, as_json, status)


def check_fields(resource: str, values: dict[str, Any]) -> None:
    """Raise ApiError as PrestaShop refuses a POST / PUT body missing a required field, leaving
    one empty, or an address whose ``dni`` fails isDniLite (these were all stored)."""
    for name in REQUIRED.get(resource, ()):
        if name not in values:
            raise ApiError(400, 41, f'parameter "{name}" required')
    for name in REQUIRED.get(resource, ()):
        if values[name] == "":  # ObjectModel: empty($v) && $v !== '0'
            raise ApiError(400, 85, f'Validation error: "Property {CLASSES[resource]}->{name} '
                                    'is empty."')
    dni = values.get("dni") if resource == "addresses" else None
    if dni and not _DNI_LITE.match(dni):
        raise ApiError(400, 85, 'Validation error: "Property Address->dni is not valid"')


@web.middleware
async def _pipeline(request: web.Request, handler: Any) -> web.StreamResponse:
    sb: PrestaShopSandbox = request.app[STATE]  # type: ignore[assignment]
    record = RequestRecord(asyncio.get_running_loop().time(), request.method, request.path,
                           request.query_string)
    sb.requests.append(record)
    if sb.faults.latency_ms:
        await hold(sb._stopping, sb.faults.latency_ms / 1000)
    refused = proxy_fault(sb.faults, record,
                          "<html><body><h1>Service Unavailable</h1></body></html>")
    if refused is not None:
        return refused
    try:
        response = await handler(request)
    except Dropped:
        record.outcome = "dropped"
        drop_connection(request)
        return web.Response(status=500)
    record.status = response.status
    record.outcome = "response" if response.status < 400 else "error"
    return response


def build_app(sb: PrestaShopSandbox) -> web.Application:
    app = web.Application(middlewares=[_pipeline])
    app[STATE] = sb
    for method in ("GET", "POST", "PUT"):  # aiohttp answers HEAD for every GET route
        app.router.add_route(method, "/api/{resource}", _handle)
        app.router.add_route(method, "/api/{resource}/{id}", _handle)
    return app


async def start_prestashop_sandbox(*, port: int = 0, db_path: str = ":memory:",
                                   faults: Faults | None = None, seed: bool = True,
                                   timezone: str = "Europe/Madrid",
                                   keys: dict[str, dict[str, frozenset[str]]] | None = None
                                   ) -> PrestaShopSandbox:
    """Start the sandbox on 127.0.0.1:``port`` (0 = a free port)."""
    store = await SandboxStore.open(db_path, timezone=timezone)
    if seed and not await store.all("countries"):
        await seed_data(store)
    sb = PrestaShopSandbox(url="", port=0, store=store, faults=faults or Faults(),
                           keys=keys or default_keys())
    runner, sb.port = await listen(build_app(sb), port)
    sb.url = f"http://{HOST}:{sb.port}"
    sb._runner = runner
    logger.info("prestashop sandbox listening on %s", sb.url)
    return sb


def serve(port: int = 8080, **options: Any) -> None:
    """Run the sandbox until SIGINT/SIGTERM (``holded-sync sandbox prestashop``)."""

    async def main() -> None:
        from app.devrun.sandboxes import worker_env

        server = await start_prestashop_sandbox(port=port, **options)
        await run_until_signal(
            f"PrestaShop sandbox at {server.url}/api  (key {KEY})\n"
            f"  a worker uses it with {worker_env('prestashop', server)}",
            server.stop)

    asyncio.run(main())
