"""The resources the PrestaShop sandbox serves: their fields (PS 8.x docs, trimmed) and the
blank schemas built from them. Every value is a string in PrestaShop's output but ``id``."""
from __future__ import annotations

from typing import Any

__all__ = ["CLASSES", "MULTILANG", "REQUIRED", "RESOURCES", "WRITABLE", "blank", "singular"]

RESOURCES: dict[str, tuple[str, ...]] = {
    "customers": ("id", "id_default_group", "id_lang", "newsletter_date_add", "last_passwd_gen",
                  "secure_key", "deleted", "passwd", "lastname", "firstname", "email",
                  "id_gender", "birthday", "newsletter", "optin", "website", "company", "siret",
                  "ape", "outstanding_allow_amount", "show_public_prices", "id_risk",
                  "max_payment_days", "active", "note", "is_guest", "id_shop", "id_shop_group",
                  "date_add", "date_upd"),
    "addresses": ("id", "id_customer", "id_manufacturer", "id_supplier", "id_warehouse",
                  "id_country", "id_state", "alias", "company", "lastname", "firstname",
                  "vat_number", "address1", "address2", "postcode", "city", "other", "phone",
                  "phone_mobile", "dni", "deleted", "date_add", "date_upd"),
    "products": ("id", "id_manufacturer", "id_supplier", "id_category_default", "id_tax_rules_group",
                 "reference", "supplier_reference", "ean13", "isbn", "upc", "mpn", "is_virtual",
                 "price", "wholesale_price", "active", "name", "description_short",
                 "date_add", "date_upd"),
    "orders": ("id", "id_address_delivery", "id_address_invoice", "id_cart", "id_currency",
               "id_lang", "id_customer", "id_carrier", "current_state", "module",
               "invoice_number", "invoice_date", "delivery_number", "delivery_date", "valid",
               "date_add", "date_upd", "shipping_number", "id_shop_group", "id_shop",
               "secure_key", "payment", "recyclable", "gift", "gift_message", "mobile_theme",
               "total_discounts", "total_discounts_tax_incl", "total_discounts_tax_excl",
               "total_paid", "total_paid_tax_incl", "total_paid_tax_excl", "total_paid_real",
               "total_products", "total_products_wt", "total_shipping",
               "total_shipping_tax_incl", "total_shipping_tax_excl", "carrier_tax_rate",
               "total_wrapping", "conversion_rate", "reference", "round_mode", "round_type"),
    "order_details": ("id", "id_order", "product_id", "product_attribute_id", "id_order_invoice",
                      "id_warehouse", "id_shop", "product_name", "product_quantity",
                      "product_price", "reduction_percent", "reduction_amount",
                      "product_reference", "product_ean13", "id_tax_rules_group",
                      "tax_computation_method", "tax_name", "tax_rate", "unit_price_tax_incl",
                      "unit_price_tax_excl", "total_price_tax_incl", "total_price_tax_excl",
                      "original_product_price"),
    "order_invoices": ("id", "id_order", "number", "delivery_number", "delivery_date",
                       "total_discount_tax_excl", "total_discount_tax_incl",
                       "total_paid_tax_excl", "total_paid_tax_incl", "total_products",
                       "total_products_wt", "total_shipping_tax_excl", "total_shipping_tax_incl",
                       "shipping_tax_computation_method", "total_wrapping_tax_excl",
                       "total_wrapping_tax_incl", "shop_address", "note", "date_add"),
    "order_payments": ("id", "order_reference", "id_currency", "amount", "payment_method",
                       "conversion_rate", "transaction_id", "card_number", "card_brand",
                       "card_expiration", "card_holder", "date_add"),
    "countries": ("id", "id_zone", "id_currency", "iso_code", "call_prefix", "name", "active",
                  "contains_states", "need_identification_number", "need_zip_code",
                  "zip_code_format", "display_tax_label"),
    "currencies": ("id", "name", "iso_code", "conversion_rate", "deleted", "active"),
    "tax_rule_groups": ("id", "name", "active", "deleted", "date_add", "date_upd"),
    "tax_rules": ("id", "id_tax_rules_group", "id_state", "id_country", "zipcode_from",
                  "zipcode_to", "id_tax", "behavior", "description"),
    "taxes": ("id", "rate", "active", "deleted", "name"),
    # A product's sizes / colours (PS 8 docs, Resources for Combinations; associations left
    # out). ``quantity`` is the old column, not the stock (stock_availables is): the seed
    # leaves it at 0 so a client that read it would be caught.
    "combinations": ("id", "id_product", "location", "ean13", "isbn", "upc", "mpn", "quantity",
                     "reference", "supplier_reference", "wholesale_price", "price", "ecotax",
                     "weight", "unit_price_impact", "minimal_quantity", "low_stock_threshold",
                     "low_stock_alert", "default_on", "available_date"),
    "stock_availables": ("id", "id_product", "id_product_attribute", "id_shop", "id_shop_group",
                         "quantity", "depends_on_stock", "out_of_stock", "location"),
}
# Resources the webservice lets a key write (with the permission); the rest are read-only here
# (``combinations`` too, though PrestaShop takes POST / PUT there: nothing here writes them).
WRITABLE = frozenset({"customers", "addresses", "products", "stock_availables", "order_payments"})
# Each written resource's PHP class and the non-multilang fields its ``$definition`` marks
# required (Address and StockAvailable, PrestaShop's ``classes/``): a body without one is
# 400 code 41 (WebserviceRequest::saveEntityFromXml), one left empty is code 85 (ObjectModel's
# validateField). The other writable resources' rules are not modelled (UNVERIFIED).
CLASSES = {"addresses": "Address", "stock_availables": "StockAvailable"}
REQUIRED: dict[str, tuple[str, ...]] = {
    "addresses": ("id_country", "alias", "lastname", "firstname", "address1", "city"),
    "stock_availables": ("id_product", "id_product_attribute", "quantity", "depends_on_stock",
                         "out_of_stock"),
}
MULTILANG = frozenset({("products", "name"), ("products", "description_short"),
                       ("countries", "name"), ("taxes", "name")})
_SINGULAR = {"addresses": "address", "countries": "country", "currencies": "currency",
             "stock_availables": "stock_available", "taxes": "tax"}


def singular(resource: str) -> str:
    return _SINGULAR.get(resource, resource[:-1])


def blank(resource: str) -> dict[str, Any]:
    """``?schema=blank``: every field empty (multilang fields as one empty language)."""
    return {name: ([{"id": "1", "value": ""}] if (resource, name) in MULTILANG else "")
            for name in RESOURCES[resource]}
