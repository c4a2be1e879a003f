"""Read-back checks of the Holded sink: what Holded stored against what was mapped and sent.

Pure. Each check returns :class:`Mismatch` values (field, what we sent, what Holded holds);
the sink turns them into Conflict records with ``decision="kept_canonical"`` and
``policy="operator"``: the canonical record stays the truth, a person decides what to do
with the Holded copy. Amounts are compared to the cent, tax keys as sets, withholding as
each line's retention rate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.core.hashing import canonical_json
from app.mapping import Mapping, TaxKind
from connectors.holded.lookup import sync_key_of
from connectors.holded.mapping import HoldedRequest, holded_iban, holded_tax_id
from connectors.holded.service_mapping import sku_of_service

__all__ = ["Mismatch", "conflicts", "check_contact", "check_document", "check_product",
           "check_service", "cents"]

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    sent: Any
    stored: Any

    def __str__(self) -> str:
        return f"{self.field}: sent {_show(self.sent)}, Holded holds {_show(self.stored)}"


def cents(value: Any) -> Decimal | None:
    """An amount as Decimal cents; floats go through their shortest text, never binary."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        return None


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def check_document(request: HoldedRequest, stored: MappingABC[str, Any], *, entity_key: str,
                   mapping: Mapping) -> list[Mismatch]:
    """Totals, tax keys, withholding, line prices, currency and exchange rate and the sync key
    of a written document."""
    found: list[Mismatch] = []
    if sync_key_of(dict(stored)) != entity_key:
        found.append(Mismatch("customFields.holded_sync_key", entity_key, sync_key_of(dict(stored))))
    totals = request.totals
    if totals is not None:
        expected = {"subtotal": totals.subtotal, "tax": totals.tax_total - totals.withholding_total,
                    "total": totals.total}
        for name, amount in expected.items():
            if cents(stored.get(name)) != cents(amount):
                found.append(Mismatch(name, cents(amount), cents(stored.get(name))))
    # The currency and the rate Holded values the document at in euros: a field Holded drops
    # (unknown fields are dropped with a 2xx) would leave the amounts right and the euros wrong.
    body = request.body
    if body.get("currency") and str(stored.get("currency") or "").lower() != body["currency"]:
        found.append(Mismatch("currency", body["currency"], stored.get("currency")))
    if body.get("currencyChange") is not None and \
            _number(stored.get("currencyChange")) != _number(body["currencyChange"]):
        found.append(Mismatch("currencyChange", _number(body["currencyChange"]),
                              _number(stored.get("currencyChange"))))
    sent_lines = list(request.body.get("items") or [])
    stored_lines = list(stored.get("products") or [])
    if len(sent_lines) != len(stored_lines):
        found.append(Mismatch("lines", len(sent_lines), len(stored_lines)))
    for number, (sent, got) in enumerate(zip(sent_lines, stored_lines, strict=False), start=1):
        where = f"lines[{number}]"
        if sorted(sent.get("taxes") or []) != sorted(got.get("taxes") or []):
            found.append(Mismatch(f"{where}.taxes", sorted(sent.get("taxes") or []),
                                  sorted(got.get("taxes") or [])))
        withheld = _withholding_rate(sent.get("taxes") or [], mapping)
        if _number(got.get("retention") or 0) != withheld:
            found.append(Mismatch(f"{where}.withholding", withheld, _number(got.get("retention"))))
        if cents(sent.get("subtotal")) != cents(got.get("price")):
            found.append(Mismatch(f"{where}.price", cents(sent.get("subtotal")),
                                  cents(got.get("price"))))
    return found


# What an accountant relies on in a contact besides its name: the NIF (347, SII, every
# invoice printed), customer or supplier, person or company (IRPF), the IBAN (remittances).
_CONTACT_CHECKED = ("code", "type", "isperson", "iban")
_FORMATTED = {"code": holded_tax_id, "iban": holded_iban}


def check_contact(request: HoldedRequest, stored: MappingABC[str, Any]) -> list[Mismatch]:
    """The external id the next search depends on, the name, and the NIF, type, person flag
    and IBAN that were sent (Holded drops a field it does not take and still answers 2xx)."""
    found = []
    if stored.get("customId") != request.body.get("CustomId"):
        found.append(Mismatch("customId", request.body.get("CustomId"), stored.get("customId")))
    if stored.get("name") != request.body.get("name"):
        found.append(Mismatch("name", request.body.get("name"), stored.get("name")))
    for name in _CONTACT_CHECKED:
        if name not in request.body:
            continue
        sent, got = request.body[name], stored.get(name)
        if name in _FORMATTED and isinstance(got, str):
            got = _FORMATTED[name](got)  # Holded may show them grouped (ES91 2100 ...)
        if got != sent:
            found.append(Mismatch(name, sent, stored.get(name)))
    return found


def check_product(request: HoldedRequest, stored: MappingABC[str, Any]) -> list[Mismatch]:
    """sku (the only key documents match on), price and tax keys."""
    found = []
    body = request.body
    if str(stored.get("sku") or "") != str(body.get("sku") or ""):
        found.append(Mismatch("sku", body.get("sku"), stored.get("sku")))
    if _number(stored.get("price")) != _number(body.get("price")):
        found.append(Mismatch("price", body.get("price"), _number(stored.get("price"))))
    if body.get("taxes") is not None and sorted(body["taxes"]) != sorted(stored.get("taxes") or []):
        found.append(Mismatch("taxes", sorted(body["taxes"]), sorted(stored.get("taxes") or [])))
    return found


def check_service(request: HoldedRequest, stored: MappingABC[str, Any], *, sku: str,
                  vat_keys: list[str]) -> list[Mismatch]:
    """The SKU marker (the only way the service is found again), name, net price and VAT.

    The read shape of a service is undocumented: a missing ``taxes`` list cannot be
    compared and is reported as a mismatch only when a VAT was sent."""
    body, found = request.body, []
    if sku_of_service(stored) != sku:
        found.append(Mismatch("desc.marker", sku, sku_of_service(stored)))
    if stored.get("name") != body.get("name"):
        found.append(Mismatch("name", body.get("name"), stored.get("name")))
    if _number(stored.get("subtotal")) != _number(body.get("subtotal")):
        found.append(Mismatch("subtotal", body.get("subtotal"), _number(stored.get("subtotal"))))
    if "tax" in body and sorted(vat_keys) != sorted(stored.get("taxes") or []):
        found.append(Mismatch("taxes", sorted(vat_keys), sorted(stored.get("taxes") or [])))
    return found


def conflicts(mismatches: list[Mismatch], command: MappingABC[str, Any], ts_ms: int
              ) -> list[dict[str, Any]]:
    """Conflict records (schemas/Conflict.avsc) for a command's read-back mismatches."""
    records = []
    for mismatch in mismatches:
        digest = hashlib.sha256(
            f"{command['command_id']}\x00{mismatch.field}".encode()).hexdigest()[:32]
        records.append({
            "conflict_id": digest, "entity_key": command["entity_key"], "field": mismatch.field,
            "canonical_system": "canonical", "canonical_value": canonical_json(mismatch.sent),
            "incoming_system": "holded", "incoming_value": canonical_json(mismatch.stored),
            "decision": "kept_canonical", "policy": "operator", "vector": dict(command["vector"]),
            "event_id": command.get("caused_by") or command["command_id"], "ts": ts_ms,
        })
    return records


def _withholding_rate(keys: list[str], mapping: Mapping) -> Decimal:
    system = mapping.systems.get("holded")
    rate = Decimal(0)
    for key in keys:
        code = system.taxes.to_canonical(key) if system is not None else None
        tax = mapping.taxes.get(code) if code is not None else None
        if tax is not None and tax.kind is TaxKind.WITHHOLDING:
            rate += tax.rate
    return rate


def _show(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else repr(value)
