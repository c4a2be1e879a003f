"""Document building rules of the sandbox (lines, contact resolution, numbering, payments).

The quirks kept on purpose (reference §2.3): lines go in as ``items`` (or ``products``)
and come back as ``products``; the unit price is ``subtotal`` (``price`` and
``productId`` are ignored on write); a line whose ``sku`` matches no product is
stored at price 0 with ``sku: 0``; a ``serviceId`` line takes the service's price and
taxes where it gives none (as a ``sku`` line does; UNVERIFIED for services) and comes back
with ``kind: "service"``; ``date`` is rounded to the day (Europe/Madrid) and kept exact in
``accountingDate``; drafts have ``docNumber: null`` and ``draft: true``, approved documents
``draft: null``.

Amounts are counted to the cent in decimals of 28 digits: lines or payments whose amounts
reach 10**26 cannot be, and are refused (``Wrong items``, ``Wrong amount``; what Holded does
with such amounts is UNVERIFIED: refused, the strict reading).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.holded.sandbox_http import BadRequest, SandboxState
from connectors.holded.sandbox_seed import SALES_DOC_TYPES
from connectors.holded.sandbox_store import is_object_id
from connectors.holded.sandbox_taxes import TAX_BY_KEY, compute_totals, default_vat_key, line_rates, round2

__all__ = ["build_lines", "resolve_contact", "assign_number", "apply_totals", "apply_payments",
           "check_custom_fields", "check_payments", "view_document", "day_of", "epoch_field",
           "MAX_EPOCH"]

logger = logging.getLogger(__name__)

_MADRID = zoneinfo.ZoneInfo("Europe/Madrid")
WAREHOUSE_DOC_TYPES = frozenset({"salesorder", "purchaseorder", "waybill"})


def scope_of(doc_type: str) -> str:
    return "sales" if doc_type in SALES_DOC_TYPES else "purchases"


# Dates are epoch seconds from 1970 up to the last whole day a calendar shows in every time
# zone (9999-12-30 UTC): a later one has no day in Madrid to round to. What Holded answers to
# a date out of that range is UNVERIFIED; refused like any other wrong date.
MAX_EPOCH = 253402214400


def epoch_field(body: dict[str, Any], name: str, error: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_EPOCH:
        raise BadRequest(error)
    return value


def check_custom_fields(fields: Any, error: str) -> None:
    """A document's custom fields: absent, or a list of ``{field, value}`` objects (reference
    2.3). v1 and v2 write the same stored list, so both refuse any other shape."""
    if fields is not None and (not isinstance(fields, list) or not all(
            isinstance(f, dict) and "field" in f for f in fields)):
        raise BadRequest(error)


def day_of(epoch: int) -> int:
    """Midnight (Madrid time) of the day holding ``epoch``."""
    local = dt.datetime.fromtimestamp(epoch, _MADRID)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def _num(item: dict[str, Any], name: str, default: float) -> float:
    value = item.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"Wrong {name}")
    return float(value)


def _counterpart(key: str, scope: str) -> str | None:
    """A product's sales key used on a purchase line becomes its purchase twin, if any."""
    if TAX_BY_KEY[key]["scope"] == scope:
        return key
    twin = ("p_" if scope == "purchases" else "s_") + key[2:]
    return twin if twin in TAX_BY_KEY else None


def _line_taxes(item: dict[str, Any], scope: str, catalogue: list[str] | None) -> list[str]:
    raw = item.get("taxes")
    if raw is not None and raw != "" and raw != []:
        keys = [k.strip() for k in raw.split(",")] if isinstance(raw, str) else raw
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadRequest("Wrong taxes")
        for key in keys:
            if key not in TAX_BY_KEY or TAX_BY_KEY[key]["scope"] != scope:
                raise BadRequest(f"Tax not found: {key}")
        return list(dict.fromkeys(keys))
    if "tax" in item and item["tax"] is not None:
        key = default_vat_key(item["tax"], scope)
        if key is None:
            raise BadRequest("Wrong tax")
        return [key]
    if catalogue:
        return [k for k in (_counterpart(c, scope) for c in catalogue) if k]
    return []


async def build_lines(state: SandboxState, items: Any, doc_type: str) -> list[dict[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadRequest("Wrong items")
    scope = scope_of(doc_type)
    by_sku = {str(p.get("sku")): p for p in await state.store.list("products") if p.get("sku")}
    lines = []
    for item in items:
        if item.get("sku") not in (None, "") and item.get("serviceId") not in (None, ""):
            raise BadRequest("Wrong items")  # UNVERIFIED, kept strict: a line is one or the other
        units = _num(item, "units", 1.0)
        subtotal = _num(item, "subtotal", 0.0)
        catalogue, product_id, kind, sku, name = None, None, "", item.get("sku"), item.get("name", "")
        price = subtotal
        if sku not in (None, ""):
            product = by_sku.get(str(sku))
            if product is None:
                price, sku = 0.0, 0  # the real quirk: unmatched sku -> a 0 EUR line
            else:
                catalogue, product_id, kind = product.get("taxes", []), product["id"], "product"
                price = subtotal if "subtotal" in item else product.get("price", 0.0)
                name = name or product.get("name", "")
        elif item.get("serviceId") not in (None, ""):
            service = await _service_of(state, item["serviceId"])
            catalogue, kind = service.get("taxes", []), "service"
            price = subtotal if "subtotal" in item else service.get("subtotal", 0.0)
            name = name or service.get("name", "")
        taxes = _line_taxes(item, scope, catalogue)
        vat, retention = line_rates(taxes)
        lines.append({
            "line_id": state.store.new_id(), "name": name, "desc": item.get("desc", ""), "price": price,
            "units": units, "tax": vat, "taxes": taxes, "discount": _num(item, "discount", 0.0),
            "retention": retention, "weight": 0, "costPrice": 0, "sku": sku if sku is not None else "",
            "productId": product_id, "projectid": None, "account": item.get("accountingAccountId", ""),
            "kind": kind, "supplied": item.get("supplied", "No"), "tags": item.get("tags", []),
        })
    try:  # nothing is written yet: the totals of lines that cannot be counted are refused now
        apply_totals({"products": lines, "_payments": []}, tax_base=state.line_tax_base)
    except InvalidOperation as exc:
        raise BadRequest("Wrong items") from exc
    return lines


async def _service_of(state: SandboxState, service_id: Any) -> dict[str, Any]:
    """The service a ``serviceId`` line names. What the real API does with an id that names
    no service is UNVERIFIED (an unknown ``sku`` gives a 0 EUR line): refused here, the
    strict choice, so a client can never rely on a line silently priced from nothing."""
    service = None
    if isinstance(service_id, str) and is_object_id(service_id):
        service = await state.store.get("services", service_id)
    if service is None:
        raise BadRequest("Service not found")
    return service


async def resolve_contact(state: SandboxState, body: dict[str, Any], doc_type: str) -> dict[str, Any] | None:
    if body.get("contactId"):
        contact = await state.store.get("contacts", str(body["contactId"]))
        if contact is None:
            raise BadRequest("Contact not found")
        return contact
    code = body.get("contactCode")
    if code:
        found = await state.store.find("contacts", code=code)
        if found:
            return found[0]
    if body.get("contactName"):  # a name alone creates a new contact, every time
        return await state.store.insert("contacts", {
            "name": body["contactName"], "code": code or "", "email": body.get("contactEmail", ""),
            "type": "client" if scope_of(doc_type) == "sales" else "supplier",
            "billAddress": {"address": body.get("contactAddress", ""), "city": body.get("contactCity", ""),
                            "postalCode": body.get("contactCp", ""), "province": body.get("contactProvince", ""),
                            "country": body.get("contactCountryCode", ""),
                            "countryCode": body.get("contactCountryCode", "")},
        })
    if code:
        raise BadRequest("Contact not found")
    return None


async def assign_number(state: SandboxState, doc: dict[str, Any], body: dict[str, Any]) -> None:
    """Approve: take the next number of the chosen (or default) series. At creation
    (``approveDoc``), and when a draft is paid or approved by hand (an empty ``body``: the
    default series).

    ``invoiceNum`` is kept on purchases (the supplier's number); on sales documents only when
    ``state.sales_invoice_num`` is "kept", and then a number another document of the type
    already has is refused (what Holded does with one is UNVERIFIED: refused, the strict
    choice)."""
    series_id = body.get("numSerieId")
    candidates = await state.store.find("numberingseries", type=doc["docType"])
    series = next((s for s in candidates if s["id"] == series_id), None) if series_id else \
        next((s for s in candidates if s.get("default")), candidates[0] if candidates else None)
    if series is None:
        raise BadRequest("Undefined type series")
    if scope_of(doc["docType"]) == "purchases" and body.get("invoiceNum"):
        doc["docNumber"] = str(body["invoiceNum"])  # the supplier's number is kept on purchases
    elif state.sales_invoice_num == "kept" and body.get("invoiceNum"):
        number = str(body["invoiceNum"])
        if await state.store.find("documents", docType=doc["docType"], docNumber=number):
            raise BadRequest("Number already exists")
        doc["docNumber"] = number
    else:
        series["last"] = series.get("last", 0) + 1
        year = dt.datetime.fromtimestamp(doc["date"], _MADRID).strftime("%y")
        doc["docNumber"] = f"{series.get('prefix', '')}{year}{series['last']:04d}"
        await state.store.put("numberingseries", series)
    doc["numSerieId"] = series["id"]
    doc["approvedAt"] = int(time.time())
    doc["draft"] = None
    doc["status"] = 1


def apply_totals(doc: dict[str, Any], *, tax_base: str = "exact") -> None:
    totals = compute_totals(doc["products"], tax_base=tax_base)
    doc.update(subtotal=totals.subtotal, discount=totals.discount, tax=totals.tax, total=totals.total)
    doc["_retention"] = totals.retention
    apply_payments(doc)


def check_payments(doc: dict[str, Any], payments: list[dict[str, Any]]) -> None:
    """Refuse payments whose sum with the document's total cannot be counted to the cent."""
    try:
        apply_payments({**doc, "_payments": payments})
    except InvalidOperation as exc:
        raise BadRequest("Wrong amount") from exc


def apply_payments(doc: dict[str, Any]) -> None:
    paid = sum((Decimal(str(p["amount"])) for p in doc.get("_payments", [])), Decimal(0))
    doc["paymentsTotal"] = round2(paid)
    doc["paymentsPending"] = round2(Decimal(str(doc["total"])) - paid)
    if doc.get("draft"):
        return
    if paid > 0:
        doc["status"] = 3 if doc["paymentsPending"] <= 0 else 2
    else:
        doc["status"] = 1


def view_document(d: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "contact", "contactName", "desc", "date", "dueDate", "multipledueDate", "forecastDate",
            "accountingDate", "approvedAt", "draft", "notes", "docNumber", "status", "tags", "customFields",
            "tax", "subtotal", "discount", "total", "language", "currency", "currencyChange", "paymentsTotal",
            "paymentsPending", "paymentsRefunds", "salesChannelId", "paymentMethodId", "products")
    out = {k: d.get(k) for k in keys}
    if d["docType"] in WAREHOUSE_DOC_TYPES:
        out["warehouseId"] = d.get("warehouseId")
    return out
