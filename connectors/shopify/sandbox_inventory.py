"""The sandbox's inventory: locations, inventory items and their levels, and the two
operations the stock writer sends (``VariantsBySku``, ``InventorySetQuantities``).

``Locations`` lists every location (``includeInactive: true``), by id, with the
``read_locations`` scope (Shopify's reference names it for ``locations``; without it,
``ACCESS_DENIED``), in pages of ``first`` (1..250) after an opaque cursor.

Records (in the sandbox store): ``Location`` {id, name, isActive} and ``InventoryItem`` {id,
sku, variant, tracked, levels: {location GID: available units}}; a variant names its item in
``inventoryItem.id``. A variant with no item record reads as untracked with no levels.

``inventorySetQuantities`` is validated as Shopify documents it (Admin GraphQL 2025-01,
InventorySetQuantitiesInput and InventorySetQuantitiesUserErrorCode), all or nothing: a wrong
variable type is a GraphQL error; an unknown item or location, an item not stocked at the
location, a duplicated (item, location) pair, a missing ``compareQuantity`` without
``ignoreCompareQuantity``, a stale one, or an invalid name or reason is a ``userErrors`` entry
with its code, and nothing is written. Stricter than Shopify where its behaviour is not
documented (UNVERIFIED): only ``available`` is accepted as a name (``on_hand`` is refused,
the sandbox keeps no on-hand quantity), the reasons accepted are the documented list's
common ones, and a negative quantity is refused (``INVALID_QUANTITY_NEGATIVE``). Without the
``write_inventory`` scope (``read_inventory`` for the read) the answer is ``ACCESS_DENIED``.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any

from connectors.shopify.sandbox_store import SandboxStore

__all__ = ["DEFAULT_SCOPES", "REASONS", "Inventory"]

DEFAULT_SCOPES = frozenset({"read_customers", "write_customers", "read_orders", "write_orders",
                            "read_products", "read_inventory", "write_inventory",
                            "read_locations"})
REASONS = frozenset({"correction", "cycle_count_available", "damaged", "other", "promotion",
                     "received", "restock", "shrinkage", "quality_control", "safety_stock"})
MAX_QUANTITY = 1_000_000_000
_SKU_QUERY = re.compile(r'^sku:("(?:[^"\\]|\\.)*")$')
_ITEM, _LOCATION = re.compile(r"^gid://shopify/InventoryItem/([0-9]{1,19})\Z"), re.compile(
    r"^gid://shopify/Location/([0-9]{1,19})\Z")
_INPUT_KEYS = {"name", "reason", "quantities", "ignoreCompareQuantity", "referenceDocumentUri"}
_QUANTITY_KEYS = {"inventoryItemId", "locationId", "quantity", "compareQuantity"}


def _number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def _id_of(pattern: re.Pattern[str], gid: str) -> bool:
    """A well-formed 64-bit id (a larger one reached SQLite and answered 500)."""
    match = pattern.match(gid)
    return match is not None and int(match.group(1)) < 1 << 63


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Inventory:
    """Inventory resolvers over the sandbox store; ``scopes`` are the token's (live)."""

    def __init__(self, store: SandboxStore, scopes: set[str], error: type[Exception]) -> None:
        self.store, self.scopes, self._error = store, scopes, error

    def _need(self, scope: str, field: str) -> None:
        if scope not in self.scopes:
            raise self._error(f"Access denied for {field} field. Required access: `{scope}` "
                              "access scope.", "ACCESS_DENIED")

    async def locations(self, variables: dict[str, Any]) -> tuple[dict[str, Any], int]:
        self._need("read_locations", "locations")
        first, after = variables.get("first"), variables.get("after")
        if not _int(first) or not 1 <= first <= 250:
            raise self._error("Variable $first of type Int! must be between 1 and 250",
                              "INVALID_VARIABLE")
        if after is not None and not isinstance(after, str):
            raise self._error("Variable $after of type String must be a string",
                              "INVALID_VARIABLE")
        records = sorted(await self.store.list("Location"), key=lambda r: _number(r["id"]))
        if after is not None:
            # A forged cursor: {} (KeyError), [Infinity] (OverflowError), [[[[... (RecursionError)
            # each answered 500.
            try:
                last = int(json.loads(base64.b64decode(after, validate=True))[0])
            except (ValueError, TypeError, LookupError, OverflowError, RecursionError):
                raise self._error("Invalid cursor for current pagination sort.") from None
            records = [r for r in records if _number(r["id"]) > last]
        page = [{k: r.get(k) for k in ("id", "name", "isActive")} for r in records[:first]]
        end = base64.b64encode(json.dumps([_number(page[-1]["id"])]).encode()).decode() \
            if page else None
        info = {"hasNextPage": len(records) > first, "endCursor": end}
        return {"locations": {"nodes": page, "pageInfo": info}}, 2 + len(page)

    async def variants_by_sku(self, variables: dict[str, Any]) -> tuple[dict[str, Any], int]:
        self._need("read_products", "productVariants")
        self._need("read_inventory", "inventoryLevels")
        first, query = variables.get("first"), variables.get("query")
        if not _int(first) or not 1 <= first <= 250:
            raise self._error("Variable $first of type Int! must be between 1 and 250",
                              "INVALID_VARIABLE")
        match = _SKU_QUERY.match(query) if isinstance(query, str) else None
        try:  # the pattern lets a bad escape through (sku:"\uZZZZ": once a 500)
            sku = json.loads(match.group(1)) if match else None
        except ValueError:
            sku = None
        if sku is None:
            raise self._error(f"the sandbox only understands sku:\"<sku>\" here, got {query!r}")
        nodes = []
        for product in await self.store.list("Product"):
            for variant in (product.get("variants") or {}).get("nodes") or []:
                if variant.get("sku") == sku:
                    nodes.append(await self._variant_stock(variant))
        return {"productVariants": {"nodes": nodes[:first]}}, 1 + len(nodes[:first]) * 3

    async def _variant_stock(self, variant: dict[str, Any]) -> dict[str, Any]:
        item_id = (variant.get("inventoryItem") or {}).get("id")
        item = await self.store.get("InventoryItem", item_id) if item_id else None
        levels = [{"location": {"id": location},
                   "quantities": [{"name": "available", "quantity": units}]}
                  for location, units in sorted((item or {}).get("levels", {}).items())]
        return {"id": variant["id"], "sku": variant.get("sku"), "inventoryItem": {
            "id": item_id, "tracked": bool(item and item.get("tracked")),
            "inventoryLevels": {"nodes": levels[:50], "pageInfo": {"hasNextPage": len(levels) > 50}}}}

    async def set_quantities(self, variables: dict[str, Any]) -> dict[str, Any]:
        self._need("write_inventory", "inventorySetQuantities")
        data = variables.get("input")
        self._check_types(data)
        async with self.store.lock:  # read-check-write: one at a time
            errors, writes = await self._validate(data)
            if errors:
                return {"inventorySetQuantities": {"inventoryAdjustmentGroup": None,
                                                   "userErrors": errors}}
            changes = []
            for item, location, quantity in writes:
                before = item["levels"][location]
                item["levels"][location] = quantity
                await self.store.put("InventoryItem", item)
                changes.append({"name": "available", "delta": quantity - before,
                                "quantityAfterChange": quantity, "location": {"id": location}})
        return {"inventorySetQuantities": {"inventoryAdjustmentGroup": {
            "reason": data["reason"], "changes": changes}, "userErrors": []}}

    def _check_types(self, data: Any) -> None:
        """GraphQL variable coercion: a wrong shape or type never reaches the resolver."""
        bad = self._error
        if not isinstance(data, dict) or set(data) - _INPUT_KEYS:
            # set() of a number or of [[1]] once crashed naming the unknown fields here
            what = (f"unknown fields {sorted(set(data) - _INPUT_KEYS)}"
                    if isinstance(data, dict) else "not an object")
            raise bad("Variable $input of type InventorySetQuantitiesInput! was provided invalid "
                      f"value ({what})", "INVALID_VARIABLE")
        if not isinstance(data.get("name"), str) or not isinstance(data.get("reason"), str):
            raise bad("Variable $input: name and reason are String!", "INVALID_VARIABLE")
        if not isinstance(data.get("ignoreCompareQuantity", False), bool):
            raise bad("Variable $input: ignoreCompareQuantity is a Boolean", "INVALID_VARIABLE")
        quantities = data.get("quantities")
        if not isinstance(quantities, list) or not quantities:
            raise bad("Variable $input: quantities is [InventoryQuantityInput!]!",
                      "INVALID_VARIABLE")
        for entry in quantities:
            if (not isinstance(entry, dict) or set(entry) - _QUANTITY_KEYS
                    or not isinstance(entry.get("inventoryItemId"), str)
                    or not isinstance(entry.get("locationId"), str)
                    or not _int(entry.get("quantity"))
                    or not (entry.get("compareQuantity") is None or _int(entry["compareQuantity"]))):
                raise bad("Variable $input: each quantity needs inventoryItemId: ID!, "
                          f"locationId: ID!, quantity: Int!, compareQuantity: Int (got {entry!r:.120})",
                          "INVALID_VARIABLE")

    async def _validate(self, data: dict[str, Any]
                        ) -> tuple[list[dict[str, Any]], list[tuple[dict, str, int]]]:
        errors: list[dict[str, Any]] = []

        def fail(path: list[str], code: str, message: str) -> None:
            errors.append({"field": ["input", *path], "message": message, "code": code})

        if data["name"] != "available":
            fail(["name"], "INVALID_NAME", "The quantity name must be either 'available' or "
                 "'on_hand'." if data["name"] != "on_hand" else
                 "The sandbox keeps no on_hand quantity (UNVERIFIED: use available).")
        if data["reason"] not in REASONS:
            fail(["reason"], "INVALID_REASON", "The specified reason is invalid.")
        writes: list[tuple[dict, str, int]] = []
        items: dict[str, dict[str, Any]] = {}
        seen: set[tuple[str, str]] = set()
        for index, entry in enumerate(data["quantities"]):
            path = ["quantities", str(index)]
            item_id, location, quantity = (entry["inventoryItemId"], entry["locationId"],
                                           entry["quantity"])
            item = items.get(item_id) or (await self.store.get("InventoryItem", item_id)
                                          if _id_of(_ITEM, item_id) else None)
            if item is None:
                fail([*path, "inventoryItemId"], "INVALID_INVENTORY_ITEM",
                     "The specified inventory item could not be found.")
                continue
            items[item_id] = item
            if (not _id_of(_LOCATION, location)
                    or await self.store.get("Location", location) is None):
                fail([*path, "locationId"], "INVALID_LOCATION",
                     "The specified location could not be found.")
                continue
            if (item_id, location) in seen:
                fail(path, "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", "The combination of "
                     "inventoryItemId and locationId must be unique.")
                continue
            seen.add((item_id, location))
            if location not in item.get("levels", {}):
                fail([*path, "locationId"], "ITEM_NOT_STOCKED_AT_LOCATION",
                     "The specified inventory item is not stocked at the location.")
                continue
            if quantity < 0:
                fail([*path, "quantity"], "INVALID_QUANTITY_NEGATIVE",
                     "The quantity can't be negative.")
            elif quantity > MAX_QUANTITY:
                fail([*path, "quantity"], "INVALID_QUANTITY_TOO_HIGH",
                     "The total quantity can't be higher than 1,000,000,000.")
            compare = entry.get("compareQuantity")
            if compare is None and not data.get("ignoreCompareQuantity", False):
                fail([*path, "compareQuantity"], "COMPARE_QUANTITY_REQUIRED", "The "
                     "compareQuantity argument must be given to each quantity or ignored using "
                     "ignoreCompareQuantity.")
            elif compare is not None and not data.get("ignoreCompareQuantity", False) \
                    and compare != item["levels"][location]:
                fail([*path, "compareQuantity"], "COMPARE_QUANTITY_STALE",
                     "The compareQuantity value does not match persisted value.")
            writes.append((item, location, quantity))
        return errors, writes
