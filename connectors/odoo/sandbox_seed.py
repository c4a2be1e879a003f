"""Spanish demo data for the Odoo sandbox: l10n_es-like taxes (ids as in
docs/examples/mapping-es.yaml's ``odoo`` section), accounts, journals, payment terms, two
customers, three products and two posted invoices (one with IRPF withholding)."""
from __future__ import annotations

from connectors.odoo.sandbox_accounting import post_move
from connectors.odoo.sandbox_orm import Orm

__all__ = ["seed"]

TAXES = {  # id: (name, amount, type_tax_use)
    1: ("IVA 21% (Bienes)", 21.0, "sale"), 2: ("IVA 10% (Bienes)", 10.0, "sale"),
    3: ("IVA 4% (Bienes)", 4.0, "sale"), 4: ("IVA 0% (Bienes)", 0.0, "sale"),
    5: ("IVA Exento", 0.0, "sale"), 6: ("Recargo de Equivalencia 5,2%", 5.2, "sale"),
    7: ("Recargo de Equivalencia 1,4%", 1.4, "sale"), 8: ("Recargo de Equivalencia 0,5%", 0.5, "sale"),
    9: ("IVA 0% Entregas Intracomunitarias", 0.0, "sale"),
    10: ("IVA 0% Prestación de servicios intracomunitaria", 0.0, "sale"),
    11: ("IVA 0% Inversión del sujeto pasivo", 0.0, "sale"), 12: ("IVA 0% Exportaciones", 0.0, "sale"),
    13: ("Retención IRPF 15%", -15.0, "sale"), 14: ("Retención IRPF 7%", -7.0, "sale"),
    15: ("Retención 19% (arrendamientos)", -19.0, "sale"),
    20: ("IVA 21% soportado (bienes corrientes)", 21.0, "purchase"),
    21: ("IVA soportado ISP", 0.0, "purchase"), 22: ("Retención IRPF 15% (compras)", -15.0, "purchase"),
}
ACCOUNTS = {1: ("700000", "Ventas de mercaderías"), 2: ("705000", "Prestaciones de servicios"),
            3: ("708000", "Devoluciones de ventas"), 4: ("430000", "Clientes"),
            5: ("572000", "Bancos"), 6: ("477000", "IVA repercutido"), 7: ("473000", "Retenciones")}
# POS and WEB: the example mapping's sale journals of tickets and online invoices (its series).
JOURNALS = {1: ("Facturas de cliente", "INV", "sale"), 2: ("Facturas de proveedor", "BILL", "purchase"),
            3: ("Banco", "BNK1", "bank"), 4: ("Efectivo", "CSH1", "cash"),
            5: ("Tickets", "POS", "sale"), 6: ("Facturas tienda online", "WEB", "sale")}
TERMS = {1: ("Pago inmediato", 0), 2: ("15 días", 15), 3: ("30 días", 30), 4: ("45 días", 45),
         5: ("60 días", 60)}


# Odoo's own locations: a warehouse's view and stock locations, and the partners' (no warehouse).
STOCK_LOCATIONS = {7: ("WH", "view", 1), 8: ("WH/Stock", "internal", 1),
                   5: ("Partners/Customers", "customer", False)}


async def seed(orm: Orm) -> None:
    raw = orm.insert_raw
    for rid, (name, symbol) in {1: ("EUR", "€"), 2: ("USD", "$"), 3: ("GBP", "£")}.items():
        await raw("res.currency", {"id": rid, "name": name, "symbol": symbol})
    for rid, (name, code) in {68: ("Spain", "ES"), 75: ("France", "FR"), 233: ("United States", "US")}.items():
        await raw("res.country", {"id": rid, "name": name, "code": code})
    for rid, (name, amount, use) in TAXES.items():
        await raw("account.tax", {"id": rid, "name": name, "amount": amount, "amount_type": "percent",
                                  "type_tax_use": use, "active": True})
    for rid, (code, name) in ACCOUNTS.items():
        await raw("account.account", {"id": rid, "code": code, "name": name})
    for rid, (name, code, kind) in JOURNALS.items():
        await raw("account.journal", {"id": rid, "name": name, "code": code, "type": kind})
    for rid, (name, days) in TERMS.items():
        await raw("account.payment.term", {"id": rid, "name": name})
        await raw("account.payment.term.line", {"id": rid, "payment_id": rid, "value": "percent",
                                                "value_amount": 100.0, "nb_days": days})
    await raw("product.pricelist", {"id": 1, "name": "Tarifa pública", "currency_id": 1})
    await raw("stock.warehouse", {"id": 1, "name": "Almacén central", "code": "WH"})
    for rid, (name, usage, warehouse) in STOCK_LOCATIONS.items():
        await raw("stock.location", {"id": rid, "name": name, "usage": usage,
                                     "warehouse_id": warehouse})
    await orm.call("res.partner", "create", [[
        {"name": "Distribuciones Levante S.L.", "is_company": True, "vat": "ESB12345674",
         "email": "admin@levante.example", "phone": "+34 961 000 000", "street": "Calle Colón 1",
         "city": "Valencia", "zip": "46004", "country_id": 68, "lang": "es_ES", "active": True,
         "customer_rank": 1, "supplier_rank": 0, "property_payment_term_id": 3,
         "property_product_pricelist": 1, "property_account_receivable_id": 4,
         "bank_ids": [[0, 0, {"acc_number": "ES9121000418450200051332"}]]},
        {"name": "Laura Martín Gómez", "is_company": False, "vat": "ES12345678Z",
         "email": "laura@martin.example", "street": "Gran Vía 22", "city": "Madrid",
         "zip": "28013", "country_id": 68, "lang": "es_ES", "active": True,
         "customer_rank": 1, "supplier_rank": 0, "property_payment_term_id": 1,
         "property_product_pricelist": 1, "property_account_receivable_id": 4},
    ]], {}, _ADMIN)
    await orm.call("product.template", "create", [[
        {"name": "Caja de aceite de motor 5W-30 5L", "default_code": "ACE-5L", "type": "consu",
         "list_price": 42.5, "standard_price": 30.0, "taxes_id": [[6, 0, [1]]],
         "supplier_taxes_id": [[6, 0, [20]]], "property_account_income_id": 1, "active": True,
         "barcode": "8410000000017"},
        {"name": "Consultoría (hora)", "default_code": "CONS-H", "type": "service",
         "list_price": 60.0, "standard_price": 0.0, "taxes_id": [[6, 0, [1, 13]]],
         "property_account_income_id": 2, "active": True},
        {"name": "Libro técnico", "default_code": "LIB-01", "type": "consu", "list_price": 25.0,
         "taxes_id": [[6, 0, [3]]], "property_account_income_id": 1, "active": True},
    ]], {}, _ADMIN)
    # Each template created its one variant: product.product 1-3, ids as the templates'.
    goods = await orm.call("account.move", "create", [[{
        "move_type": "out_invoice", "partner_id": 1, "invoice_date": "2026-02-02",
        "invoice_payment_term_id": 3, "invoice_line_ids": [
            [0, 0, {"product_id": 1, "name": "Caja de aceite de motor 5W-30 5L", "quantity": 10.0,
                    "price_unit": 42.5, "discount": 5.0, "tax_ids": [[6, 0, [1]]], "account_id": 1}],
            [0, 0, {"product_id": 3, "name": "Libro técnico", "quantity": 3.0, "price_unit": 25.0,
                    "tax_ids": [[6, 0, [3]]], "account_id": 1}]]}]], {}, _ADMIN)
    services = await orm.call("account.move", "create", [[{
        "move_type": "out_invoice", "partner_id": 2, "invoice_date": "2026-02-10",
        "invoice_payment_term_id": 1, "invoice_line_ids": [
            [0, 0, {"product_id": 2, "name": "Consultoría febrero", "quantity": 12.5,
                    "price_unit": 60.0, "tax_ids": [[6, 0, [1, 13]]], "account_id": 2}]]}]], {}, _ADMIN)
    for move in (*goods, *services):
        await post_move(orm, move)
    await orm.db.commit()


class _Admin:
    uid, login, readonly = 2, "admin", False


_ADMIN = _Admin()  # type: ignore[assignment]
