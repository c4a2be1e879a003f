"""Async client for the Holded API, v1 (``key`` header) or v2 (Bearer) behind one interface.

Resources are small objects with regular methods: ``list`` (an async iterator driven
by a paginator), ``get``, ``create``, ``update``, ``update_verified``, ``delete``, plus
verbs of their own (``documents("invoice").pay``, ``products.adjust_stock``...). Every call
goes through one :class:`ApiTransport` (limiter -> send -> classify -> retry); Holded's
quirks come back as errors from :mod:`connectors.holded.errors`, never as success.

The v2 routes below are provisional: taken from third-party clients, UNVERIFIED.
"""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import AsyncIterator, Callable, Collection as AbcCollection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from connectors.base.errors import ErrorContext
from connectors.base.http import ApiTransport
from connectors.base.jsonio import ExactJson, dumps_json
from connectors.base.limiter import Clock, Lane, RateLimit, SystemClock, TokenBucket
from connectors.base.retry import NoBlindRepeat, Retrier, RetryPolicy
from connectors.base.verify import diff_fields, missing_keys, zero_priced_lines
from connectors.holded import errors
from connectors.holded.errors import (
    UnexpectedContent,
    UnsupportedOperation,
    WriteNotApplied,
    ZeroPriceLine,
)
from connectors.holded.paginators import v1_pages, v2_cursor

__all__ = ["DOC_TYPES", "HoldedClient", "V1_RATE", "V2_RATE", "dumps_json", "stock_units"]

logger = logging.getLogger(__name__)

Version = Literal["v1", "v2"]
# v1 limits are undocumented; integrators space calls ~0.35 s apart. v2 windows unverified.
V1_RATE = RateLimit(rate=2.5, burst=5)
V2_RATE = RateLimit(rate=2.5, burst=5)

DOC_TYPES = ("invoice", "creditnote", "salesreceipt", "salesorder", "proform", "waybill",
             "estimate", "purchase", "purchaseorder", "purchaserefund")
_INV, _ACC, _CRM = "invoicing/v1", "accounting/v1", "crm/v1"
V1_ROUTES: Mapping[str, str] = {
    "contacts": f"{_INV}/contacts", "contact_groups": f"{_INV}/contactgroups",
    "products": f"{_INV}/products", "services": f"{_INV}/services",
    "warehouses": f"{_INV}/warehouses", "payments": f"{_INV}/payments",
    "treasury": f"{_INV}/treasury", "taxes": f"{_INV}/taxes",
    "numbering_series": f"{_INV}/numberingseries", "sales_channels": f"{_INV}/saleschannels",
    "expense_accounts": f"{_INV}/expensesaccounts", "payment_methods": f"{_INV}/paymentmethods",
    "remittances": f"{_INV}/remittances", "documents": f"{_INV}/documents",
    "chart_of_accounts": f"{_ACC}/chartofaccounts", "daily_ledger": f"{_ACC}/dailyledger",
    "entry": f"{_ACC}/entry", "funnels": f"{_CRM}/funnels", "leads": f"{_CRM}/leads",
}
V2_ROUTES: Mapping[str, str] = {
    "contacts": "v2/contacts", "contact_groups": "v2/contact-groups", "products": "v2/products",
    "services": "v2/services", "warehouses": "v2/warehouses", "payments": "v2/payments",
    "taxes": "v2/taxes", "sales_channels": "v2/sales-channels",
    "expense_accounts": "v2/expense-accounts", "payment_methods": "v2/payment-methods",
    "remittances": "v2/remittances", "price_lists": "v2/price-lists",
    "bank_accounts": "v2/bank-accounts", "usage": "v2/usage",
    "chart_of_accounts": "v2/accounting-accounts", "daily_ledger": "v2/ledger-entries",
    "funnels": "v2/funnels", "leads": "v2/opportunities",
}
V2_DOCUMENTS: Mapping[str, str] = {
    "invoice": "v2/invoices", "creditnote": "v2/credit-notes", "salesreceipt": "v2/receipts",
    "salesorder": "v2/sales-orders", "proform": "v2/proformas", "waybill": "v2/delivery-notes",
    "estimate": "v2/estimates", "purchase": "v2/purchases", "purchaseorder": "v2/purchase-orders",
}
_V2_FILTERS = {"starttmp": "start_date", "endtmp": "end_date", "contactid": "contact_id"}


@dataclass(frozen=True, slots=True)
class VerifySpec:
    """How a write reads back: renamed fields (write -> read) and fields not comparable."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()


class HoldedClient:
    """One Holded credential. ``http`` is injected; ``api_key`` is never logged."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: SecretStr | str,
        base_url: str = "https://api.holded.com/api",
        version: Version = "v1",
        limiter: TokenBucket | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if version not in ("v1", "v2"):
            raise ValueError(f"version must be 'v1' or 'v2', not {version!r}")
        secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not secret:
            raise ValueError("api_key is empty")
        self.version: Version = version
        self._base = base_url.rstrip("/")
        self._routes = V1_ROUTES if version == "v1" else V2_ROUTES
        auth = {"key": secret} if version == "v1" else {"Authorization": f"Bearer {secret}"}
        self._headers = {**auth, "Accept": "application/json"}
        clock = clock or SystemClock()
        self._table = errors.V1_TABLE if version == "v1" else errors.V2_TABLE
        self._secrets = (secret,)
        exact = ExactJson(http)  # Decimal amounts go out as their exact decimal text
        bucket = limiter or TokenBucket(V1_RATE if version == "v1" else V2_RATE, clock)
        transport_options: dict[str, Any] = dict(
            system=errors.SYSTEM, table=self._table, secrets=self._secrets, limiter=bucket,
            check=self._check,
            # A v1 key cannot be refreshed: one more try (a 401 blip), then FatalError.
            # A v2 token is refreshed by the caller, so AuthExpired propagates.
            refresh_auth=_nothing if version == "v1" else None,
        )
        self.transport = ApiTransport(exact, retrier=Retrier(retry, clock, rand),  # type: ignore[arg-type]
                                      **transport_options)
        # POST creates in Holded (no idempotency keys): one whose outcome is unknown is not
        # repeated blindly; the caller searches the target first (design.md section 4).
        self._post_transport = ApiTransport(exact, retrier=NoBlindRepeat(retry, clock, rand),  # type: ignore[arg-type]
                                            **transport_options)
        self.contacts = Contacts(self, "contacts", verify=VerifySpec(
            {"CustomId": "customId"}, frozenset({"defaults"})))  # defaults: other read shape
        self.contact_groups = Resource(self, "contact_groups", paged=False)
        self.products = Products(self, "products", verify=VerifySpec(
            {"subtotal": "price"}, frozenset({"tax", "stock"})))
        self.services = Resource(self, "services")
        self.warehouses = Warehouses(self, "warehouses", paged=False)
        self.payments = Resource(self, "payments")
        self.treasury = Resource(self, "treasury", paged=False)
        self.sales_channels = Resource(self, "sales_channels", paged=False)
        self.expense_accounts = Resource(self, "expense_accounts", paged=False)
        self.remittances = ReadOnly(self, "remittances", paged=False)
        self.funnels = ReadOnly(self, "funnels", paged=False)
        self.leads = ReadOnly(self, "leads")
        self.price_lists = Resource(self, "price_lists")
        self.bank_accounts = BankAccounts(self, "bank_accounts")

    # -- resources that are not plain collections ---------------------------------------
    def documents(self, doc_type: str) -> Documents:
        if doc_type not in DOC_TYPES:
            raise ValueError(f"unknown docType {doc_type!r}; one of {DOC_TYPES}")
        return Documents(self, doc_type)

    def numbering_series(self, doc_type: str) -> Resource:
        return Resource(self, "numbering_series", sub=(doc_type,), paged=False)

    async def taxes(self) -> dict[str, dict[str, Any]]:
        """Every tax keyed by ``key`` (standard taxes have an empty ``id``)."""
        taxes = [t async for t in self.iterate(self.url("taxes"), paged=False)]
        return {str(t["key"]): t for t in taxes}

    async def payment_methods(self) -> list[dict[str, Any]]:
        return [m async for m in self.iterate(self.url("payment_methods"), paged=False)]

    async def usage(self) -> dict[str, Any]:
        """v2 quota usage: ``{type, period, usage, limit, count}``."""
        return await self.call("GET", self.url("usage"))

    async def chart_of_accounts(self, **filters: Any) -> list[dict[str, Any]]:
        """Accounting chart (``starttmp``, ``endtmp``, ``includeEmpty``); not paginated."""
        return [a async for a in self.iterate(self.url("chart_of_accounts"), filters, paged=False)]

    def daily_ledger(self, *, lane: Lane = "bulk", **filters: Any) -> AsyncIterator[dict[str, Any]]:
        return self.iterate(self.url("daily_ledger"), filters, lane=lane)

    async def create_entry(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("POST", self.url("entry"), body=dict(entry))

    # -- plumbing -------------------------------------------------------------------------
    def url(self, resource: str, *parts: str) -> str:
        route = self._routes.get(resource)
        if route is None:
            raise UnsupportedOperation(f"{resource!r} is not available in Holded API {self.version}")
        return "/".join([self._base, route, *(_segment(p) for p in parts)])

    async def call(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                   body: Any = None, lane: Lane = "realtime", repeatable: bool | None = None
                   ) -> Any:
        """One logical request. A POST is retried only after a 429 (refused unprocessed);
        a 5xx, timeout or dropped connection on a POST raises at once, because the write
        may have committed: the caller must look for it before trying again. The same holds
        for any request sent with ``repeatable=False`` (a PUT that adds, not sets)."""
        if repeatable is None:
            repeatable = method.upper() != "POST"
        transport = self.transport if repeatable else self._post_transport
        return await transport.json(method, url, params=params, json_body=body,
                                    headers=self._headers, lane=lane)

    async def iterate(self, url: str, params: Mapping[str, Any] | None = None, *,
                      lane: Lane = "realtime", paged: bool = True) -> AsyncIterator[Any]:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if paged:
            paginator = v1_pages() if self.version == "v1" else v2_cursor()
            async for record in self.transport.paginate(url, paginator, params=params,
                                                        headers=self._headers, lane=lane):
                yield record
            return
        body = await self.call("GET", url, params=params, lane=lane)
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            body = body["items"]
        if not isinstance(body, list):
            raise UnexpectedContent(f"expected a list from {url}", context=self._context("GET", url))
        for record in body:
            yield record

    def _check(self, response: httpx.Response) -> None:
        # The PDF route answers JSON labelled text/html; only there is that tolerated.
        lenient = response.request.url.path.endswith("/pdf")
        errors.check_response(response, self._table, secrets=self._secrets,
                              lenient_content_type=lenient)

    def _context(self, method: str, url: str) -> ErrorContext:
        return ErrorContext.build(errors.SYSTEM, method, url, secrets=self._secrets)


class ReadOnly:
    """``list`` and ``get`` on one collection."""

    def __init__(self, client: HoldedClient, resource: str, *, sub: tuple[str, ...] = (),
                 paged: bool = True, verify: VerifySpec | None = None) -> None:
        self._client, self.resource, self.paged = client, resource, paged
        self._sub, self._verify = sub, verify or VerifySpec()

    def _url(self, *parts: str) -> str:
        return self._client.url(self.resource, *self._sub, *parts)

    def _filters(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        return dict(filters)

    def list(self, *, lane: Lane = "realtime", **filters: Any) -> AsyncIterator[dict[str, Any]]:
        return self._client.iterate(self._url(), self._filters(filters), lane=lane,
                                    paged=self.paged)

    async def get(self, record_id: str, *, lane: Lane = "realtime") -> dict[str, Any]:
        return await self._client.call("GET", self._url(record_id), lane=lane)


class Resource(ReadOnly):
    """CRUD on one collection, with a read-back check for updates."""

    def _to_write(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(body)

    async def create(self, body: Mapping[str, Any], *, lane: Lane = "realtime") -> dict[str, Any]:
        return await self._client.call("POST", self._url(), body=self._to_write(body), lane=lane)

    async def update(self, record_id: str, body: Mapping[str, Any], *,
                     lane: Lane = "realtime") -> dict[str, Any]:
        return await self._client.call("PUT", self._url(record_id), body=self._to_write(body),
                                       lane=lane)

    async def delete(self, record_id: str, *, lane: Lane = "realtime") -> dict[str, Any]:
        return await self._client.call("DELETE", self._url(record_id), lane=lane)

    async def update_verified(self, record_id: str, body: Mapping[str, Any], *,
                              ignore: AbcCollection[str] = (),
                              lane: Lane = "realtime") -> dict[str, Any]:
        """PUT, GET back, raise :class:`WriteNotApplied` naming the fields that differ."""
        await self.update(record_id, body, lane=lane)
        record = await self.get(record_id, lane=lane)
        differ = diff_fields(self._to_write(body), record, aliases=self._verify.aliases,
                             ignore={*self._verify.ignore, *ignore})
        if differ:
            raise WriteNotApplied(record_id, differ,
                                  context=self._client._context("PUT", self._url(record_id)))
        return record


class Contacts(Resource):
    def _to_write(self, body: Mapping[str, Any]) -> dict[str, Any]:
        body = dict(body)
        if self._client.version == "v1" and "customId" in body and "CustomId" not in body:
            body["CustomId"] = body.pop("customId")  # written CustomId, read back customId
        return body

    def _filters(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        filters = dict(filters)
        if filters.get("custom_ids") is not None:
            filters["customId[]"] = list(filters.pop("custom_ids"))
        filters.pop("custom_ids", None)
        return filters

    async def find_by_custom_id(self, custom_id: str, *,
                                lane: Lane = "realtime") -> dict[str, Any] | None:
        """The contact whose ``customId`` is exactly ``custom_id``, or None."""
        async for contact in self.list(custom_ids=[custom_id], lane=lane):
            if contact.get("customId") == custom_id:
                return contact
        return None


class Products(Resource):
    async def adjust_stock(self, product_id: str, warehouse_id: str, item_id: str, delta: int, *,
                           lane: Lane = "realtime") -> dict[str, Any]:
        """``PUT /products/{id}/stock`` ``{"stock": {warehouseId: {itemId: delta}}}``.

        Adds ``delta`` units to the item's level in the warehouse (``item_id``: the product,
        or one of its variants). Shape and meaning come from integrators' code, not from
        Holded's reference (docs/holded.md section 9): UNVERIFIED. An adjustment is not
        idempotent, so the transport never repeats it: an unknown outcome raises, and the
        caller reads the level again before deciding anything.
        """
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"a stock adjustment is a whole number of units, not {delta!r}")
        body = {"stock": {warehouse_id: {item_id: delta}}}
        return await self._client.call("PUT", self._url(product_id, "stock"), body=body,
                                       lane=lane, repeatable=False)

    async def skus(self, *, lane: Lane = "bulk") -> set[str]:
        """Every sku in the catalogue, variants included (a full product scan)."""
        skus: set[str] = set()
        async for product in self.list(lane=lane):
            for item in [product, *(product.get("variants") or [])]:
                if item.get("sku"):
                    skus.add(str(item["sku"]))
        return skus


class Warehouses(Resource):
    async def levels(self, warehouse_id: str, *, lane: Lane = "realtime") -> dict[str, Decimal]:
        """``GET /warehouses/{id}/stock``: item id (product or variant) -> units held there.

        The read shape ``{"warehouse": {"products": [{"product_id", "stock", "variants":
        {variantId: units}}]}}`` comes from one integrator's code (UNVERIFIED): any other
        shape raises :class:`UnexpectedContent` rather than being read as "no stock", since a
        level misread as 0 would be written over.
        """
        url = self._url(warehouse_id, "stock")
        body = await self._client.call("GET", url, lane=lane)
        warehouse = body.get("warehouse") if isinstance(body, dict) else None
        products = warehouse.get("products") if isinstance(warehouse, dict) else None
        if not isinstance(products, list):
            raise UnexpectedContent(f"no warehouse.products list in the stock of {url}: {body!r:.200}")
        levels: dict[str, Decimal] = {}
        for row in products:
            if not isinstance(row, dict) or not row.get("product_id"):
                raise UnexpectedContent(f"a stock row without product_id from {url}: {row!r:.200}")
            levels[str(row["product_id"])] = _units(row.get("stock"), url)
            for variant_id, units in (row.get("variants") or {}).items():
                levels[str(variant_id)] = _units(units, url)
        return levels


def stock_units(value: Any) -> Decimal | None:
    """A stock quantity as Holded reads it (a float through its shortest repr), exactly; None
    when it is not a number (bool, text, absent)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        return Decimal(repr(value) if isinstance(value, float) else str(value))
    except ArithmeticError:
        return None


def _units(value: Any, url: str) -> Decimal:
    units = stock_units(value)
    if units is None:
        raise UnexpectedContent(f"a stock level that is not a number from {url}: {value!r:.50}")
    return units


class BankAccounts(Resource):
    def movements(self, account_id: str, *, lane: Lane = "bulk",
                  **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """v2 bank movements of one account (route UNVERIFIED)."""
        return self._client.iterate(self._url(account_id, "movements"), filters, lane=lane)


class Documents(Resource):
    """One docType. Lines are sent as ``items`` and read back as ``products`` (v1)."""

    def __init__(self, client: HoldedClient, doc_type: str) -> None:
        super().__init__(client, "documents", sub=(doc_type,),
                         verify=VerifySpec(ignore=frozenset({"items", "products", "lines"})))
        self.doc_type = doc_type
        self.write_lines, self.read_lines = (
            ("items", "products") if client.version == "v1" else ("lines", "lines"))

    def _url(self, *parts: str) -> str:
        if self._client.version == "v1":
            return super()._url(*parts)
        route = V2_DOCUMENTS.get(self.doc_type)
        if route is None:
            raise UnsupportedOperation(f"{self.doc_type!r} documents are not mapped in Holded v2")
        return "/".join([self._client._base, route, *(_segment(p) for p in parts)])

    def _filters(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        if self._client.version == "v1":
            return dict(filters)
        return {_V2_FILTERS.get(k, k): _rfc3339(v) if k in ("starttmp", "endtmp") else v
                for k, v in filters.items()}

    def _to_write(self, body: Mapping[str, Any]) -> dict[str, Any]:
        body = dict(body)
        if self.write_lines == "items" and "products" in body and "items" not in body:
            body["items"] = body.pop("products")
        return body

    async def pay(self, document_id: str, *, date: int, amount: Decimal | int,
                  treasury: str | None = None, desc: str | None = None,
                  lane: Lane = "realtime") -> dict[str, Any]:
        """Register a (partial) payment; every call adds one. ``date`` is epoch seconds."""
        body = {"date": date, "amount": amount, "treasury": treasury, "desc": desc}
        return await self._client.call("POST", self._url(document_id, "pay"), lane=lane,
                                       body={k: v for k, v in body.items() if v is not None})

    async def send(self, document_id: str, *, emails: list[str], subject: str | None = None,
                   message: str | None = None, lane: Lane = "realtime") -> dict[str, Any]:
        body = {"emails": ",".join(emails), "subject": subject, "message": message}
        return await self._client.call("POST", self._url(document_id, "send"), lane=lane,
                                       body={k: v for k, v in body.items() if v is not None})

    async def pdf(self, document_id: str, *, lane: Lane = "realtime") -> bytes:
        body = await self._client.call("GET", self._url(document_id, "pdf"), lane=lane)
        data = base64.b64decode(body.get("data", "") if isinstance(body, dict) else "")
        start = data.find(b"%PDF")
        if start < 0:
            raise UnexpectedContent("the PDF endpoint returned no PDF",
                                    context=self._client._context("GET", self._url(document_id)))
        return data[start:]  # some answers carry HTTP headers ahead of %PDF

    async def create_checked(self, body: Mapping[str, Any], *,
                             known_skus: AbcCollection[str] | None = None,
                             lane: Lane = "realtime") -> dict[str, Any]:
        """Create after checking every sku exists; read back; raise on 0-priced lines."""
        body = self._to_write(body)
        lines = list(body.get(self.write_lines) or [])
        if any(line.get("sku") for line in lines):
            if known_skus is None:
                known_skus = await self._client.products.skus(lane=lane)
            if unknown := missing_keys(lines, "sku", known_skus):
                raise errors.UnknownSku(unknown, context=self._client._context("POST", self._url()))
        created = await self.create(body, lane=lane)
        document_id = created.get("id") if isinstance(created, dict) else None
        if not document_id:
            raise UnexpectedContent("create answered without an id",
                                    context=self._client._context("POST", self._url()))
        document = await self.get(str(document_id), lane=lane)
        problems = zero_priced_lines(lines, list(document.get(self.read_lines) or []))
        if problems:
            raise ZeroPriceLine(str(document_id), problems,
                                f"document {document_id} created with wrong lines: {problems}",
                                context=self._client._context("POST", self._url()))
        return document


async def _nothing() -> None:
    return None



def _segment(part: str) -> str:
    if not part or part in (".", ".."):
        raise ValueError(f"invalid path segment {part!r}")
    return quote(str(part), safe="")


def _rfc3339(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    return value
