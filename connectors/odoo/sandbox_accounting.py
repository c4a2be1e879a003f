"""Accounting behaviour of the Odoo sandbox: invoice amounts, posting, registering payments.

Amounts follow ``round_per_line`` (the l10n_es default): each line's tax is rounded to the
cent, negative-rate taxes (IRPF) lower ``amount_tax`` as they do in Odoo. Posting numbers the
invoice ``INV/<year>/<seq>`` (``RINV`` for refunds) and sets the due date from the payment
term. ``account.payment.register`` + ``action_create_payments`` emulates the wizard's effect:
a posted ``account.payment`` reconciled with the invoices, whose ``amount_residual`` drops and
``payment_state`` becomes ``partial`` or ``paid``; the partner's ``credit`` follows.
A customer payment created directly (``account.payment`` ``create`` + ``action_post``) is a
payment on account: posted, reconciled with nothing, it lowers the partner's ``credit`` by
its whole amount. Odoo's SQL constraint refuses a negative amount; the journal must be a bank
or cash one (Odoo's default is the first bank journal; that a journal of another type is
refused on create is UNVERIFIED: the form only offers those); posting needs a draft payment
with a partner and an amount above zero (UNVERIFIED: the strict reading).
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.odoo.sandbox_domain import UserError, ValidationError
from connectors.odoo.sandbox_models import MODELS
from connectors.odoo.sandbox_orm import Orm, User
from connectors.odoo.sandbox_partners import commercial_partner, increase_rank

__all__ = ["install"]

Rec = dict[str, Any]
CENT = Decimal("0.01")
INVOICE_TYPES = ("out_invoice", "out_refund")
EDITABLE_WHEN_POSTED = frozenset({"ref", "narration", "payment_reference"})


def money(value: Decimal) -> float:
    return float(value.quantize(CENT, ROUND_HALF_UP))


async def line_amounts(orm: Orm, line: Rec) -> tuple[Decimal, Decimal]:
    """(price_subtotal, tax) of one line, tax rounded per line and per tax."""
    base = (Decimal(str(line.get("quantity") or 0)) * Decimal(str(line.get("price_unit") or 0))
            * (1 - Decimal(str(line.get("discount") or 0)) / 100)).quantize(CENT, ROUND_HALF_UP)
    tax = Decimal(0)
    for tax_id in line.get("tax_ids") or []:
        rec = await orm.get("account.tax", tax_id) or {}
        tax += (base * Decimal(str(rec.get("amount") or 0)) / 100).quantize(CENT, ROUND_HALF_UP)
    return base, tax


async def move_amounts(orm: Orm, move: Rec) -> tuple[Decimal, Decimal]:
    untaxed, tax = Decimal(0), Decimal(0)
    for line in await orm.rows("account.move.line"):
        if line.get("move_id") == move["id"] and (line.get("display_type") or "product") == "product":
            base, line_tax = await line_amounts(orm, line)
            untaxed, tax = untaxed + base, tax + line_tax
    return untaxed, tax


async def _untaxed(orm: Orm, move: Rec) -> float:
    return money((await move_amounts(orm, move))[0])


async def _tax(orm: Orm, move: Rec) -> float:
    return money((await move_amounts(orm, move))[1])


async def _total(orm: Orm, move: Rec) -> float:
    untaxed, tax = await move_amounts(orm, move)
    return money(untaxed + tax)


async def _total_signed(orm: Orm, move: Rec) -> float:
    """The total in the company currency, negative for refunds. The sandbox has one currency
    (EUR, the company's), so it is the total itself with the move's sign."""
    total = await _total(orm, move)
    return -total if move.get("move_type") in ("out_refund", "in_invoice") else total


async def _residual(orm: Orm, move: Rec) -> float:
    total = Decimal(str(await _total(orm, move)))
    return money(max(Decimal(0), total - Decimal(str(move.get("_paid", 0)))))


async def _payment_state(orm: Orm, move: Rec) -> str:
    if move.get("state") != "posted" or move.get("move_type") == "entry":
        return "not_paid"
    paid = Decimal(str(move.get("_paid", 0)))
    if paid <= 0:
        return "not_paid"
    return "paid" if await _residual(orm, move) == 0 else "partial"


async def _subtotal(orm: Orm, line: Rec) -> float:
    return money((await line_amounts(orm, line))[0])


async def _line_total(orm: Orm, line: Rec) -> float:
    base, tax = await line_amounts(orm, line)
    return money(base + tax)


async def _matched(orm: Orm, move: Rec) -> list[int]:
    return [p["id"] for p in await orm.rows("account.payment")
            if move["id"] in (p.get("reconciled_invoice_ids") or [])]


async def _credit(orm: Orm, partner: Rec) -> float:
    """Receivable balance: open invoices minus open refunds minus unapplied payments."""
    total = Decimal(0)
    for move in await orm.rows("account.move"):
        if move.get("partner_id") == partner["id"] and move.get("state") == "posted":
            residual = Decimal(str(await _residual(orm, move)))
            if move.get("move_type") == "out_invoice":
                total += residual
            elif move.get("move_type") == "out_refund":
                total -= residual
    for pay in await orm.rows("account.payment"):
        if pay.get("partner_id") == partner["id"] and pay.get("state") == "posted":
            total -= Decimal(str(pay.get("amount") or 0)) - Decimal(str(pay.get("_applied", 0)))
    return money(total)


async def _guard_move_write(orm: Orm, model: str, args: list[Any], kwargs: Rec,
                            user: User) -> bool:
    ids = args[0] if args else kwargs.get("ids", [])
    vals = args[1] if len(args) > 1 else kwargs.get("vals")
    ids = [ids] if isinstance(ids, int) else list(ids)
    for rid in ids:
        move = await orm.get("account.move", rid)
        if move and move.get("state") == "posted" and set(vals or {}) - EDITABLE_WHEN_POSTED:
            raise UserError("You cannot modify a posted entry of this journal because it is in "
                            f"strict mode: {move.get('name')} (fields "
                            f"{', '.join(sorted(set(vals) - EDITABLE_WHEN_POSTED))})")
    return await orm.m_write(model, ids, vals or {})


async def _guard_line(orm: Orm, model: str, args: list[Any], kwargs: Rec, user: User) -> Any:
    method = kwargs.pop("__method")
    if method == "create":
        vals_list = args[0] if args else kwargs.get("vals_list")
        for vals in [vals_list] if isinstance(vals_list, dict) else vals_list:
            await _check_parent_draft(orm, vals.get("move_id"))
        return await orm.m_create(model, vals_list)
    ids = args[0] if args else kwargs.get("ids")
    for rid in [ids] if isinstance(ids, int) else ids:
        line = await orm.get(model, rid) or {}
        await _check_parent_draft(orm, line.get("move_id"))
    return await getattr(orm, f"m_{method}")(model, *args, **kwargs)


async def _check_parent_draft(orm: Orm, move_id: Any) -> None:
    move = await orm.get("account.move", move_id) if isinstance(move_id, int) else None
    if move is not None and move.get("state") == "posted":
        raise UserError(f"You cannot modify the lines of the posted entry {move.get('name')}.")


def _line_handler(method: str) -> Any:
    async def handler(orm: Orm, model: str, args: list[Any], kwargs: Rec, user: User) -> Any:
        return await _guard_line(orm, model, args, {**kwargs, "__method": method}, user)
    return handler


async def _next_name(orm: Orm, prefix: str, year: int) -> str:
    start = f"{prefix}/{year}/"
    used = [m["name"] for m in await orm.rows("account.move") if str(m.get("name")).startswith(start)]
    used += [p["name"] for p in await orm.rows("account.payment")
             if str(p.get("name")).startswith(start)]
    return f"{start}{len(used) + 1:05d}"


async def post_move(orm: Orm, rid: int) -> None:
    move = await orm.get("account.move", rid)
    if move is None:
        raise UserError(f"Record does not exist or has been deleted. (Record: account.move({rid},))")
    if move.get("state") != "draft":
        raise UserError(f"The entry {move.get('name')} (id {rid}) is already posted.")
    lines = [ln for ln in await orm.rows("account.move.line") if ln.get("move_id") == rid]
    if not lines:
        raise UserError("You need to add a line before posting.")
    if move.get("move_type") in INVOICE_TYPES and not move.get("partner_id"):
        raise UserError("The field 'Customer' is required, please complete it to validate the "
                        "Customer Invoice.")
    today = orm.clock().date()
    invoice_date = dt.date.fromisoformat(move.get("invoice_date") or today.isoformat())
    due = invoice_date
    if move.get("invoice_payment_term_id"):
        days = [ln.get("nb_days") or 0 for ln in await orm.rows("account.payment.term.line")
                if ln.get("payment_id") == move["invoice_payment_term_id"]]
        due = invoice_date + dt.timedelta(days=max(days or [0]))
    if move.get("move_type") in INVOICE_TYPES:
        await increase_rank(orm, move.get("partner_id"), "customer_rank")
    prefix = "RINV" if move.get("move_type") == "out_refund" else "INV"
    await orm.write_one("account.move", rid, {
        "state": "posted", "invoice_date": invoice_date.isoformat(),
        "invoice_date_due": move.get("invoice_date_due") or due.isoformat(),
        "name": await _next_name(orm, prefix, invoice_date.year)}, internal=True)


async def _action_post(orm: Orm, model: str, args: list[Any], kwargs: Rec, user: User) -> bool:
    ids = args[0] if args else kwargs.get("ids", [])
    for rid in [ids] if isinstance(ids, int) else ids:
        await post_move(orm, rid)
    return False


async def _create_move(orm: Orm, model: str, args: list[Any], kwargs: Rec, user: User) -> Any:
    vals_list = args[0] if args else kwargs.get("vals_list")
    single = isinstance(vals_list, dict)
    ids = []
    for vals in [vals_list] if single else vals_list:
        vals = dict(vals)
        if vals.get("move_type") in INVOICE_TYPES:
            vals.setdefault("journal_id", 1)
            vals.setdefault("currency_id", 1)
        ids.append(await orm.create_one(model, vals))
        await orm.write_one(model, ids[-1], {"state": "draft"}, internal=True)
    return ids[0] if single else ids


async def _create_register(orm: Orm, model: str, args: list[Any], kwargs: Rec,
                           user: User) -> Any:
    context = kwargs.get("context") or {}
    if context.get("active_model") != "account.move" or not context.get("active_ids"):
        raise UserError("The register payment wizard should only be called on account.move or "
                        "account.move.line records.")
    moves = [await orm.get("account.move", i) for i in context["active_ids"]]
    if any(m is None or m.get("state") != "posted" for m in moves):
        raise UserError("You can only register payment for posted journal entries.")
    residual = Decimal(0)
    partners = set()
    for move in moves:
        assert move is not None
        residual += Decimal(str(await _residual(orm, move)))
        # The receivable line's partner: the invoice's commercial partner.
        partners.add(await commercial_partner(orm, move.get("partner_id")))
    if residual <= 0:
        raise UserError("You can't register a payment because there is nothing left to pay on "
                        "the selected journal items.")
    if len(partners) != 1:
        raise UserError("You can't register payments for journal items of different partners "
                        "in one batch.")
    vals_list = args[0] if args else kwargs.get("vals_list")
    single = isinstance(vals_list, dict)
    ids = []
    for vals in [vals_list] if single else vals_list:
        vals = {"amount": money(residual), "journal_id": 3,
                "payment_date": orm.clock().date().isoformat(), **vals}
        rid = await orm.create_one(model, vals)
        await orm.write_one(model, rid, {"partner_id": partners.pop() if partners else None,
                                         "line_ids": [[6, 0, list(context["active_ids"])]]},
                            internal=True)
        ids.append(rid)
    return ids[0] if single else ids


async def _action_create_payments(orm: Orm, model: str, args: list[Any], kwargs: Rec,
                                  user: User) -> Rec:
    ids = args[0] if args else kwargs.get("ids", [])
    payment_ids = []
    for wid in [ids] if isinstance(ids, int) else ids:
        wizard = await orm.get(model, wid)
        if wizard is None:
            raise UserError(f"Record does not exist or has been deleted. (Record: {model}({wid},))")
        amount = Decimal(str(wizard.get("amount") or 0))
        if amount <= 0:
            raise ValidationError("The payment amount must be strictly positive.")
        moves = [await orm.get("account.move", i) for i in wizard.get("line_ids") or []]
        refund = all(m and m.get("move_type") == "out_refund" for m in moves)
        date = dt.date.fromisoformat(wizard.get("payment_date"))
        journal = await orm.get("account.journal", wizard.get("journal_id") or 3) or {}
        pid = await orm.create_one("account.payment", {
            "payment_type": "outbound" if refund else "inbound", "partner_type": "customer",
            "partner_id": wizard.get("partner_id"), "amount": float(amount),
            "currency_id": 1, "date": date.isoformat(), "journal_id": journal.get("id", 3),
            "ref": wizard.get("communication") or ", ".join(str(m.get("name")) for m in moves if m)})
        remaining, applied = amount, Decimal(0)
        for move in moves:
            assert move is not None
            take = min(remaining, Decimal(str(await _residual(orm, move))))
            remaining -= take
            applied += take
            move["_paid"] = float(Decimal(str(move.get("_paid", 0))) + take)
            await orm.put("account.move", move)
            await orm.write_one("account.move", move["id"], {}, internal=True)  # write_date
        name = await _next_name(orm, f"P{journal.get('code', 'BNK1')}", date.year)
        await orm.write_one("account.payment", pid, {
            "state": "posted", "name": name,
            "reconciled_invoice_ids": [[6, 0, [m["id"] for m in moves if m]]]}, internal=True)
        payment = await orm.get("account.payment", pid) or {}
        payment["_applied"] = float(applied)
        await orm.put("account.payment", payment)
        payment_ids.append(pid)
    if len(payment_ids) == 1:
        return {"name": "Payments", "type": "ir.actions.act_window",
                "res_model": "account.payment", "context": {"create": False},
                "view_mode": "form", "res_id": payment_ids[0]}
    return {"name": "Payments", "type": "ir.actions.act_window", "res_model": "account.payment",
            "view_mode": "tree,form", "domain": [["id", "in", payment_ids]]}


async def _create_payment(orm: Orm, model: str, args: list[Any], kwargs: Rec,
                          user: User) -> Any:
    vals_list = args[0] if args else kwargs.get("vals_list")
    if isinstance(vals_list, dict):
        return await _create_one_payment(orm, model, vals_list)
    return [await _create_one_payment(orm, model, vals) for vals in vals_list]


async def _create_one_payment(orm: Orm, model: str, vals: Rec) -> int:
    vals = dict(vals)
    if Decimal(str(vals.get("amount") or 0)) < 0:
        raise ValidationError("The payment amount cannot be negative.")
    banks = [j for j in await orm.rows("account.journal") if j.get("type") in ("bank", "cash")]
    vals.setdefault("journal_id", banks[0]["id"] if banks else False)
    journal = await orm.get("account.journal", vals["journal_id"]) if vals["journal_id"] else None
    if journal is None or journal.get("type") not in ("bank", "cash"):
        raise ValidationError("A payment must belong to a bank or cash journal.")
    vals.setdefault("date", orm.clock().date().isoformat())
    vals.setdefault("currency_id", 1)
    rid = await orm.create_one(model, vals)
    await orm.write_one(model, rid, {"state": "draft"}, internal=True)
    return rid


async def _post_payment(orm: Orm, model: str, args: list[Any], kwargs: Rec, user: User) -> bool:
    ids = args[0] if args else kwargs.get("ids", [])
    for rid in [ids] if isinstance(ids, int) else ids:
        payment = await orm.get(model, rid)
        if payment is None:
            raise UserError(f"Record does not exist or has been deleted. (Record: {model}({rid},))")
        if payment.get("state") != "draft":
            raise UserError(f"Only a draft payment can be posted ({payment.get('name')}).")
        if not payment.get("partner_id"):
            raise UserError("A customer payment needs a customer to be posted.")
        if Decimal(str(payment.get("amount") or 0)) <= 0:
            raise UserError("The payment amount must be strictly positive.")
        journal = await orm.get("account.journal", payment.get("journal_id")) or {}
        date = dt.date.fromisoformat(payment["date"])
        name = await _next_name(orm, f"P{journal.get('code', 'BNK1')}", date.year)
        await orm.write_one(model, rid, {"state": "posted", "name": name}, internal=True)
    return False


def install(orm: Orm) -> None:
    m = orm.methods
    for name, fn in (("amount_untaxed", _untaxed), ("amount_tax", _tax), ("amount_total", _total),
                     ("amount_total_signed", _total_signed),
                     ("amount_residual", _residual), ("payment_state", _payment_state),
                     ("matched_payment_ids", _matched)):
        m[("account.move", f"compute:{name}")] = lambda o, r, f=fn: f(o, r)
    m[("account.move.line", "compute:price_subtotal")] = _subtotal
    m[("account.move.line", "compute:price_total")] = _line_total
    m[("res.partner", "compute:credit")] = _credit
    m[("account.move", "create")] = _create_move
    m[("account.move", "write")] = _guard_move_write
    m[("account.move", "action_post")] = _action_post
    for method in ("create", "write", "unlink"):
        m[("account.move.line", method)] = _line_handler(method)
    m[("account.payment", "create")] = _create_payment
    m[("account.payment", "action_post")] = _post_payment
    m[("account.payment.register", "create")] = _create_register
    m[("account.payment.register", "action_create_payments")] = _action_create_payments
    assert all(model in MODELS for model, _ in m)
