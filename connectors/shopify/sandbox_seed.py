"""Spanish demo shop for the Shopify sandbox: customers (one B2B), products, orders, a refund.

Prices include VAT (the shop's and each order's ``taxesIncluded``), as Spanish shops show
them: a variant at 19.90 costs 19.90 with VAT. Tax lines are titled ``IVA`` with fractional
rates, which the example mapping matches by title and rate; each product's VAT is its
``holded_sync.tax`` metafield, a key of the example mapping's ``shopify.taxes`` (oil 10 %,
shirt 21 %, as its order lines are taxed). One location, "Almacén central", stocks the three
variants (40, 25 and 12 available), each with a tracked inventory item.
"""
from __future__ import annotations

from typing import Any

from connectors.shopify.sandbox_store import SandboxStore

__all__ = ["seed"]


def money(amount: str, currency: str = "EUR") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def address(street: str, city: str, zip_code: str, province: str) -> dict[str, Any]:
    return {"address1": street, "address2": None, "city": city, "zip": zip_code,
            "province": province, "countryCodeV2": "ES", "company": None}


def customer(first: str, last: str, email: str, phone: str | None, addr: dict[str, Any],
             tax_id: str | None = None, company: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"firstName": first, "lastName": last, "displayName": f"{first} {last}",
            "email": email, "phone": phone, "note": None, "taxExempt": False, "tags": [],
            "defaultAddress": addr, "metafield": {"value": tax_id} if tax_id else None,
            "companyContactProfiles": [{"company": company}] if company else []}


def line(store_id: int, sku: str, name: str, qty: int, price: str, rate: float, tax: str,
         variant: str) -> dict[str, Any]:
    return {"id": f"gid://shopify/LineItem/{store_id}", "sku": sku, "name": name,
            "quantity": qty, "variant": {"id": variant},
            "originalUnitPriceSet": money(price), "totalDiscountSet": money("0.00"),
            "taxLines": [{"title": "IVA", "rate": rate, "priceSet": money(tax)}]}


def transaction(tx_id: int, kind: str, gateway: str, amount: str, when: str) -> dict[str, Any]:
    return {"id": f"gid://shopify/OrderTransaction/{tx_id}", "kind": kind, "status": "SUCCESS",
            "gateway": gateway, "processedAt": when, "amountSet": money(amount)}


def order(name: str, customer_gid: str, status: str, lines: list[dict[str, Any]], total: str,
          tax: str, gateway: str, transactions: list[dict[str, Any]],
          refunds: list[dict[str, Any]] | None = None,
          shipping: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": name, "processedAt": "2026-11-20T10:15:00Z", "cancelledAt": None,
            "currencyCode": "EUR", "taxesIncluded": True, "displayFinancialStatus": status,
            "note": None, "tags": [], "sourceName": "web", "paymentGatewayNames": [gateway],
            "customer": {"id": customer_gid}, "billingAddress": None,
            "lineItems": {"nodes": lines}, "shippingLines": {"nodes": shipping or []},
            "subtotalPriceSet": money(total),
            "totalTaxSet": money(tax), "totalPriceSet": money(total),
            "transactions": transactions, "refunds": refunds or []}


async def seed(store: SandboxStore) -> dict[str, dict[str, Any]]:
    """Load the demo shop; returns the main records by a short name."""
    lucia = await store.insert("Customer", customer(
        "Lucía", "Fernández Gómez", "lucia.fernandez@example.es", "+34600111222",
        address("Calle de Alcalá 42", "Madrid", "28014", "Madrid"), tax_id="12345678Z"))
    jordi = await store.insert("Customer", customer(
        "Jordi", "Puig Serra", "jordi.puig@example.cat", None,
        address("Carrer de Mallorca 120", "Barcelona", "08036", "Barcelona")))
    company = {"id": "gid://shopify/Company/8100000009001", "name": "Distribuciones Levante S.L.",
               "locations": {"nodes": [{"id": "gid://shopify/CompanyLocation/8100000009002",
                                        "taxSettings": {"taxRegistrationId": "ESB46123451",
                                                        "taxExempt": False}}]}}
    marta = await store.insert("Customer", customer(
        "Marta", "Ruiz", "compras@levante.example.es", "+34961222333",
        address("Avenida del Puerto 8", "Valencia", "46023", "Valencia"), company=company))
    oil = await store.insert("Product", {
        "title": "Aceite de girasol alto oleico", "status": "ACTIVE", "productType": "Alimentación",
        "metafield": {"value": "IVA 10%"}, "variants": {"nodes": []}})
    oil_ids = [await store.new_id() for _ in range(2)]
    oil["variants"]["nodes"] = [
        {"id": f"gid://shopify/ProductVariant/{oil_ids[0]}", "sku": "GIR-500", "title": "500 ml",
         "price": "8.95", "barcode": "8410000000500", "taxable": True,
         "inventoryItem": {"unitCost": {"amount": "4.10"}}},
        {"id": f"gid://shopify/ProductVariant/{oil_ids[1]}", "sku": "GIR-1000", "title": "1 L",
         "price": "15.50", "barcode": "8410000001000", "taxable": True,
         "inventoryItem": {"unitCost": {"amount": "7.30"}}}]
    oil = await store.put("Product", oil, touch=False)
    shirt = await store.insert("Product", {
        "title": "Camiseta Holded", "status": "ACTIVE", "productType": "Ropa",
        "metafield": {"value": "IVA 21%"}, "variants": {"nodes": []}})
    shirt["variants"]["nodes"] = [{"id": f"gid://shopify/ProductVariant/{await store.new_id()}",
                                   "sku": "CAM-001", "title": "Default Title", "price": "19.90",
                                   "barcode": None, "taxable": True,
                                   "inventoryItem": {"unitCost": None}}]
    shirt = await store.put("Product", shirt, touch=False)
    oil500, oil1000 = (v["id"] for v in oil["variants"]["nodes"])
    cam = shirt["variants"]["nodes"][0]["id"]
    when = "2026-11-20T10:15:00Z"
    ids = [await store.new_id() for _ in range(12)]
    o1 = await store.insert("Order", order(
        "#1001", lucia["id"], "PAID",
        [line(ids[0], "GIR-500", "Aceite de girasol alto oleico - 500 ml", 2, "8.95", 0.1,
              "1.63", oil500)], "17.90", "1.63", "shopify_payments",
        [transaction(ids[1], "SALE", "shopify_payments", "17.90", when)]))
    shirt_line = line(ids[2], "CAM-001", "Camiseta Holded", 2, "19.90", 0.21, "6.91", cam)
    o2 = await store.insert("Order", order(
        "#1002", jordi["id"], "PARTIALLY_REFUNDED", [shirt_line], "39.80", "6.91", "paypal",
        [transaction(ids[3], "SALE", "paypal", "39.80", when),
         transaction(ids[4], "REFUND", "paypal", "19.90", "2026-11-22T09:00:00Z")],
        [{"id": f"gid://shopify/Refund/{ids[5]}", "createdAt": "2026-11-22T09:00:00Z",
          "updatedAt": "2026-11-22T09:00:00Z", "note": "Talla equivocada",
          "totalRefundedSet": money("19.90"),
          "refundLineItems": {"nodes": [{"quantity": 1, "lineItem": {"id": shirt_line["id"]},
                                         "subtotalSet": money("16.45"),
                                         "totalTaxSet": money("3.45")}]}}]))
    o3 = await store.insert("Order", order(
        "#1003", marta["id"], "PENDING",
        [line(ids[6], "GIR-1000", "Aceite de girasol alto oleico - 1 L", 10, "15.50", 0.1,
              "14.09", oil1000)], "155.00", "14.09", "manual", []))
    o4 = await store.insert("Order", order(
        "#1004", marta["id"], "PAID",
        [line(ids[7], "CAM-001", "Camiseta Holded", 5, "19.90", 0.21, "17.27", cam)],
        "104.45", "18.13", "manual", [transaction(ids[8], "SALE", "manual", "104.45", when)],
        shipping=[{"title": "Envío estándar", "discountedPriceSet": money("4.95"),
                   "taxLines": [{"title": "IVA", "rate": 0.21, "priceSet": money("0.86")}]}]))
    # Inventory last, so the ids above stay what they were before the shop had any.
    location = await store.insert("Location", {"name": "Almacén central", "isActive": True})
    for product, levels in ((oil, (40, 25)), (shirt, (12,))):
        for variant, units in zip(product["variants"]["nodes"], levels, strict=True):
            item = await store.insert("InventoryItem", {
                "sku": variant["sku"], "variant": variant["id"], "tracked": True,
                "levels": {location["id"]: units}})
            variant["inventoryItem"] = {**variant["inventoryItem"], "id": item["id"]}
        await store.put("Product", product, touch=False)
    return {"lucia": lucia, "jordi": jordi, "marta": marta, "oil": oil, "shirt": shirt,
            "order_paid": o1, "order_refunded": o2, "order_pending": o3, "order_b2b": o4,
            "location": location}
