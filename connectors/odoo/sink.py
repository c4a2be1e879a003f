"""Odoo sink: payments registered against Odoo invoices, contact data written to partners.

Idempotency (design.md section 4), in this order, for every command:

1. the ledger: the command id is done -> ``already_done`` with the recorded target id;
2. the links: the command names the entity's Odoo id (``target_id`` / ``links["odoo"]``, or the
   entity was born in Odoo: ``contact/odoo/7``);
3. Odoo itself: a payment whose ``ref`` is the payment's entity key, a partner whose ``ref`` is
   the contact's entity key (we write those external references on create);
4. only then create, and record the result.

A payment found at 2 or 3 is read back: if its amount or date differ from the command (edited
at its origin since) or the command is a delete, the command is parked with both values
(connectors.base.written_payment); a written payment is never corrected automatically.

A payment on account (no ``invoice_key``) is an ``account.payment`` of the customer, created
and posted (``action_post``) and reconciled with nothing: the partner's receivable balance
drops, no invoice moves. Its partner is the contact's Odoo id (born in Odoo, or found by the
``ref`` the contact sink wrote); a contact not in Odoo yet is a pending dependency, retried.

A payment of an invoice goes through ``account.payment.register`` (context ``active_model=account.move``,
``active_ids=[invoice]``) and ``action_create_payments``: one call that creates, posts and
reconciles, so the invoice's ``amount_residual`` / ``payment_state`` and the partner's
balance move together, and a lost response leaves either nothing or everything.

A contact update first compares the partner's ``write_date`` with the newest one this engine
knew (connectors.base.unseen_change): if Odoo changed the partner since, the command is parked
instead of overwriting a change the engine has not seen yet. Odoo's ``write_date`` has whole
seconds: a change in the same second as our write goes unseen by this guard.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from app.core.hashing import canonical_json
from app.mapping import Mapping
from app.mapping.errors import Unmappable
from connectors.base import identifiers
from connectors.base.contracts import DONE, DependencyPending, Ledger, SinkOutcome, result
from connectors.base.errors import SkipRecord
from connectors.base.unseen_change import (
    parked_for_good, remember, unseen_reason, unseen_since,
)
from connectors.base.written_payment import changed_reason, deleted_reason, differences
from connectors.odoo.client import OdooClient
from connectors.odoo.mapping import (
    HELD_FIELDS, contact_from_odoo, on_account_vals, partner_vals, payment_register_vals,
)
from connectors.odoo.source import OdooSource, parse_odoo_ts

__all__ = ["OdooSink"]

logger = logging.getLogger(__name__)

SYSTEM = "odoo"
PARTNER_FIELDS = ["name", "is_company", "vat", "email", "phone", "mobile", "street", "city",
                  "zip", "country_id", "lang", "customer_rank", "supplier_rank", "bank_ids",
                  "property_payment_term_id", "property_product_pricelist", "write_date", "ref"]


def _odoo_id(key: str, entity: str) -> int | None:
    prefix = f"{entity}/{SYSTEM}/"
    rest = key[len(prefix):] if key.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


# What a written payment is compared on, read again after its post when that was lost.
_WRITTEN_PAYMENT_FIELDS = ["amount", "date", "state", "reconciled_invoice_ids", "name"]


class OdooSink:
    system = SYSTEM

    def __init__(self, client: OdooClient, mapping: Mapping, ledger: Ledger, *,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.client, self.mapping, self.ledger = client, mapping, ledger
        self._now_ms = now_ms
        self._source = OdooSource(client, mapping)  # for the catalog and read-backs

    async def execute(self, command: dict[str, Any]) -> SinkOutcome:
        done = self.ledger.get(command["command_id"])
        if done is not None and done.get("status") in DONE:  # a re-driven parked one runs
            return SinkOutcome(self._result(command, "already_done", done.get("target_id")))
        try:
            if command["entity"] == "payment":
                outcome = await self._payment(command)
            elif command["entity"] == "contact":
                outcome = await self._contact(command)
            else:
                outcome = SinkOutcome(self._result(
                    command, "parked", None,
                    reason=f"the Odoo sink does not write {command['entity']} records"))
        except Unmappable as error:
            outcome = SinkOutcome(self._result(command, "parked", None, reason=str(error),
                                               mapping_version=error.mapping_version),
                                  parked_kind="mapping")
        except SkipRecord as error:
            outcome = SinkOutcome(self._result(command, "parked", None, reason=str(error)))
        if outcome.result["status"] in DONE:
            self.ledger.put(command["command_id"], outcome.result)
        return outcome

    # ---- payments ----------------------------------------------------------------------------
    async def _payment(self, command: dict[str, Any]) -> SinkOutcome:
        payload = command["payload"]
        key = command["entity_key"]
        known = (_int(command.get("target_id"))
                 or _int((command.get("links") or {}).get(SYSTEM)))
        status = "already_done"
        if known is None:
            found = await self.client.search("account.payment", [("ref", "=", key)], limit=1)
            if found:
                logger.info("payment %s already in Odoo as %s (a lost response?)", key, found[0])
                known, status = found[0], "succeeded"
        if known is not None:
            return await self._written_payment(command, known, status)
        if payload is None or command.get("op") == "delete":
            return SinkOutcome(self._result(command, "succeeded", None,
                                            reason="deleted before it was written to Odoo"))
        if not payload.get("invoice_key"):
            return await self._on_account(command)
        invoice_id = _odoo_id(payload["invoice_key"], "invoice")
        if invoice_id is None:
            return SinkOutcome(self._result(
                command, "parked", None,
                reason=f"invoice {payload.get('invoice_key')!r} is not an Odoo invoice"))
        catalog = await self._source.catalog()
        vals = payment_register_vals(payload, entity_key_=key, catalog=catalog,
                                     mapping=self.mapping)
        context = {"active_model": "account.move", "active_ids": [invoice_id]}
        wizard = await self.client.create("account.payment.register", vals, context=context)
        action = await self.client.call("account.payment.register", "action_create_payments",
                                        [wizard])
        payment_id = action.get("res_id") if isinstance(action, dict) else None
        if not payment_id:
            ids = await self.client.search("account.payment", [("ref", "=", key)], limit=1)
            payment_id = ids[0] if ids else None
        if not payment_id:
            raise SkipRecord(f"Odoo registered no payment for {key}")
        return SinkOutcome(self._result(command, "succeeded", str(payment_id),
                                        mapping_version=self.mapping.version))

    async def _on_account(self, command: dict[str, Any]) -> SinkOutcome:
        """Create and post the customer's payment on account (the search by ``ref`` has found
        none: a lost answer of an earlier try is found there, never created twice)."""
        key, payload = command["entity_key"], command["payload"]
        partner_id = await self._partner_of(payload["contact_key"])
        vals = on_account_vals(payload, entity_key_=key, partner_id=partner_id,
                               catalog=await self._source.catalog(), mapping=self.mapping)
        payment_id = await self.client.create("account.payment", vals)
        await self.client.call("account.payment", "action_post", [payment_id])
        return SinkOutcome(self._result(command, "succeeded", str(payment_id),
                                        mapping_version=self.mapping.version))

    async def _partner_of(self, contact_key: str) -> int:
        """The contact's partner: born in Odoo, or created by this sink (``ref`` = its key)."""
        partner_id = _odoo_id(contact_key, "contact")
        if partner_id is None:
            found = await self.client.search("res.partner", [("ref", "=", contact_key)], limit=1)
            if not found:
                raise DependencyPending([contact_key])
            partner_id = found[0]
        elif not await self.client.read("res.partner", [partner_id], ["id"]):
            raise SkipRecord(f"{contact_key}: Odoo partner {partner_id} does not exist")
        return partner_id

    async def _written_payment(self, command: dict[str, Any], payment_id: int,
                               status: str) -> SinkOutcome:
        """A payment already in Odoo: done if it still holds the command's amount and date;
        parked when it was changed or deleted at its origin since (connectors.base.written_payment)."""
        key, payload = command["entity_key"], command["payload"]
        what = f"Odoo payment {payment_id}"
        if payload is None or command.get("op") == "delete":
            return SinkOutcome(self._result(command, "parked", str(payment_id),
                                            reason=deleted_reason(what, key)))
        rows = await self.client.read("account.payment", [payment_id], _WRITTEN_PAYMENT_FIELDS)
        if rows and _never_posted(rows[0]) and not payload.get("invoice_key") \
                and not differences(payload, amount=rows[0].get("amount"), date=rows[0].get("date")):
            # Our payment on account, created but its post lost: finish that write (a draft
            # somebody reset keeps its name, and is not posted again here).
            await self.client.call("account.payment", "action_post", [payment_id])
            rows = await self.client.read("account.payment", [payment_id], _WRITTEN_PAYMENT_FIELDS)
        if not rows:
            diffs = ["it no longer exists in Odoo"]
        else:
            state = rows[0].get("state")
            diffs = differences(payload, amount=rows[0].get("amount"), date=rows[0].get("date"),
                                void=None if state == "posted" else f"it is {state} in Odoo")
            if payload.get("invoice_key") and not rows[0].get("reconciled_invoice_ids"):
                # Written on account, now it names its invoice: reconciling is Odoo's work.
                diffs.append(f"it is on account there, not applied to {payload['invoice_key']}; "
                             "reconcile it with that invoice in Odoo")
        if diffs:
            return SinkOutcome(self._result(command, "parked", str(payment_id),
                                            reason=changed_reason(what, key, diffs)))
        return SinkOutcome(self._result(command, status, str(payment_id)))

    # ---- contacts ----------------------------------------------------------------------------
    async def _contact(self, command: dict[str, Any]) -> SinkOutcome:
        key = command["entity_key"]
        payload = command["payload"] or {}
        catalog = await self._source.catalog()
        vals = partner_vals(payload, catalog, self.mapping)
        partner_id = (_int(command.get("target_id")) or _int((command.get("links") or {}).get(SYSTEM))
                      or _odoo_id(key, "contact"))
        if partner_id is None:
            found = await self.client.search("res.partner", [("ref", "=", key)], limit=1)
            partner_id = found[0] if found else None
        if partner_id is None:
            partner_id = await self.client.create("res.partner", {**vals, "ref": key})
            await self._set_iban(partner_id, payload.get("iban"), [])
            await self._remember(partner_id)
            return SinkOutcome(self._result(command, "succeeded", str(partner_id),
                                            mapping_version=self.mapping.version))
        rows = await self.client.read("res.partner", [partner_id], PARTNER_FIELDS)
        if not rows:
            raise SkipRecord(f"Odoo partner {partner_id} does not exist")
        partner = rows[0]
        banks = await self.client.read("res.partner.bank", partner.get("bank_ids") or [],
                                       ["acc_number", "partner_id"])
        current = contact_from_odoo(partner, banks, catalog)
        fields = HELD_FIELDS["contact"]
        if all(canonical_json(current.get(f)) == canonical_json(payload.get(f)) for f in fields):
            await self._remember(partner_id, partner)
            return SinkOutcome(self._result(command, "already_done", str(partner_id)))
        changed = parse_odoo_ts(partner.get("write_date"))
        base = unseen_since(self.ledger, str(partner_id), command, changed)
        if base is not None:
            return self._unseen_change(command, partner_id, changed, base)
        await self.client.write("res.partner", [partner_id], vals)
        await self._set_iban(partner_id, payload.get("iban"), banks)
        await self._remember(partner_id)
        return SinkOutcome(self._result(command, "succeeded", str(partner_id),
                                        mapping_version=self.mapping.version))

    async def _set_iban(self, partner_id: int, iban: str | None,
                        banks: list[dict[str, Any]]) -> None:
        if not iban:
            # Cleared elsewhere: the account the source reads as the IBAN goes, or the poller
            # would report it back and the engine take it for an edit made in Odoo.
            if banks:
                await self.client.call("res.partner.bank", "unlink", [banks[0]["id"]])
            return
        if banks and identifiers.iban(banks[0].get("acc_number")) == iban:
            return
        if banks:
            await self.client.write("res.partner.bank", [banks[0]["id"]], {"acc_number": iban})
        else:
            await self.client.create("res.partner.bank", {"partner_id": partner_id,
                                                          "acc_number": iban})

    async def _remember(self, partner_id: int, partner: dict[str, Any] | None = None) -> None:
        """Keep the ``write_date`` our write (or a check that found nothing to write) left."""
        if partner is None:
            rows = await self.client.read("res.partner", [partner_id], ["write_date"])
            partner = rows[0] if rows else {}
        remember(self.ledger, str(partner_id), parse_odoo_ts(partner.get("write_date")))

    def _unseen_change(self, command: dict[str, Any], partner_id: int, changed: dt.datetime,
                       base: dt.datetime) -> SinkOutcome:
        reason = unseen_reason(f"Odoo partner {partner_id}", changed.isoformat(), base)
        return parked_for_good(self._result(command, "parked", str(partner_id), reason=reason))

    def _result(self, command: dict[str, Any], status: str, target_id: str | None, *,
                reason: str | None = None, mapping_version: int | None = None) -> dict[str, Any]:
        return result(command, status, self._now_ms(), target_id=target_id, reason=reason,
                      mapping_version=mapping_version)


def _never_posted(payment: dict[str, Any]) -> bool:
    """A draft that never had a number (Odoo names a payment when it is first posted)."""
    return payment.get("state") == "draft" and payment.get("name") in (None, False, "", "/")


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None

