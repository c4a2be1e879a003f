"""What the Odoo source walks: one :class:`EntitySpec` per walk (model, domain, fields read).

Kept apart from connectors/odoo/source.py, which runs the walks, so the webhook parser and the
backfill command can name the walks without the source. A walk's name is also the key of its
poll state (connectors/odoo/poll_state.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.odoo.stock import QUANT_FIELDS

__all__ = ["BANK", "ENTITIES", "LINE_FIELDS", "MODEL_ENTITY", "VARIANT_FIELDS", "EntitySpec"]


@dataclass(frozen=True, slots=True)
class EntitySpec:
    entity: str
    model: str
    domain: tuple[Any, ...]
    fields: tuple[str, ...]
    context: tuple[tuple[str, Any], ...] = ()  # search context, e.g. active_test


# Bank accounts are walked for their holders' sake: a ``res.partner.bank`` edited, created or
# archived from the Bank Accounts menu leaves the partner's write_date alone. Archived ones
# are read too (active_test False: archiving moves write_date; recent Odoo's unlink archives).
# The context, not an ``active`` leaf, so an Odoo whose bank accounts have no ``active`` works.
BANK = EntitySpec("contact", "res.partner.bank", (), ("partner_id", "acc_number", "write_date"),
                  (("active_test", False),))


COMMERCIAL: tuple[Any, ...] = ("|", ("is_company", "=", True), ("parent_id", "=", False))
VARIANT_FIELDS = (
    "name", "default_code", "barcode", "type", "lst_price", "standard_price", "active",
    "description_sale", "taxes_id", "supplier_taxes_id", "property_account_income_id",
    "product_tmpl_id", "product_template_attribute_value_ids", "display_name", "write_date")

# Walks by name (a walk's poll state is kept under it); ``EntitySpec.entity`` is the
# canonical entity its events are about.
ENTITIES: dict[str, EntitySpec] = {"variant" if s.model == "product.product" else s.entity: s for s in (
    # Commercial entities only (Odoo's commercial_partner_id = the partner itself: a company,
    # or a partner without a parent) that are customers or suppliers: a company's people and
    # addresses, users' partners and bare leads stay out of Holded. A partner an invoice
    # names is reported with the invoice (its rank may have risen without a write_date).
    EntitySpec("contact", "res.partner", COMMERCIAL + (
        "|", ("customer_rank", ">", 0), ("supplier_rank", ">", 0)), (
        "name", "is_company", "vat", "email", "phone", "mobile", "street", "city", "zip",
        "country_id", "lang", "customer_rank", "supplier_rank", "bank_ids",
        "property_payment_term_id", "property_product_pricelist", "ref", "write_date")),
    # Products are variants (product.product): one walk over the variants, for what is
    # written on a variant (its default_code, barcode, archiving), and one over the
    # templates, for what is written on a template (name, price, taxes), which leaves its
    # variants' write_date alone: a changed template reports all its variants.
    EntitySpec("product", "product.template", (), ("write_date",)),
    EntitySpec("product", "product.product", (), VARIANT_FIELDS),
    EntitySpec("invoice", "account.move", (("move_type", "in", ["out_invoice", "out_refund"]),), (
        "name", "move_type", "state", "partner_id", "commercial_partner_id", "currency_id",
        "invoice_date",
        "invoice_date_due", "invoice_payment_term_id", "narration", "invoice_line_ids",
        "amount_untaxed", "amount_tax", "amount_total", "amount_total_signed", "amount_residual",
        "payment_state",
        "reversed_entry_id", "write_date")),
    EntitySpec("payment", "account.payment", (("partner_type", "=", "customer"),), (
        "name", "ref", "payment_type", "partner_type", "partner_id", "amount", "currency_id", "date",
        "journal_id", "state", "reconciled_invoice_ids", "write_date")),
)}
ENTITIES["bank"] = BANK
# Stock moves leave a product's write_date alone: a changed quant reports its variant (its
# levels in the mapped warehouses, connectors/odoo/stock.py). Walked only when the mapping
# reads Odoo warehouses. Every quant, a customer location's too: a delivery changes both.
ENTITIES["quant"] = EntitySpec("product", "stock.quant", (), QUANT_FIELDS)
MODEL_ENTITY = {s.model: walk for walk, s in ENTITIES.items()}
LINE_FIELDS = ["name", "product_id", "quantity", "price_unit", "discount", "tax_ids",
               "account_id", "display_type"]
