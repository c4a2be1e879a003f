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

# Ids fixed where docs/examples/mapping-es.yaml names them (the demo checks that mapping against
# this tenant: `holded-sync mappings check`); every other record gets a generated id.
def _example_id(tail: str) -> str:
    """``"b01"`` -> ``"64a1f0c2e4b0a10000000b01"``: 24 hex digits, as Holded's ids."""
    return "64a1f0c2e4b0a1000000" + tail.rjust(4, "0")



_ACCOUNTS = (  # (number, name, id of the example mapping's `accounts`, or None)
    (40000000, "Proveedores", None), (43000000, "Clientes", None),
    (47200000, "H.P. IVA soportado", None), (47500000, "H.P. acreedora por conceptos fiscales", None),
    (47300000, "H.P. retenciones y pagos a cuenta", None), (47700000, "H.P. IVA repercutido", None),
    (57000000, "Caja", None), (57200000, "Bancos", None), (60000000, "Compras de mercaderías", None),
    (62300000, "Servicios de profesionales independientes", None), (62900000, "Otros servicios", None),
    (70000000, "Ventas de mercaderías", "700a"), (70500000, "Prestaciones de servicios", "705a"),
    (70800000, "Devoluciones de ventas y operaciones similares", "708a"),
)

# The example mapping's series: F, R and T are the default series of their document type.
_EXAMPLE_SERIES = {"invoice": ("f01", "Facturas"), "creditnote": ("f02", "Facturas rectificativas"),
                   "salesreceipt": ("f03", "Tickets")}

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
        prefix = _SERIES_PREFIX[doc_type]
        suffix, name = _EXAMPLE_SERIES.get(doc_type, (None, f"Serie {doc_type}"))
        series.append({
            **({"id": _example_id(suffix)} if suffix else {}),
            "name": name, "type": doc_type, "prefix": prefix,
            "format": f"{prefix}%%yy%%%%", "last": 0, "default": True,
        })
    series.append({"id": _example_id("f04"), "name": "Facturas tienda online", "type": "invoice",
                   "prefix": "W", "format": "W%%yy%%%%", "last": 0, "default": False})
    await store.insert_many("numberingseries", series)
    await store.insert_many("treasury", [
        {"id": _example_id("b01"), "name": "Banco principal", "type": "bank", "balance": 0.0, "accountNumber": 57200000,
         "iban": "ES9121000418450200051332", "swift": "CAIXESBBXXX", "bank": "caixabank",
         "bankname": "CaixaBank", "default": True},
        {"id": _example_id("b02"), "name": "Caja", "type": "cash", "balance": 0.0, "accountNumber": 57000000,
         "iban": "", "swift": "", "bank": "", "bankname": "", "default": False},
    ])
    await store.insert("warehouses", {
        "id": _example_id("e01"), "name": "Almacén principal", "email": "", "phone": "", "mobile": "",
        "address": {"address": "", "city": "", "postalCode": "", "province": "", "country": "ES"},
        "default": True,
    })
    await store.insert_many("saleschannels", [
        {"id": _example_id("c01"), "name": "Tienda", "desc": "", "accountNum": 70000000},
        {"id": _example_id("c02"), "name": "Online", "desc": "", "accountNum": 70000000},
        {"id": _example_id("c03"), "name": "Servicios profesionales", "desc": "", "accountNum": 70500000},
    ])
    await store.insert_many("expensesaccounts", [
        {"name": name, "desc": "", "accountNum": 62000000 + i * 10000}
        for i, name in enumerate(_EXPENSE_ACCOUNTS)
    ])
    await store.insert_many("paymentmethods", [
        {"id": _example_id("d01"), "name": "Transferencia", "desc": "", "dueDays": 30},
        {"id": _example_id("d02"), "name": "Domiciliación SEPA", "desc": "", "dueDays": 0},
        {"id": _example_id("d03"), "name": "Tarjeta", "desc": "", "dueDays": 0},
        {"id": _example_id("d04"), "name": "Efectivo", "desc": "", "dueDays": 0},
    ])
    await store.insert_many("chartofaccounts", [
        {**({"id": _example_id(suffix)} if suffix else {}), "num": num, "name": name,
         "group": str(num)[:1], "debit": 0.0, "credit": 0.0, "balance": 0.0}
        for num, name, suffix in _ACCOUNTS
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
