"""Factories for Holded sink tests and the sink benchmark: commands as fastavro decodes them.

Fresh dicts on every call. Amounts are whole cents per line at 21 %, so every way of rounding
(per line or per tax key, on the exact or the rounded line amount) agrees, unless a test wants
otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import httpx

from app.core.hashing import content_hash
from app.core.vectors import command_id
from app.mapping import Mapping
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.holded.client import HoldedClient
from connectors.holded import sandbox as sandbox_module
from connectors.holded.sandbox import SandboxServer
from connectors.holded.sandbox_store import SandboxStore
from connectors.holded.sink import HoldedSink, MemoryLedger, SinkPolicy
from tests.mapping.factories import example_mapping

KEY = "sandbox-key"
Record = dict[str, Any]


def command(entity: str, key: str, payload: Record | None, *, version: int = 1,
            depends_on: Sequence[str] = (), lane: str = "realtime", target_id: str | None = None,
            links: dict[str, str] | None = None) -> Record:
    vector = {key.split("/")[1]: version}
    return {
        "command_id": command_id(key, "holded", vector), "entity_key": key, "entity": entity,
        "target_system": "holded", "op": "upsert", "vector": vector, "payload": payload,
        "content_hash": content_hash(payload), "target_id": target_id, "links": links or {},
        "depends_on": list(depends_on), "lane": lane, "mapping_version": None,
        "caused_by": f"event-{key}-{version}",
    }


def contact(n: int, name: str | None = None) -> Record:
    return {"kind": "customer", "name": name or f"Cliente {n} S.L.", "trade_name": None,
            "tax_id": f"B{n:08d}", "is_person": False, "email": f"c{n}@example.es", "phone": None,
            "mobile": None, "iban": None, "swift": None, "address": None, "tax_regime": None,
            "payment_method": None, "payment_due_days": None, "price_list": None,
            "currency": "EUR", "language": "es", "sales_account": None, "purchases_account": None,
            "default_taxes": ["iva_21"], "withholding": None, "tags": []}


def product(n: int, price: str = "10.00", taxes: Sequence[str] = ("iva_21",)) -> Record:
    return {"kind": "product", "sku": f"SKU-{n}", "name": f"Producto {n}", "description": None,
            "price": Decimal(price), "cost": None, "currency": "EUR", "sales_taxes": list(taxes),
            "purchase_taxes": [], "sales_account": None, "purchases_account": None,
            "barcode": None, "stock": [], "active": True}


def line(no: int, sku: str | None, quantity: str, unit_price: str, taxes: Sequence[str] = ("iva_21",),
         withholding: str | None = None, product_key: str | None = None) -> Record:
    return {"line_no": no, "sku": sku, "product_key": product_key, "description": f"Linea {no}",
            "quantity": Decimal(quantity), "unit_price": Decimal(unit_price),
            "discount_pct": Decimal(0), "taxes": list(taxes), "withholding": withholding,
            "account": None}


def invoice(customer_key: str, lines: list[Record], *, day: dt.date = dt.date(2026, 3, 2)) -> Record:
    """An invoice whose totals are computed here (VAT 21 %, IRPF 15 % when withheld)."""
    subtotal = sum((ln["quantity"] * ln["unit_price"] for ln in lines), Decimal(0))
    rates = {"iva_21": Decimal(21), "iva_10": Decimal(10), "iva_4": Decimal(4), "iva_0": Decimal(0)}
    tax = sum((round(ln["quantity"] * ln["unit_price"] * rates[t] / 100, 2)
               for ln in lines for t in ln["taxes"]), Decimal(0))
    withheld = sum((round(ln["quantity"] * ln["unit_price"] * Decimal(15) / 100, 2)
                    for ln in lines if ln["withholding"]), Decimal(0))
    return {"doc_type": "invoice", "number": None, "series": None, "issue_date": day,
            "due_date": None, "customer_key": customer_key, "customer_tax_id": None,
            "currency": "EUR", "exchange_rate": None, "tax_regime": None, "lines": lines,
            "totals": {"subtotal": subtotal, "tax_total": tax, "withholding_total": withheld,
                       "total": subtotal + tax - withheld},
            "payment_method": None, "corrects": None, "status": "issued",
            "payment_status": "unpaid", "amount_paid": Decimal("0.00"), "notes": None}


def payment(invoice_key: str, amount: str, *, day: dt.date = dt.date(2026, 3, 5),
            reference: str | None = "TPV-1") -> Record:
    return {"invoice_key": invoice_key, "contact_key": None, "date": day,
            "amount": Decimal(amount), "currency": "EUR", "method": None, "treasury": None,
            "reference": reference, "description": None}


def invoice_commands(n: int, *, contact_n: int, product_ns: Sequence[int], lane: str = "realtime",
                     day: dt.date = dt.date(2026, 3, 2), version: int = 1) -> Record:
    """The invoice command for invoice n: lines on the given products, depends on them."""
    lines = [line(i + 1, f"SKU-{p}", str(1 + (n + i) % 3), f"{10 + p % 7}.00",
                  product_key=f"product/odoo/{p}") for i, p in enumerate(product_ns)]
    customer = f"contact/odoo/{contact_n}"
    return command("invoice", f"invoice/odoo/INV-{n}", invoice(customer, lines, day=day),
                   depends_on=[customer, *(f"product/odoo/{p}" for p in product_ns)],
                   lane=lane, version=version)


def contact_command(n: int, **kwargs: Any) -> Record:
    return command("contact", f"contact/odoo/{n}", contact(n), **kwargs)


def product_command(n: int, **kwargs: Any) -> Record:
    return command("product", f"product/odoo/{n}", product(n, f"{10 + n % 7}.00"), **kwargs)


def make_client(server: SandboxServer, http: httpx.AsyncClient, *, rate: float = 10_000.0,
                burst: float = 10_000, attempts: int = 5) -> HoldedClient:
    return HoldedClient(http, api_key=KEY, base_url=server.url,
                        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05),
                        limiter=TokenBucket(RateLimit(rate=rate, burst=burst)))


def make_sink(client: HoldedClient, mapping: Mapping | Callable[[], Mapping] | None = None,
              ledger: MemoryLedger | None = None, *, settle_seconds: float = 0.05,
              **kwargs: Any) -> HoldedSink:
    fixed = mapping if isinstance(mapping, Mapping) else example_mapping()
    current = mapping if callable(mapping) else (lambda: fixed)
    policy = SinkPolicy(write_rounds=6, backoff=RetryPolicy(base_delay=0.01, max_delay=0.05),
                        settle_seconds=settle_seconds)
    return HoldedSink(client, current, ledger if ledger is not None else MemoryLedger(),
                      policy=policy, **kwargs)


async def holded_documents(server: SandboxServer) -> list[Record]:
    return await server.all("documents", docType="invoice")


class FastListStore(SandboxStore):
    """The sandbox store with its lists served from an in-memory copy (same results).

    ``SandboxStore.list_with_seq`` reads and decodes every row of a collection on every list:
    O(records) per request, so the sandbox's latency grows with its store, and a benchmark of
    thousands of documents measures the sandbox more than the client. Here each collection is
    read once, kept decoded in ``seq`` order, and kept in step by this store's own writes;
    a list filters that copy and hands out private copies of the matches, decoded from the
    stored JSON (several times cheaper than a deep copy of the decoded body).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # collection -> id -> (seq, decoded body, its JSON), in seq order; only collections
        # listed so far
        self._mirror: dict[str, dict[str, tuple[int, dict[str, Any], str]]] = {}

    def _copy_of(self, collection: str) -> dict[str, tuple[int, dict[str, Any], str]] | None:
        return self._mirror.get(collection)

    async def _load(self, collection: str, after_seq: int = 0) -> dict[str, tuple[int, dict[str, Any], str]]:
        mirror = self._mirror.setdefault(collection, {})
        async with self._db.execute(
            "SELECT seq, id, body FROM records WHERE collection = ? AND seq > ? ORDER BY seq",
            (collection, after_seq),
        ) as cursor:
            for seq, record_id, text in await cursor.fetchall():
                mirror[record_id] = (seq, json.loads(text), text)
        return mirror

    async def _caught_up(self, collection: str) -> None:
        copy = self._copy_of(collection)
        if copy:  # new rows only: seq grows with every insert, and the copy is in seq order
            await self._load(collection, next(reversed(copy.values()))[0])
        elif copy is not None:
            await self._load(collection)

    async def insert(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        out = await super().insert(collection, body)
        await self._caught_up(collection)
        return out

    async def insert_many(self, collection: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = await super().insert_many(collection, bodies)
        await self._caught_up(collection)
        return out

    async def put(self, collection: str, body: dict[str, Any]) -> None:
        await super().put(collection, body)
        copy = self._copy_of(collection)
        if copy is not None and body["id"] in copy:
            text = json.dumps(body)
            copy[body["id"]] = (copy[body["id"]][0], json.loads(text), text)

    async def delete(self, collection: str, record_id: str) -> bool:
        deleted = await super().delete(collection, record_id)
        copy = self._copy_of(collection)
        if copy is not None:
            copy.pop(record_id, None)
        return deleted

    async def list_with_seq(self, collection: str, where: Callable[[dict[str, Any]], bool] | None = None,
                            after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
        copy = self._copy_of(collection)
        if copy is None:
            copy = await self._load(collection)
        return [(seq, json.loads(text)) for seq, body, text in copy.values()
                if seq > after_seq and (where is None or where(body))]


@contextlib.contextmanager
def fast_sandbox_lists() -> Iterator[None]:
    """Start sandboxes with :class:`FastListStore` inside the block."""
    original = sandbox_module.SandboxStore
    sandbox_module.SandboxStore = FastListStore  # type: ignore[misc]
    try:
        yield
    finally:
        sandbox_module.SandboxStore = original  # type: ignore[misc]


class DropField(httpx.AsyncBaseTransport):
    """Holded dropping one field of a create (it drops fields it does not take and still
    answers 201): ``field`` leaves the body of every POST to a path ending in ``path``."""

    def __init__(self, path: str, field: str) -> None:
        self.path, self.field = path, field
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith(self.path):
            body = json.loads(request.content)
            body.pop(self.field, None)
            content = json.dumps(body).encode()
            request = httpx.Request(request.method, request.url, content=content,
                                    headers={**request.headers, "content-length": str(len(content))})
        return await self.inner.handle_async_request(request)
