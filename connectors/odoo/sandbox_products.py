"""Products in the Odoo sandbox as Odoo 17 keeps them: a template and its variants.

``product.product`` _inherits ``product.template``: a variant reads its template's name, type,
prices, taxes and income account, and keeps its own ``default_code``, ``barcode``, ``active``
and attribute values. ``price_extra`` is the sum of its attribute values' extras and
``lst_price`` is the template's ``list_price`` plus that extra (``_compute_product_lst_price``).
A template's ``default_code`` and ``barcode`` are its variant's when it has exactly one active
variant, else False (``_compute_default_code``); writing them on such a template writes the
variant (the inverse), and on a template with several variants writes nothing. Creating a
template creates its one variant (a template without attributes). Attribute lines are not
modelled: a test builds a multi-variant template by creating the variants with their
``product.template.attribute.value`` records and archiving the plain one, as Odoo's
``_create_variant_ids`` leaves it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.odoo.sandbox_models import TEMPLATE_FIELDS
from connectors.odoo.sandbox_orm import Orm, User

__all__ = ["install"]

Rec = dict[str, Any]
THROUGH_VARIANT = ("default_code", "barcode")


async def variants(orm: Orm, tmpl_id: Any) -> list[Rec]:
    """The template's active variants (a one2many honours active_test)."""
    return [v for v in await orm.rows("product.product")
            if v.get("product_tmpl_id") == tmpl_id and v.get("active", True) is not False]


async def _template(orm: Orm, variant: Rec) -> Rec:
    return await orm.get("product.template", variant.get("product_tmpl_id") or 0) or {}


def _inherited(name: str) -> Any:
    async def compute(orm: Orm, variant: Rec) -> Any:
        return (await _template(orm, variant)).get(name)
    return compute


async def _price_extra(orm: Orm, variant: Rec) -> float:
    total = Decimal(0)
    for ptav in variant.get("product_template_attribute_value_ids") or []:
        total += Decimal(str((await orm.get("product.template.attribute.value", ptav) or {})
                             .get("price_extra") or 0))
    return float(total)


async def _lst_price(orm: Orm, variant: Rec) -> float:
    base = Decimal(str((await _template(orm, variant)).get("list_price") or 0))
    return float(base + Decimal(str(await _price_extra(orm, variant))))


def _through_variant(name: str) -> Any:
    async def compute(orm: Orm, template: Rec) -> Any:
        found = await variants(orm, template["id"])
        return found[0].get(name) if len(found) == 1 else None
    return compute


async def _variant_count(orm: Orm, template: Rec) -> int:
    return len(await variants(orm, template["id"]))


async def _variant_ids(orm: Orm, template: Rec) -> list[int]:
    return [v["id"] for v in await variants(orm, template["id"])]


async def _create_template(orm: Orm, model: str, args: list[Any], kwargs: Rec,
                           user: User) -> Any:
    vals_list = args[0] if args else kwargs.get("vals_list")
    single = isinstance(vals_list, dict)
    ids = []
    for vals in [vals_list] if single else vals_list:
        own = {k: v for k, v in vals.items() if k not in THROUGH_VARIANT}
        rid = await orm.create_one(model, own)
        active = vals.get("active", True) is not False
        await orm.create_one("product.product", {
            "product_tmpl_id": rid, "active": active,
            **{k: vals[k] for k in THROUGH_VARIANT if k in vals}})
        ids.append(rid)
    return ids[0] if single else ids


async def _write_template(orm: Orm, model: str, args: list[Any], kwargs: Rec,
                          user: User) -> bool:
    ids = args[0] if args else kwargs.get("ids", [])
    vals = dict(args[1] if len(args) > 1 else kwargs.get("vals") or {})
    through = {k: vals.pop(k) for k in THROUGH_VARIANT if k in vals}
    ids = [ids] if isinstance(ids, int) else list(ids)
    await orm.m_write(model, ids, vals)
    for rid in ids:
        found = await variants(orm, rid)
        if through and len(found) == 1:  # Odoo's inverse: only a single variant gets it
            await orm.write_one("product.product", found[0]["id"], through)
    return True


def install(orm: Orm) -> None:
    m = orm.methods
    for name in TEMPLATE_FIELDS:
        if name != "active":
            m[("product.product", f"compute:{name}")] = _inherited(name)
    m[("product.product", "compute:price_extra")] = _price_extra
    m[("product.product", "compute:lst_price")] = _lst_price
    for name in THROUGH_VARIANT:
        m[("product.template", f"compute:{name}")] = _through_variant(name)
    m[("product.template", "compute:product_variant_count")] = _variant_count
    m[("product.template", "compute:product_variant_ids")] = _variant_ids
    m[("product.template", "create")] = _create_template
    m[("product.template", "write")] = _write_template
