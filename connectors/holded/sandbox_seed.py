"""Reference data a fresh Holded tenant has: series, a treasury, a warehouse, accounts, ...

Seeding runs only on an empty store, so a sandbox reopened on a file keeps its data.
"""
from __future__ import annotations

import logging
from typing import Any

from connectors.holded.sandbox_store import SandboxStore

__all__ = ["DOC_TYPES", "SALES_DOC_TYPES", "seed_store"]

logger = logging.getLogger(__name__)

DOC_TYPES: tuple[str, ...] = (
    "invoice", "salesreceipt", "creditnote", "salesorder", "proform", "waybill", "estimate",
    "purchase", "purchaseorder", "purchaserefund",
)
SALES_DOC_TYPES = frozenset(DOC_TYPES[:7])

_SERIES_PREFIX = {
    "invoice": "F", "salesreceipt": "T", "creditnote": "R", "salesorder": "P", "proform": "PF",
    "waybill": "A", "estimate": "E", "purchase": "C", "purchaseorder": "PC", "purchaserefund": "RC",
}

_ACCOUNTS = (
    (40000000, "Proveedores"), (43000000, "Clientes"), (47200000, "H.P. IVA soportado"),
    (47500000, "H.P. acreedora por conceptos fiscales"), (47300000, "H.P. retenciones y pagos a cuenta"),
    (47700000, "H.P. IVA repercutido"), (57000000, "Caja"), (57200000, "Bancos"),
    (60000000, "Compras de mercaderías"), (62900000, "Otros servicios"), (70000000, "Ventas de mercaderías"),
    (70500000, "Prestaciones de servicios"),
)

_EXPENSE_ACCOUNTS = (
    "Compras de mercaderías", "Arrendamientos", "Reparaciones", "Servicios profesionales",
    "Transportes", "Primas de seguros", "Servicios bancarios", "Publicidad", "Suministros",
    "Otros servicios", "Tributos", "Sueldos y salarios", "Seguridad social", "Intereses de deudas",
    "Amortización inmovilizado", "Material de oficina", "Software", "Dietas", "Formación",
)


async def seed_store(store: SandboxStore) -> None:
    """Create the default records of a new tenant (only when the store is empty)."""
    if not await store.is_empty():
        logger.info("sandbox store already holds data; not seeding")
        return
    series = []
    for doc_type in DOC_TYPES:
        series.append({
            "name": f"Serie {doc_type}", "type": doc_type, "prefix": _SERIES_PREFIX[doc_type],
            "format": f"{_SERIES_PREFIX[doc_type]}%%yy%%%%", "last": 0, "default": True,
        })
    await store.insert_many("numberingseries", series)
    # Fixed ids: the ones docs/examples/mapping-es.yaml maps, so the demo works out of the box.
    await store.insert_many("treasury", [
        {"id": "64a1f0c2e4b0a10000000b01", "name": "Banco principal", "type": "bank", "balance": 0.0, "accountNumber": 57200000,
         "iban": "ES9121000418450200051332", "swift": "CAIXESBBXXX", "bank": "caixabank",
         "bankname": "CaixaBank", "default": True},
        {"id": "64a1f0c2e4b0a10000000b02", "name": "Caja", "type": "cash", "balance": 0.0, "accountNumber": 57000000,
         "iban": "", "swift": "", "bank": "", "bankname": "", "default": False},
    ])
    await store.insert("warehouses", {
        "id": "64a1f0c2e4b0a10000000e01", "name": "Almacén principal", "email": "", "phone": "", "mobile": "",
        "address": {"address": "", "city": "", "postalCode": "", "province": "", "country": "ES"},
        "default": True,
    })
    await store.insert_many("saleschannels", [
        {"name": "Tienda", "desc": "", "accountNum": 70000000},
        {"name": "Online", "desc": "", "accountNum": 70500000},
    ])
    await store.insert_many("expensesaccounts", [
        {"name": name, "desc": "", "accountNum": 62000000 + i * 10000}
        for i, name in enumerate(_EXPENSE_ACCOUNTS)
    ])
    await store.insert_many("paymentmethods", [
        {"name": "Transferencia", "desc": "", "dueDays": 30},
        {"name": "Domiciliación SEPA", "desc": "", "dueDays": 0},
        {"name": "Efectivo", "desc": "", "dueDays": 0},
    ])
    await store.insert_many("chartofaccounts", [
        {"num": num, "name": name, "group": str(num)[:1], "debit": 0.0, "credit": 0.0, "balance": 0.0}
        for num, name in _ACCOUNTS
    ])
    funnel = await store.insert("funnels", {
        "name": "Ventas", "stages": [
            {"stageId": "s1", "key": "new", "name": "Nuevo", "desc": ""},
            {"stageId": "s2", "key": "won", "name": "Ganado", "desc": ""},
        ],
    })
    await store.insert("leads", {
        "funnelId": funnel["id"], "contactId": None, "contactName": "Lead de ejemplo", "name": "Oportunidad",
        "value": 1000, "potential": 50, "dueDate": None, "stageId": "s1", "status": 0,
    })
    await store.insert_many("pricelists", [
        {"name": "Tarifa general", "currency": "eur", "default": True, "items": []},
        {"name": "Mayoristas", "currency": "eur", "default": False, "items": []},
    ])
    logger.info("sandbox store seeded")


def default_of(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    for record in records:
        if record.get("default"):
            return record
    return records[0] if records else None
