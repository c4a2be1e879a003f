"""Spanish seed data: customers with NIF, products with IVA 21/10 (one sold in sizes, as
combinations), invoiced orders with payments, one order not invoiced yet. Totals are
consistent (rounded per line, half up)."""
from __future__ import annotations

from connectors.prestashop.sandbox_store import SandboxStore

__all__ = ["seed"]


def _name(text: str) -> list[dict[str, str]]:
    return [{"id": "1", "value": text}]


async def seed(store: SandboxStore) -> None:
    ins = store.insert
    await ins("countries", {"iso_code": "ES", "name": _name("España"), "active": "1",
                            "need_identification_number": "1", "id_zone": "1"})
    await ins("countries", {"iso_code": "FR", "name": _name("Francia"), "active": "1",
                            "id_zone": "1"})
    await ins("currencies", {"name": "Euro", "iso_code": "EUR", "conversion_rate": "1.000000",
                             "active": "1", "deleted": "0"})
    # Taxes (a rate each) and the rule groups products carry: a group applies, per country,
    # the tax of its rule there (France too, as a shop selling across the EU has it).
    for name, rate in (("IVA ES 21%", "21.000"), ("IVA ES 10%", "10.000"),
                       ("IVA ES 4%", "4.000"), ("TVA FR 20%", "20.000")):
        await ins("taxes", {"name": _name(name), "rate": rate, "active": "1", "deleted": "0"})
    for name in ("ES Standard Rate (21%)", "ES Reduced Rate (10%)",
                 "ES Super Reduced Rate (4%)"):
        await ins("tax_rule_groups", {"name": name, "active": "1", "deleted": "0"})
    for group, country, tax in (("1", "1", "1"), ("1", "2", "4"), ("2", "1", "2"),
                                ("3", "1", "3")):
        await ins("tax_rules", {"id_tax_rules_group": group, "id_country": country,
                                "id_state": "0", "zipcode_from": "0", "zipcode_to": "0",
                                "id_tax": tax, "behavior": "0", "description": ""})
    # Customers: a company (NIF in vat_number) and a person (NIF in dni).
    await ins("customers", {"firstname": "Marta", "lastname": "Soler", "email":
                            "compras@levante.example", "company": "Ferretería Levante S.L.",
                            "id_lang": "1", "active": "1", "deleted": "0", "is_guest": "0",
                            "id_default_group": "3"})
    await ins("customers", {"firstname": "Lucía", "lastname": "García Pérez", "email":
                            "lucia@example.es", "company": "", "id_lang": "1", "active": "1",
                            "deleted": "0", "is_guest": "0", "id_default_group": "3"})
    await ins("addresses", {"id_customer": "1", "id_country": "1", "alias": "Oficina",
                            "company": "Ferretería Levante S.L.", "firstname": "Marta",
                            "lastname": "Soler", "vat_number": "ESB12345678",
                            "address1": "Calle Colón 12", "postcode": "46004",
                            "city": "Valencia", "phone": "+34 963 000 000", "deleted": "0"})
    await ins("addresses", {"id_customer": "2", "id_country": "1", "alias": "Casa",
                            "firstname": "Lucía", "lastname": "García Pérez",
                            "dni": "12345678Z", "address1": "Calle Mayor 5", "address2": "3º B",
                            "postcode": "28013", "city": "Madrid",
                            "phone_mobile": "+34 600 111 222", "deleted": "0"})
    # Products: reference = SKU, price tax excluded.
    await ins("products", {"reference": "TAL-001", "name": _name("Taladro percutor 750W"),
                           "price": "100.000000", "wholesale_price": "62.000000",
                           "id_tax_rules_group": "1", "ean13": "8412345678905", "active": "1",
                           "is_virtual": "0"})
    await ins("products", {"reference": "ACE-002", "name": _name("Aceite de girasol 1L"),
                           "price": "8.500000", "wholesale_price": "0.000000",
                           "id_tax_rules_group": "2", "active": "1", "is_virtual": "0"})
    # A shirt sold in sizes: each size a combination with its own reference (the SKU) and
    # its own stock record; the product's own record holds their sum, as PrestaShop keeps it.
    await ins("products", {"reference": "CAM", "name": _name("Camiseta algodón"),
                           "price": "16.446281", "wholesale_price": "6.000000",
                           "id_tax_rules_group": "1", "active": "1", "is_virtual": "0"})
    sizes = (("CAM-001", "8412345000011", "4"), ("CAM-002", "8412345000028", "6"),
             ("CAM-003", "8412345000035", "2"))
    for n, (reference, ean13, _) in enumerate(sizes, 1):
        await ins("combinations", {"id_product": "3", "reference": reference, "ean13": ean13,
                                   "quantity": "0", "price": "0.000000",
                                   "minimal_quantity": "1", "default_on": "1" if n == 1 else "",
                                   "available_date": "0000-00-00"})
    stock = [(1, 0, "14"), (2, 0, "120"), (3, 0, str(sum(int(q) for *_, q in sizes)))]
    stock += [(3, n, q) for n, (*_, q) in enumerate(sizes, 1)]
    for pid, attribute, qty in stock:
        await ins("stock_availables", {"id_product": str(pid),
                                       "id_product_attribute": str(attribute), "id_shop": "1",
                                       "id_shop_group": "0", "quantity": qty,
                                       "depends_on_stock": "0", "out_of_stock": "2"})
    # Order 1: 2 x taladro (21%) + 3 x aceite (10%) + 5.00 shipping (21%); paid by transfer.
    await _order(store, 1, customer=1, address=1, reference="XKBKNABJK", module="ps_wirepayment",
                 payment="Transferencia bancaria", invoice=1,
                 excl="230.50", incl="276.10", shipping=("5.00", "6.05"), paid="276.10",
                 lines=[(1, "TAL-001", "Taladro percutor 750W", 2, "100.00", "1", "21"),
                        (2, "ACE-002", "Aceite de girasol 1L", 3, "8.50", "2", "10")],
                 payments=[("276.10", "")])
    # Order 2: 1 x taladro, card (Redsys), half paid so far.
    await _order(store, 2, customer=2, address=2, reference="OHSATSERP", module="redsys",
                 payment="Tarjeta (Redsys)", invoice=2, excl="100.00", incl="121.00",
                 shipping=("0.00", "0.00"), paid="50.00",
                 lines=[(1, "TAL-001", "Taladro percutor 750W", 1, "100.00", "1", "21")],
                 payments=[("50.00", "RDS-000123")])
    # Order 3: not invoiced yet (awaiting bank wire).
    await _order(store, 3, customer=2, address=2, reference="QWERTYUIO", module="ps_wirepayment",
                 payment="Transferencia bancaria", invoice=None, excl="8.50", incl="9.35",
                 shipping=("0.00", "0.00"), paid="0.00",
                 lines=[(2, "ACE-002", "Aceite de girasol 1L", 1, "8.50", "2", "10")], payments=[])


async def _order(store: SandboxStore, oid: int, *, customer: int, address: int, reference: str,
                 module: str, payment: str, invoice: int | None, excl: str, incl: str,
                 shipping: tuple[str, str], paid: str,
                 lines: list[tuple[int, str, str, int, str, str, str]],
                 payments: list[tuple[str, str]]) -> None:
    now = store.now_text()
    products = sum(int(q) * float(p) for _, _, _, q, p, _, _ in lines)
    await store.insert("orders", {
        "id": oid, "id_address_delivery": str(address), "id_address_invoice": str(address),
        "id_currency": "1", "id_lang": "1", "id_customer": str(customer), "id_carrier": "2",
        "current_state": "2" if invoice else "10", "module": module, "payment": payment,
        "invoice_number": str(invoice or 0), "invoice_date": now if invoice else
        "0000-00-00 00:00:00", "valid": "1" if invoice else "0", "id_shop": "1",
        "total_discounts": "0.00", "total_discounts_tax_incl": "0.00",
        "total_discounts_tax_excl": "0.00", "total_paid": incl, "total_paid_tax_incl": incl,
        "total_paid_tax_excl": excl, "total_paid_real": paid,
        "total_products": f"{products:.2f}", "total_products_wt": "",
        "total_shipping": shipping[1], "total_shipping_tax_incl": shipping[1],
        "total_shipping_tax_excl": shipping[0], "carrier_tax_rate": "21.000",
        "conversion_rate": "1.000000", "reference": reference, "round_mode": "2",
        "round_type": "2"})
    if invoice:
        await store.insert("order_invoices", {
            "id": invoice, "id_order": str(oid), "number": str(invoice),
            "total_discount_tax_excl": "0.00", "total_discount_tax_incl": "0.00",
            "total_paid_tax_excl": excl, "total_paid_tax_incl": incl,
            "total_products": f"{products:.2f}", "total_shipping_tax_excl": shipping[0],
            "total_shipping_tax_incl": shipping[1], "shop_address": "Ejemplo Distribuciones S.L.",
            "note": ""})
    for pid, ref, name, qty, price, group, rate in lines:
        excl_line = int(qty) * float(price)
        tax = round(excl_line * int(rate) / 100 + 1e-9, 2)
        await store.insert("order_details", {
            "id_order": str(oid), "product_id": str(pid), "product_attribute_id": "0",
            "id_order_invoice": str(invoice or 0), "product_name": name,
            "product_quantity": str(qty), "product_price": f"{float(price):.6f}",
            "product_reference": ref, "id_tax_rules_group": group, "tax_name": f"IVA ES {rate}%",
            "tax_rate": f"{rate}.000", "tax_computation_method": "0",
            "unit_price_tax_excl": f"{float(price):.6f}",
            "unit_price_tax_incl": f"{float(price) * (100 + int(rate)) / 100:.6f}",
            "total_price_tax_excl": f"{excl_line:.6f}",
            "total_price_tax_incl": f"{excl_line + tax:.6f}", "reduction_percent": "0.00",
            "reduction_amount": "0.000000", "original_product_price": f"{float(price):.6f}"})
    for amount, transaction in payments:
        await store.insert("order_payments", {
            "order_reference": reference, "id_currency": "1", "amount": amount,
            "payment_method": payment, "conversion_rate": "1.000000",
            "transaction_id": transaction})
