"""The GraphQL documents this connector sends, with their cost estimates.

Shopify prices a query before running it (``requestedQueryCost``): roughly one point per
object plus the size of every connection page asked for. :func:`requested_cost` is our
estimate of that price, used to wait for enough points *before* sending; the sandbox
charges by the same rule. Field names follow the Admin GraphQL API 2025-01 reference;
shapes marked UNVERIFIED in docs/shopify.md were not checked against a live shop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DOCUMENTS", "LEVELS_PAGE", "MUTATIONS", "NODE_COST", "requested_cost"]

_MONEY = "shopMoney { amount currencyCode }"
_ADDRESS = "address1 address2 city zip province countryCodeV2 company"

CUSTOMER = f"""
  id firstName lastName displayName email phone note taxExempt createdAt updatedAt tags
  defaultAddress {{ {_ADDRESS} }}
  metafield(namespace: "holded_sync", key: "tax_id") {{ value }}
  companyContactProfiles {{ company {{ id name
    locations(first: 1) {{ nodes {{ id taxSettings {{ taxRegistrationId taxExempt }} }} }} }} }}
"""

ORDER = f"""
  id name createdAt updatedAt processedAt cancelledAt currencyCode taxesIncluded
  displayFinancialStatus note tags sourceName paymentGatewayNames
  customer {{ id }}
  billingAddress {{ {_ADDRESS} }}
  lineItems(first: 100) {{ nodes {{ id sku name quantity variant {{ id }}
    originalUnitPriceSet {{ {_MONEY} }} totalDiscountSet {{ {_MONEY} }}
    taxLines {{ title rate priceSet {{ {_MONEY} }} }} }} }}
  shippingLines(first: 10) {{ nodes {{ title discountedPriceSet {{ {_MONEY} }}
    taxLines {{ title rate priceSet {{ {_MONEY} }} }} }} }}
  subtotalPriceSet {{ {_MONEY} }} totalTaxSet {{ {_MONEY} }} totalPriceSet {{ {_MONEY} }}
  transactions {{ id kind status gateway processedAt amountSet {{ {_MONEY} }} }}
  refunds {{ id createdAt updatedAt note totalRefundedSet {{ {_MONEY} }}
    refundLineItems(first: 100) {{ nodes {{ quantity lineItem {{ id }}
      subtotalSet {{ {_MONEY} }} totalTaxSet {{ {_MONEY} }} }} }} }}
"""

PRODUCT = """
  id title status productType updatedAt
  metafield(namespace: "holded_sync", key: "tax") { value }
  variants(first: 100) { nodes { id sku title price barcode taxable
    inventoryItem { unitCost { amount } } } }
"""

# A variant's inventory levels read in one page: a shop whose item is stocked at more
# locations than this makes the stock writer fail rather than miss one (sink_stock.py).
LEVELS_PAGE = 50

VARIANT_STOCK = f"""
  id sku inventoryItem {{ id tracked
    inventoryLevels(first: {LEVELS_PAGE}) {{ nodes {{ location {{ id }}
      quantities(names: ["available"]) {{ name quantity }} }} pageInfo {{ hasNextPage }} }} }}
"""


def _listing(name: str, field: str, node: str) -> str:
    return (f"query {name}($first: Int!, $after: String, $query: String) {{\n"
            f"  {field}(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{\n"
            f"    nodes {{ {node} }}\n    pageInfo {{ hasNextPage endCursor }}\n  }}\n}}")


DOCUMENTS: Mapping[str, str] = {
    "Shop": "query Shop { shop { name currencyCode taxesIncluded } }",
    "Customers": _listing("Customers", "customers", CUSTOMER),
    "Orders": _listing("Orders", "orders", ORDER),
    "Products": _listing("Products", "products", PRODUCT),
    "Nodes": ("query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename "
              f"... on Customer {{ {CUSTOMER} }} ... on Order {{ {ORDER} }} "
              f"... on Product {{ {PRODUCT} }} }} }}"),
    "CustomerUpdate": ("mutation CustomerUpdate($input: CustomerInput!) { "
                       "customerUpdate(input: $input) { customer { id updatedAt } "
                       "userErrors { field message } } }"),
    # Variants by SKU (query ``sku:"<sku>"``), with their inventory item and its levels.
    "VariantsBySku": ("query VariantsBySku($first: Int!, $query: String!) { "
                      f"productVariants(first: $first, query: $query) {{ nodes {{ {VARIANT_STOCK} }} }} }}"),
    "InventorySetQuantities": (
        "mutation InventorySetQuantities($input: InventorySetQuantitiesInput!) { "
        "inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { reason "
        "changes { name delta quantityAfterChange location { id } } } "
        "userErrors { field message code } } }"),
    # Every location, active or not (``includeInactive``): what systems.shopify.warehouses maps.
    "Locations": ("query Locations($first: Int!, $after: String) { "
                  "locations(first: $first, after: $after, includeInactive: true) { "
                  "nodes { id name isActive } pageInfo { hasNextPage endCursor } } }"),
    "TagsAdd": ("mutation TagsAdd($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) "
                "{ node { id } userErrors { field message } } }"),
    # A metafield cannot hold a blank value: clearing one deletes it.
    "MetafieldsDelete": ("mutation MetafieldsDelete($metafields: [MetafieldIdentifierInput!]!) { "
                         "metafieldsDelete(metafields: $metafields) { deletedMetafields { "
                         "ownerId namespace key } userErrors { field message } } }"),
}
MUTATIONS = frozenset({"CustomerUpdate", "TagsAdd", "InventorySetQuantities", "MetafieldsDelete"})

# Points per node of each listing: the node itself plus its nested pages (an estimate).
NODE_COST: Mapping[str, int] = {"Customers": 3, "Orders": 8, "Products": 3, "Locations": 1}


def requested_cost(operation: str, variables: Mapping[str, Any] | None = None) -> int:
    """Our estimate of Shopify's ``requestedQueryCost`` for one call."""
    variables = variables or {}
    if operation in NODE_COST:
        return 2 + int(variables.get("first") or 0) * NODE_COST[operation]
    if operation == "VariantsBySku":  # each variant, its item and a page of levels
        return 1 + int(variables.get("first") or 0) * (2 + LEVELS_PAGE)
    if operation == "Nodes":
        return 1 + 8 * len(variables.get("ids") or [])
    if operation in MUTATIONS:
        return 10
    return 1
