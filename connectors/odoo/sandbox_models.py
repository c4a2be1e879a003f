"""The Odoo sandbox's data model: the fields of each model it serves, as data.

Only the fields the connector and its tests use, with Odoo's names and types (Odoo 17 naming;
``account.payment.ref`` became ``memo`` in 18, see docs/odoo.md). Field kinds drive validation
and the wire format: many2one reads as ``[id, display_name]`` or ``False``, x2many as a list
of ids, empty scalars as ``False``, dates as ``YYYY-MM-DD``, datetimes as naive UTC
``YYYY-MM-DD HH:MM:SS``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["MODELS", "Field", "Model", "TRANSIENT"]


@dataclass(frozen=True, slots=True)
class Field:
    kind: str  # char text integer float boolean date datetime selection many2one one2many many2many
    relation: str | None = None
    inverse: str | None = None  # one2many: the many2one on the other side
    required: bool = False
    readonly: bool = False  # computed or magic: rejected in create/write
    selection: tuple[str, ...] = ()
    string: str = ""


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    description: str
    fields: dict[str, Field]
    rec_name: str = "name"


def _f(kind: str, **kw: object) -> Field:
    return Field(kind, **kw)  # type: ignore[arg-type]


MAGIC = {
    "id": _f("integer", readonly=True),
    "create_date": _f("datetime", readonly=True),
    "write_date": _f("datetime", readonly=True),
    "display_name": _f("char", readonly=True),
}

MOVE_TYPES = ("entry", "out_invoice", "out_refund", "in_invoice", "in_refund", "out_receipt",
              "in_receipt")
PAYMENT_STATES = ("not_paid", "in_payment", "paid", "partial", "reversed", "invoicing_legacy")


TEMPLATE_FIELDS = {
    "name": _f("char", required=True),
    "type": _f("selection", selection=("consu", "service", "combo")),
    "list_price": _f("float"), "standard_price": _f("float"), "active": _f("boolean"),
    "sale_ok": _f("boolean"), "description_sale": _f("text"),
    "taxes_id": _f("many2many", relation="account.tax"),
    "supplier_taxes_id": _f("many2many", relation="account.tax"),
    "property_account_income_id": _f("many2one", relation="account.account"),
}


def _model(model_name: str, description: str, rec_name: str = "name", /, **fields: Field) -> Model:
    return Model(model_name, description, {**MAGIC, **fields}, rec_name)


MODELS: dict[str, Model] = {m.name: m for m in (
    _model("res.country", "Country", name=_f("char", required=True), code=_f("char")),
    _model("res.currency", "Currency", name=_f("char", required=True), symbol=_f("char")),
    _model("account.account", "Account", code=_f("char", required=True),
           name=_f("char", required=True)),
    _model("account.tax", "Tax", name=_f("char", required=True), amount=_f("float"),
           amount_type=_f("selection", selection=("percent", "fixed", "group", "division")),
           type_tax_use=_f("selection", selection=("sale", "purchase", "none")),
           active=_f("boolean"), description=_f("char")),
    _model("account.journal", "Journal", name=_f("char", required=True),
           code=_f("char", required=True),
           type=_f("selection", selection=("sale", "purchase", "cash", "bank", "general"))),
    _model("account.payment.term", "Payment Terms", name=_f("char", required=True),
           line_ids=_f("one2many", relation="account.payment.term.line", inverse="payment_id")),
    _model("account.payment.term.line", "Payment Terms Line", "value",
           payment_id=_f("many2one", relation="account.payment.term", required=True),
           value=_f("selection", selection=("percent", "fixed")),
           value_amount=_f("float"), nb_days=_f("integer")),
    _model("product.pricelist", "Pricelist", name=_f("char", required=True),
           currency_id=_f("many2one", relation="res.currency")),
    _model("res.partner", "Contact",
           name=_f("char", required=True), is_company=_f("boolean"), ref=_f("char"),
           vat=_f("char"), email=_f("char"), phone=_f("char"), mobile=_f("char"),
           street=_f("char"), city=_f("char"), zip=_f("char"),
           country_id=_f("many2one", relation="res.country"), lang=_f("char"),
           active=_f("boolean"), customer_rank=_f("integer"), supplier_rank=_f("integer"),
           bank_ids=_f("one2many", relation="res.partner.bank", inverse="partner_id"),
           property_payment_term_id=_f("many2one", relation="account.payment.term"),
           property_product_pricelist=_f("many2one", relation="product.pricelist"),
           property_account_receivable_id=_f("many2one", relation="account.account"),
           credit=_f("float", readonly=True, string="Total Receivable"),
           # A company's people and addresses are its children; the commercial entity is
           # the partner itself when it is a company or has no parent, else its parent's.
           parent_id=_f("many2one", relation="res.partner"),
           child_ids=_f("one2many", relation="res.partner", inverse="parent_id"),
           type=_f("selection", selection=("contact", "invoice", "delivery", "other")),
           commercial_partner_id=_f("many2one", relation="res.partner", readonly=True)),
    # ``active``: archiving a bank account moves its write_date (the account module tracks
    # ``active`` next to ``allow_out_payment``; recent Odoo's ``unlink`` archives).
    _model("res.partner.bank", "Bank Accounts", "acc_number",
           active=_f("boolean"), acc_number=_f("char", required=True),
           partner_id=_f("many2one", relation="res.partner", required=True),
           bank_bic=_f("char"), allow_out_payment=_f("boolean")),
    _model("product.template", "Product", **TEMPLATE_FIELDS,
           # Computed from the variants: the one variant's, False with several (Odoo's
           # _compute_default_code / _compute_barcode); written through to a single variant.
           default_code=_f("char"), barcode=_f("char"),
           product_variant_count=_f("integer", readonly=True),
           product_variant_ids=_f("one2many", relation="product.product",
                                  inverse="product_tmpl_id")),
    _model("product.template.attribute.value", "Product Template Attribute Value",
           name=_f("char", required=True),
           product_tmpl_id=_f("many2one", relation="product.template", required=True),
           price_extra=_f("float")),
    # A variant _inherits its template: the template's fields read (and search) through it.
    _model("product.product", "Product Variant",
           **{name: replace(f, readonly=True, required=False)
              for name, f in TEMPLATE_FIELDS.items() if name != "active"},
           product_tmpl_id=_f("many2one", relation="product.template", required=True),
           default_code=_f("char"), barcode=_f("char"), active=_f("boolean"),
           product_template_attribute_value_ids=_f(
               "many2many", relation="product.template.attribute.value"),
           price_extra=_f("float", readonly=True, string="Variant Price Extra"),
           lst_price=_f("float", readonly=True, string="Sales Price")),
    # Inventory (the stock app), as far as the connector reads it: warehouses, their
    # locations (``warehouse_id`` is computed and stored by Odoo: read-only here) and quants.
    # A quant's quantity changes through stock moves and inventory adjustments, never by a
    # write: read-only here too (a test moves stock with the ORM's internal write).
    _model("stock.warehouse", "Warehouse", name=_f("char", required=True),
           code=_f("char", required=True)),
    _model("stock.location", "Inventory Locations", name=_f("char", required=True),
           usage=_f("selection", selection=("supplier", "view", "internal", "customer",
                                            "inventory", "production", "transit")),
           warehouse_id=_f("many2one", relation="stock.warehouse", readonly=True)),
    _model("stock.quant", "Quants", "product_id",
           product_id=_f("many2one", relation="product.product", required=True),
           location_id=_f("many2one", relation="stock.location", required=True),
           quantity=_f("float", readonly=True)),
    _model("account.move", "Journal Entry",
           name=_f("char", readonly=True), ref=_f("char"), narration=_f("text"),
           move_type=_f("selection", selection=MOVE_TYPES, required=True),
           state=_f("selection", selection=("draft", "posted", "cancel"), readonly=True),
           partner_id=_f("many2one", relation="res.partner"),
           commercial_partner_id=_f("many2one", relation="res.partner", readonly=True),
           journal_id=_f("many2one", relation="account.journal"),
           currency_id=_f("many2one", relation="res.currency"),
           invoice_date=_f("date"), invoice_date_due=_f("date"),
           invoice_payment_term_id=_f("many2one", relation="account.payment.term"),
           payment_reference=_f("char"),
           invoice_line_ids=_f("one2many", relation="account.move.line", inverse="move_id"),
           amount_untaxed=_f("float", readonly=True), amount_tax=_f("float", readonly=True),
           amount_total=_f("float", readonly=True), amount_residual=_f("float", readonly=True),
           amount_total_signed=_f("float", readonly=True),
           payment_state=_f("selection", selection=PAYMENT_STATES, readonly=True),
           reversed_entry_id=_f("many2one", relation="account.move"),
           matched_payment_ids=_f("many2many", relation="account.payment", readonly=True)),
    _model("account.move.line", "Journal Item",
           move_id=_f("many2one", relation="account.move", required=True),
           product_id=_f("many2one", relation="product.product"),
           name=_f("char"), quantity=_f("float"), price_unit=_f("float"),
           discount=_f("float"), tax_ids=_f("many2many", relation="account.tax"),
           account_id=_f("many2one", relation="account.account"),
           display_type=_f("selection", selection=("product", "line_section", "line_note")),
           price_subtotal=_f("float", readonly=True), price_total=_f("float", readonly=True)),
    _model("account.payment", "Payments",
           name=_f("char", readonly=True), ref=_f("char"),
           payment_type=_f("selection", selection=("inbound", "outbound"), required=True),
           partner_type=_f("selection", selection=("customer", "supplier"), required=True),
           partner_id=_f("many2one", relation="res.partner"),
           amount=_f("float"), currency_id=_f("many2one", relation="res.currency"),
           date=_f("date"), journal_id=_f("many2one", relation="account.journal"),
           state=_f("selection", selection=("draft", "posted", "cancel"), readonly=True),
           reconciled_invoice_ids=_f("many2many", relation="account.move", readonly=True)),
    _model("account.payment.register", "Register Payment",
           amount=_f("float"), payment_date=_f("date"), communication=_f("char"),
           journal_id=_f("many2one", relation="account.journal"),
           partner_id=_f("many2one", relation="res.partner", readonly=True),
           line_ids=_f("many2many", relation="account.move", readonly=True)),
)}

TRANSIENT = frozenset({"account.payment.register"})
