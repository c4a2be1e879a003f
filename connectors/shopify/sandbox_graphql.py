"""The sandbox's GraphQL endpoint: one hand-written resolver per operation, and the cost bucket.

Strict where it matters to the client: the operation must be one the connector sends, named
in ``operationName`` and declared in the document (``query Orders(`` ...); variables are
type-checked (``first`` 1..250, ``ids`` GIDs...); unknown operations and bad variables are
GraphQL ``errors`` with HTTP 200, as Shopify answers them. Every answer carries
``extensions.cost``; a query priced above what the bucket holds is refused with ``THROTTLED``
and nothing runs. Resolvers return whole records (no field selection): the documents the
client sends select every stored field.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.shopify.queries import DOCUMENTS, MUTATIONS, NODE_COST, requested_cost
from connectors.shopify.sandbox_inventory import DEFAULT_SCOPES, Inventory
from connectors.shopify.sandbox_store import SandboxStore

__all__ = ["CostBucket", "GraphQLError", "Resolvers", "SHOP", "TAX_ID_METAFIELD"]

# A Spanish shop: prices are shown, and stored, with VAT included (Settings -> Taxes).
SHOP: dict[str, Any] = {"name": "Tienda Demo Holded", "currencyCode": "EUR",
                        "taxesIncluded": True}

TAX_ID_METAFIELD = ("holded_sync", "tax_id")
_FILTER = re.compile(r"updated_at:(>=|<=|>|<)'([^']+)'")
_GID = re.compile(r"gid://shopify/(\w+)/([0-9]{1,19})")
_LISTINGS = {"Customers": ("customers", "Customer"), "Orders": ("orders", "Order"),
             "Products": ("products", "Product")}


def _gid(value: Any) -> re.Match[str] | None:
    """A global id Shopify takes: a type and a positive 64-bit id. A larger id is as invalid
    as a word (it once reached SQLite and crashed the request: a 500 the client retried), and
    so is one with a trailing newline (``$`` once let it through to read and write)."""
    match = _GID.fullmatch(value) if isinstance(value, str) else None
    return match if match and 0 < int(match.group(2)) < 1 << 63 else None


def _nullable_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _metafield_input(value: Any) -> bool:
    """A MetafieldInput: an object of these String / ID fields."""
    return (isinstance(value, dict) and set(value) <= {"id", "namespace", "key", "value", "type"}
            and all(_nullable_str(v) for v in value.values()))


class GraphQLError(Exception):
    def __init__(self, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message, self.code = message, code

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}


@dataclass
class CostBucket:
    """Shopify's leaky point bucket: ``maximum`` points, refilled at ``restore_rate`` per s."""

    maximum: float = 1000.0
    restore_rate: float = 100.0
    clock: Callable[[], float] = field(default=lambda: 0.0)
    _available: float = -1.0
    _at: float = 0.0

    def __post_init__(self) -> None:
        self._available, self._at = self.maximum, self.clock()

    def available(self) -> float:
        now = self.clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now
        return self._available

    def drain(self, points: float) -> None:
        """Empty (part of) the bucket, as other apps on the same shop would."""
        self._available = max(0.0, self.available() - points)

    def charge(self, points: float) -> None:
        self._available = self.available() - points

    def refund(self, points: float) -> None:
        self._available = min(self.maximum, self.available() + points)

    def status(self) -> dict[str, float]:
        return {"maximumAvailable": self.maximum, "currentlyAvailable": round(self.available(), 1),
                "restoreRate": self.restore_rate}


def _parse_ts(text: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _matches(record: dict[str, Any], query: str | None) -> bool:
    if not query:
        return True
    rest = _FILTER.sub("", query).replace("AND", "").strip()
    if rest:
        raise GraphQLError(f"the sandbox only understands updated_at filters, got {rest!r}")
    updated = _parse_ts(record["updatedAt"])
    for op, text in _FILTER.findall(query):
        try:
            bound = _parse_ts(text)
        except ValueError:
            raise GraphQLError(f"invalid date in query: {text!r}") from None
        if not {">": updated > bound, ">=": updated >= bound, "<": updated < bound,
                "<=": updated <= bound}[op]:
            return False
    return True


def _cursor(record: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps([record["updatedAt"], record["id"]]).encode()).decode()


def _after(cursor: str) -> tuple[str, int]:
    try:
        stamp, gid = json.loads(base64.b64decode(cursor, validate=True))
        return str(stamp), int(str(gid).rsplit("/", 1)[1])
    except (ValueError, TypeError, IndexError, RecursionError):  # [[[[...: once a 500
        raise GraphQLError("Invalid cursor for current pagination sort.") from None


class Resolvers:
    """The operations of ``queries.DOCUMENTS``, against a :class:`SandboxStore`."""

    def __init__(self, store: SandboxStore, *, ignore_cursor: Callable[[], bool] = lambda: False,
                 on_change: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
                 shop: dict[str, Any] | None = None, scopes: set[str] | None = None) -> None:
        self.store = store
        # The access token's scopes (live): tests take one away to see ACCESS_DENIED.
        self.scopes: set[str] = set(DEFAULT_SCOPES if scopes is None else scopes)
        self.inventory = Inventory(store, self.scopes, GraphQLError)
        # The shop's settings (``Shop``), live: tests change them between queries. Every field
        # is always present, as the API's non-null ``taxesIncluded: Boolean!`` is.
        self.shop: dict[str, Any] = dict(SHOP if shop is None else shop)
        self._ignore_cursor = ignore_cursor
        self._on_change = on_change

    async def run(self, operation: str, document: str, variables: dict[str, Any]
                  ) -> tuple[dict[str, Any], int]:
        """(data, actual cost) of one operation; raises GraphQLError."""
        if operation not in DOCUMENTS:
            raise GraphQLError(f"unknown operation {operation!r}")
        keyword = "mutation" if operation in MUTATIONS else "query"
        if not re.search(rf"\b{keyword}\s+{operation}\b", document):
            raise GraphQLError(f"operationName {operation!r} is not defined in the document")
        if operation == "Shop":
            return {"shop": dict(self.shop)}, 1
        if operation in _LISTINGS:
            return await self._listing(operation, variables)
        if operation == "Nodes":
            return await self._nodes(variables)
        if operation == "VariantsBySku":
            return await self.inventory.variants_by_sku(variables)
        if operation == "Locations":
            return await self.inventory.locations(variables)
        if operation == "InventorySetQuantities":
            return await self.inventory.set_quantities(variables), 10
        if operation == "CustomerUpdate":
            return await self._customer_update(variables), 10
        if operation == "MetafieldsDelete":
            return await self._metafields_delete(variables), 10
        return await self._tags_add(variables), 10

    async def _listing(self, operation: str, variables: dict[str, Any]
                       ) -> tuple[dict[str, Any], int]:
        first = variables.get("first")
        if not isinstance(first, int) or isinstance(first, bool) or not 1 <= first <= 250:
            raise GraphQLError("Variable $first of type Int! must be between 1 and 250",
                               "INVALID_VARIABLE")
        after, query = variables.get("after"), variables.get("query")
        if after is not None and not isinstance(after, str):
            raise GraphQLError("Variable $after of type String must be a string",
                               "INVALID_VARIABLE")
        if query is not None and not isinstance(query, str):  # it reached re.sub: a 500
            raise GraphQLError("Variable $query of type String must be a string",
                               "INVALID_VARIABLE")
        field_name, kind = _LISTINGS[operation]
        records = [r for r in await self.store.list(kind) if _matches(r, query)]
        if after and not self._ignore_cursor():
            stamp, num = _after(after)
            records = [r for r in records
                       if (r["updatedAt"], int(r["id"].rsplit("/", 1)[1])) > (stamp, num)]
        page = records[:first]
        info = {"hasNextPage": len(records) > first,
                "endCursor": _cursor(page[-1]) if page else None}
        return ({field_name: {"nodes": page, "pageInfo": info}},
                2 + len(page) * NODE_COST[operation])

    async def _nodes(self, variables: dict[str, Any]) -> tuple[dict[str, Any], int]:
        ids = variables.get("ids")
        if not isinstance(ids, list) or len(ids) > 250:
            raise GraphQLError("Variable $ids of type [ID!]! must be a list of at most 250",
                               "INVALID_VARIABLE")
        nodes: list[dict[str, Any] | None] = []
        for value in ids:
            match = _gid(value)
            if match is None:
                raise GraphQLError(f"Invalid global id '{value}'", "INVALID_VARIABLE")
            record = await self.store.get(match.group(1), match.group(2))
            nodes.append({"__typename": match.group(1), **record} if record else None)
        return {"nodes": nodes}, 1 + 8 * sum(1 for n in nodes if n)

    async def _customer_update(self, variables: dict[str, Any]) -> dict[str, Any]:
        data = variables.get("input")
        if not isinstance(data, dict) or not _gid(data.get("id", "")):
            raise GraphQLError("Variable $input of type CustomerInput! needs an id",
                               "INVALID_VARIABLE")
        allowed = {"id", "firstName", "lastName", "email", "phone", "note", "tags", "metafields"}
        unknown = set(data) - allowed
        if unknown:
            raise GraphQLError(f"CustomerInput has no field(s) {sorted(unknown)}",
                               "INVALID_VARIABLE")
        # Coerced as GraphQL does (null is taken): a number as firstName crashed joining the
        # displayName, metafields [1] reading them, tags [1] the next tagsAdd (a 500 each).
        tags, metafields = data.get("tags"), data.get("metafields")
        if (not all(_nullable_str(data.get(n)) for n in ("firstName", "lastName", "email",
                                                         "phone", "note"))
                or not (tags is None or isinstance(tags, list)
                        and all(isinstance(t, str) for t in tags))
                or not (metafields is None or isinstance(metafields, list)
                        and all(_metafield_input(m) for m in metafields))):
            raise GraphQLError("Variable $input of type CustomerInput! was provided invalid "
                               "value (String fields, tags: [String!], metafields: "
                               "[MetafieldInput!])", "INVALID_VARIABLE")
        async with self.store.lock:  # read-modify-write: one at a time
            record = await self.store.get("Customer", data["id"])
            if record is None:
                return {"customerUpdate": {"customer": None, "userErrors": [
                    {"field": ["id"], "message": "Customer does not exist"}]}}
            errors = []
            if data.get("email") and "@" not in str(data["email"]):
                errors.append({"field": ["email"], "message": "Email is invalid"})
            if data.get("phone") and not re.fullmatch(r"\+?[0-9 ]{6,20}", str(data["phone"])):
                errors.append({"field": ["phone"], "message": "Phone is invalid"})
            # A metafield holds no blank value (MetafieldsSetUserErrorCode BLANK; the message
            # is UNVERIFIED): clearing one is metafieldsDelete. This one was once taken.
            errors += [{"field": ["metafields", str(n), "value"], "message": "Value can't be blank"}
                       for n, m in enumerate(data.get("metafields") or [])
                       if not (m.get("value") or "").strip()]
            if errors:
                return {"customerUpdate": {"customer": None, "userErrors": errors}}
            for name in ("firstName", "lastName", "email", "phone", "note"):
                if name in data:
                    record[name] = data[name]
            if "tags" in data:  # Customer.tags is [String!]!: null reads as no tags
                record["tags"] = data["tags"] or []
            record["displayName"] = " ".join(p for p in (record.get("firstName"),
                                                         record.get("lastName")) if p)
            for metafield in data.get("metafields") or []:
                if (metafield.get("namespace"), metafield.get("key")) == TAX_ID_METAFIELD:
                    record["metafield"] = {"value": metafield["value"]}
            record = await self.store.put("Customer", record)
        if self._on_change:
            await self._on_change("customers/update", record)
        return {"customerUpdate": {"customer": {"id": record["id"],
                                                "updatedAt": record["updatedAt"]},
                                   "userErrors": []}}

    async def _metafields_delete(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``metafieldsDelete``: each identifier back when its metafield was deleted, null when
        there was none (as documented). Only customers' ``holded_sync.tax_id`` is kept here.
        Whether a delete moves the customer's ``updatedAt`` is UNVERIFIED: it does not here."""
        ids = variables.get("metafields")
        if (not isinstance(ids, list) or not ids or not all(
                isinstance(i, dict) and set(i) == {"ownerId", "namespace", "key"}
                and all(isinstance(v, str) for v in i.values()) for i in ids)):
            raise GraphQLError("Variable $metafields of type [MetafieldIdentifierInput!]! was "
                               "provided invalid value (at least one {ownerId, namespace, key})",
                               "INVALID_VARIABLE")
        deleted: list[dict[str, str] | None] = []
        async with self.store.lock:  # read-modify-write: one at a time
            for identifier in ids:
                match = _gid(identifier["ownerId"])
                if match is None:
                    raise GraphQLError(f"Invalid global id '{identifier['ownerId']}'",
                                       "INVALID_VARIABLE")
                record = await self.store.get(match.group(1), match.group(2))
                if (record is None or match.group(1) != "Customer" or not record.get("metafield")
                        or (identifier["namespace"], identifier["key"]) != TAX_ID_METAFIELD):
                    deleted.append(None)
                    continue
                record["metafield"] = None
                await self.store.put("Customer", record, touch=False)
                deleted.append(dict(identifier))
        return {"metafieldsDelete": {"deletedMetafields": deleted, "userErrors": []}}

    async def _tags_add(self, variables: dict[str, Any]) -> dict[str, Any]:
        match = _gid(variables.get("id", ""))
        tags = variables.get("tags")
        if match is None or not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise GraphQLError("tagsAdd needs $id: ID! and $tags: [String!]!", "INVALID_VARIABLE")
        async with self.store.lock:  # read-modify-write: one at a time
            record = await self.store.get(match.group(1), match.group(2))
            if record is None:
                return {"tagsAdd": {"node": None, "userErrors": [
                    {"field": ["id"], "message": "Resource does not exist"}]}}
            if any(len(t) > 40 for t in tags):
                return {"tagsAdd": {"node": None, "userErrors": [
                    {"field": ["tags"], "message": "Tag is too long (maximum is 40 characters)"}]}}
            record["tags"] = sorted({*record.get("tags", []), *tags})
            record = await self.store.put(match.group(1), record)
        if self._on_change:
            topic = {"Order": "orders/updated", "Customer": "customers/update",
                     "Product": "products/update"}.get(match.group(1))
            if topic:
                await self._on_change(topic, record)
        return {"tagsAdd": {"node": {"id": record["id"]}, "userErrors": []}}


def price(operation: str, variables: dict[str, Any]) -> int:
    """The requested cost. Ill-typed ``first`` / ``ids`` cost 1: the resolver refuses them
    (INVALID_VARIABLE) before anything runs. Pricing them read int() / len() of them (a 500),
    and a huge negative ``first`` priced below zero drained the bucket for good."""
    first, ids = variables.get("first"), variables.get("ids")
    if first is not None and (not isinstance(first, int) or isinstance(first, bool)
                              or first < 0):
        return 1
    if ids is not None and not isinstance(ids, list):
        return 1
    return max(1, requested_cost(operation, variables))
