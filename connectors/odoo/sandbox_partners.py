"""Partners in the Odoo sandbox as Odoo 17 keeps them: companies, their people and addresses.

A partner with a ``parent_id`` that is not a company is a contact person or an address
(``type`` contact / invoice / delivery / other) of its parent; its ``commercial_partner_id`` is
its parent's commercial partner, and every other partner is its own. Commercial fields (here
``vat``) follow the commercial partner: a child gets its company's on create, and a company's
change reaches its children (``_commercial_sync_from_company`` / ``_commercial_sync_to_children``).
Posting a customer invoice raises the ``customer_rank`` of its partner and of that partner's
commercial partner by a plain SQL UPDATE (``_increase_rank``): ``write_date`` does not move.
An invoice's ``commercial_partner_id`` is its partner's.
"""
from __future__ import annotations

from typing import Any

from connectors.odoo.sandbox_orm import Orm, User

__all__ = ["commercial_partner", "increase_rank", "install"]

Rec = dict[str, Any]
COMMERCIAL_FIELDS = ("vat",)


async def commercial_partner(orm: Orm, partner_id: Any) -> int | None:
    seen: set[int] = set()
    while isinstance(partner_id, int) and partner_id not in seen:
        seen.add(partner_id)
        rec = await orm.get("res.partner", partner_id)
        if rec is None:
            return None
        if rec.get("is_company") or not rec.get("parent_id"):
            return partner_id
        partner_id = rec["parent_id"]
    return None


async def increase_rank(orm: Orm, partner_id: Any, field: str) -> None:
    """``_increase_rank``: the partner and its commercial partner, write_date untouched."""
    ids = {partner_id, await commercial_partner(orm, partner_id)} - {None}
    for rid in sorted(ids):
        rec = await orm.get("res.partner", rid)
        if rec is not None:
            rec[field] = int(rec.get(field) or 0) + 1
            await orm.put("res.partner", rec)


async def _sync(orm: Orm, rid: int, vals: Rec) -> None:
    rec = await orm.get("res.partner", rid) or {}
    commercial = await commercial_partner(orm, rid)
    if commercial is not None and commercial != rid:
        source = await orm.get("res.partner", commercial) or {}
        fix = {f: source.get(f) or False for f in COMMERCIAL_FIELDS
               if (source.get(f) or None) != (rec.get(f) or None)}
        if fix:
            await orm.write_one("res.partner", rid, fix)
    elif commercial == rid and any(f in vals for f in COMMERCIAL_FIELDS):
        for child in await orm.rows("res.partner"):
            if child.get("parent_id") == rid and not child.get("is_company"):
                await _sync(orm, child["id"], {})


async def _create(orm: Orm, model: str, args: list[Any], kwargs: Rec, user: User) -> Any:
    vals_list = args[0] if args else kwargs.get("vals_list")
    single = isinstance(vals_list, dict)
    ids = []
    for vals in [vals_list] if single else vals_list:
        rid = await orm.create_one(model, {"type": "contact", **vals})
        await _sync(orm, rid, vals)
        ids.append(rid)
    return ids[0] if single else ids


async def _write(orm: Orm, model: str, args: list[Any], kwargs: Rec, user: User) -> bool:
    ids = args[0] if args else kwargs.get("ids", [])
    vals = args[1] if len(args) > 1 else kwargs.get("vals") or {}
    ids = [ids] if isinstance(ids, int) else list(ids)
    await orm.m_write(model, ids, vals)
    for rid in ids:
        await _sync(orm, rid, vals)
    return True


async def _partner_commercial(orm: Orm, partner: Rec) -> int | None:
    return await commercial_partner(orm, partner["id"])


async def _move_commercial(orm: Orm, move: Rec) -> int | None:
    return await commercial_partner(orm, move.get("partner_id"))


def install(orm: Orm) -> None:
    m = orm.methods
    m[("res.partner", "compute:commercial_partner_id")] = _partner_commercial
    m[("account.move", "compute:commercial_partner_id")] = _move_commercial
    m[("res.partner", "create")] = _create
    m[("res.partner", "write")] = _write
