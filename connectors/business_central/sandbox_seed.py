"""Spanish demo data of the BC sandbox: one company, tax groups, payment terms and methods,
customers, a vendor, items, a payment journal, two posted invoices and a draft.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.business_central.sandbox_posting import post_invoice
from connectors.business_central.sandbox_rules import Rules
from connectors.business_central.sandbox_store import SandboxStore

__all__ = ["COMPANY_ID", "seed"]

COMPANY_ID = "2f0c5b8e-6d1a-4c3e-9b7a-1e5d3c2b1a00"
TAX_GROUPS = [("IVA21", "IVA general 21%", "21"), ("IVA10", "IVA reducido 10%", "10"),
              ("IVA4", "IVA superreducido 4%", "4"), ("IVA0", "IVA 0%", "0"),
              ("EXENTO", "Exento de IVA", "0"), ("INTRAB", "Entrega intracomunitaria", "0"),
              ("EXPORT", "Exportación", "0"),
              # Recargo de equivalencia on its own line, as the mapping document's example maps
              # it; intra-EU services and reverse charge at 0 %. No IRPF groups: BC has no
              # withholding, and a tax group's rate is added to a line, never withheld.
              ("RE52", "Recargo de equivalencia 5,2%", "5.2"),
              ("RE14", "Recargo de equivalencia 1,4%", "1.4"),
              ("RE05", "Recargo de equivalencia 0,5%", "0.5"),
              ("INTRAS", "Servicio intracomunitario", "0"),
              ("ISP", "Inversión del sujeto pasivo", "0")]
TERMS = [("CONTADO", "Contado", "0D"), ("30D", "30 días", "30D"), ("60D", "60 días", "60D"),
         ("90D", "90 días", "90D")]
METHODS = [("TRANSF", "Transferencia bancaria"), ("DOMIC", "Recibo domiciliado SEPA"),
           ("TARJETA", "Tarjeta"), ("EFECTIVO", "Efectivo")]


async def _insert(store: SandboxStore, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    return await store.insert(collection, {"_company": COMPANY_ID, **body})


async def seed(store: SandboxStore) -> None:
    await store.insert("companies", {"id": COMPANY_ID, "systemVersion": "24.0",
                                     "name": "EJEMPLO DISTRIBUCIONES",
                                     "displayName": "Ejemplo Distribuciones S.L.",
                                     "businessProfileId": ""}, touch=False)
    for code, name, rate in TAX_GROUPS:
        await _insert(store, "taxGroups", {"code": code, "displayName": name,
                                           "taxType": "VAT", "_rate": Decimal(rate)})
    terms = {}
    for code, name, formula in TERMS:
        terms[code] = await _insert(store, "paymentTerms", {
            "code": code, "displayName": name, "dueDateCalculation": formula,
            "discountDateCalculation": "", "discountPercent": Decimal(0),
            "calculateDiscountOnCreditMemos": False})
    methods = {}
    for code, name in METHODS:
        methods[code] = await _insert(store, "paymentMethods", {"code": code, "displayName": name})
    for code, name in (("USD", "Dólar estadounidense"), ("GBP", "Libra esterlina")):
        await _insert(store, "currencies", {"code": code, "displayName": name, "symbol": ""})
    rules = Rules(store)
    customers = []
    for number, name, nif, city, postal, term, method in (
        ("C00001", "Ferretería Martínez S.L.", "B12345678", "Valencia", "46001", "30D", "TRANSF"),
        ("C00002", "Construcciones Ebro S.A.", "A50123454", "Zaragoza", "50001", "60D", "DOMIC"),
        ("C00003", "Lucía Fernández Ruiz", "12345678Z", "Sevilla", "41001", "CONTADO",
         "TARJETA"),
    ):
        customers.append(await _insert(store, "customers", {
            "number": number, "displayName": name,
            "type": "Person" if nif[0].isdigit() else "Company",
            "addressLine1": "Calle Mayor 1", "addressLine2": "", "city": city, "state": "",
            "country": "ES", "postalCode": postal, "phoneNumber": "+34 960 000 000",
            "email": f"admin@{number.lower()}.example", "website": "", "taxLiable": True,
            "taxRegistrationNumber": nif, "currencyCode": "",
            "paymentTermsId": terms[term]["id"], "paymentMethodId": methods[method]["id"],
            "blocked": " ", "_balance": Decimal(0), "_sales": Decimal(0)}))
    await _insert(store, "vendors", {
        "number": "P00001", "displayName": "Suministros Levante S.L.", "addressLine1":
        "Avenida del Puerto 20", "addressLine2": "", "city": "Valencia", "state": "",
        "country": "ES", "postalCode": "46023", "phoneNumber": "", "email": "", "website": "",
        "taxRegistrationNumber": "B98765431", "currencyCode": "",
        "paymentTermsId": terms["30D"]["id"], "taxLiable": True, "blocked": " ",
        "balance": Decimal(0)})
    items = []
    for number, name, kind, price, group, gtin in (
        ("ART-001", "Taladro percutor 800W", "Inventory", "89.90", "IVA21", "8412345678905"),
        ("ART-002", "Caja tornillos 4x40 (200 uds)", "Inventory", "6.45", "IVA21", ""),
        ("ART-003", "Libro técnico de bricolaje", "Inventory", "24.00", "IVA4", ""),
        ("SRV-001", "Hora de instalación", "Service", "45.00", "IVA21", ""),
    ):
        group_record = (await store.list("taxGroups", code=group))[0]
        items.append(await _insert(store, "items", {
            "number": number, "displayName": name, "type": kind, "itemCategoryCode": "",
            "blocked": False, "gtin": gtin, "inventory": Decimal(10 if kind == "Inventory" else 0),
            "unitPrice": Decimal(price), "priceIncludesTax": False,
            "unitCost": Decimal(price) * Decimal("0.6"), "taxGroupId": group_record["id"],
            "taxGroupCode": group, "baseUnitOfMeasureCode": "UDS" if kind == "Inventory" else "HORA",
            "generalProductPostingGroupCode": "NACIONAL", "inventoryPostingGroupCode": "REVENTA"}))
    await _insert(store, "customerPaymentJournals", {
        "code": "COBROS", "displayName": "Cobros de clientes", "balancingAccountNumber": "5720001"})
    # Two invoices: posted; one more left as a draft.
    for customer, lines, post in ((customers[0], [(items[0], "2"), (items[1], "10")], True),
                                  (customers[1], [(items[3], "8"), (items[2], "3")], True),
                                  (customers[2], [(items[0], "1")], False)):
        await _document(rules, customer, lines, post)


async def _document(rules: Rules, customer: dict[str, Any], lines: list[tuple[dict[str, Any], str]],
                    post: bool) -> None:
    from connectors.business_central.sandbox_entities import ENTITY_SETS

    store = rules.store
    header = await rules.prepare(ENTITY_SETS["salesInvoices"], COMPANY_ID,
                                 {"customerId": customer["id"]}, None, None)
    header = await store.insert("salesInvoices", header)
    for item, quantity in lines:
        line = await rules.prepare(ENTITY_SETS["salesInvoiceLines"], COMPANY_ID,
                                   {"itemId": item["id"], "quantity": Decimal(quantity)}, None,
                                   header)
        await store.insert("salesInvoiceLines", line)
    header = await rules.refresh_totals("salesInvoices", header)
    if post:
        await post_invoice(rules, COMPANY_ID, header)
