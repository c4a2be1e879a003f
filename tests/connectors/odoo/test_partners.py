"""Only Odoo's commercial entities reach Holded as contacts, and invoices and payments name
the commercial partner: a company's people, delivery and invoice addresses, users' partners
and bare leads stay out of the accountant's contact list."""
from __future__ import annotations

from decimal import Decimal

import httpx

from connectors.odoo.mapping import Catalog, payment_from_odoo
from connectors.odoo.sandbox import OdooSandbox
from connectors.odoo.source import OdooSource
from connectors.odoo.webhook_refs import WebhookRefs
from tests.connectors.odoo.support import MAPPING, make_client, now


async def people_and_addresses(sb: OdooSandbox) -> dict[str, int]:
    """Around the seeded company 1 (Distribuciones Levante, a customer): its buyer, its
    warehouse and its invoicing address; a user's partner; a lead; a group company's branch."""
    ids = await sb.call("res.partner", "create", [
        {"name": "Ana Ruiz", "parent_id": 1, "email": "ana@levante.example"},
        {"name": "Almacén Paterna", "parent_id": 1, "type": "delivery", "street": "Polígono 3",
         "city": "Paterna", "zip": "46980", "country_id": 68},
        {"name": "Facturación Levante", "parent_id": 1, "type": "invoice"},
        {"name": "Administrador", "email": "admin@example.com"},  # a user's partner
        {"name": "Posible Cliente S.L.", "is_company": True},  # a lead: no rank, no invoice
        {"name": "Levante Norte S.L.", "is_company": True, "parent_id": 1, "vat": "ESB11111111",
         "customer_rank": 1},  # a company under a group: its own commercial entity
    ])
    return dict(zip(("person", "delivery", "invoice", "user", "lead", "branch"), ids))


async def test_the_sandbox_keeps_commercial_partners_as_odoo_does(sb: OdooSandbox) -> None:
    p = await people_and_addresses(sb)
    rows = await sb.call("res.partner", "read", [p["person"], p["delivery"], p["branch"], 1],
                         ["commercial_partner_id", "vat", "type"])
    assert [r["commercial_partner_id"][0] for r in rows] == [1, 1, p["branch"], 1]
    # A child gets its company's NIF (a commercial field), and follows it when it changes.
    assert [r["vat"] for r in rows] == ["ESB12345674", "ESB12345674", "ESB11111111", "ESB12345674"]
    assert rows[1]["type"] == "delivery" and rows[0]["type"] == "contact"
    await sb.call("res.partner", "write", [1], {"vat": "ESB76543213"})
    [person] = await sb.call("res.partner", "read", [p["person"]], ["vat"])
    assert person["vat"] == "ESB76543213"
    # Posting an invoice to an address raises the rank of the address and of its company,
    # without moving their write_date (Odoo's _increase_rank is a plain SQL UPDATE).
    [new] = await sb.call("res.partner", "create", [{"name": "Nuevo S.L.", "is_company": True}])
    [address] = await sb.call("res.partner", "create", [
        {"name": "Nuevo (entrega)", "parent_id": new, "type": "delivery"}])
    [before] = await sb.call("res.partner", "read", [new], ["write_date", "customer_rank"])
    [move] = await sb.call("account.move", "create", [{
        "move_type": "out_invoice", "partner_id": address, "invoice_date": "2026-03-01",
        "invoice_line_ids": [[0, 0, {"name": "x", "quantity": 1.0, "price_unit": 10.0,
                                     "tax_ids": [[6, 0, [1]]], "account_id": 1}]]}])
    await sb.call("account.move", "action_post", [move])
    [after] = await sb.call("res.partner", "read", [new], ["write_date", "customer_rank"])
    assert (before["customer_rank"], after["customer_rank"]) == (0, 1)
    assert after["write_date"] == before["write_date"]
    [inv] = await sb.call("account.move", "read", [move], ["commercial_partner_id"])
    assert inv["commercial_partner_id"][0] == new


async def test_only_commercial_customers_and_suppliers_are_contacts(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    p = await people_and_addresses(sb)
    [supplier] = await sb.call("res.partner", "create", [
        {"name": "Envases Sur S.A.", "is_company": True, "supplier_rank": 1}])
    source = OdooSource(make_client(sb, http), MAPPING, page_size=2)
    state, events = await source.poll(None, now())
    contacts = {e["entity_key"] for e in events if e["entity"] == "contact"}
    # The commercial partners keep their keys; people, addresses, users and leads stay out.
    assert contacts == {"contact/odoo/1", "contact/odoo/2", f"contact/odoo/{p['branch']}",
                        f"contact/odoo/{supplier}"}
    # A webhook for a company's person reports nothing; for the company, the company.
    fetched = await source.fetch([WebhookRefs("res.partner", (p["person"], 1))])
    assert [e["entity_key"] for e in fetched] == ["contact/odoo/1"]
    # An edit of a person of the company is not a contact change either.
    await sb.call("res.partner", "write", [p["person"]], {"phone": "+34 600 111 222"})
    _, events = await source.poll(state, now())
    assert [e for e in events if e["entity"] == "contact"] == []


async def test_an_invoice_to_an_address_belongs_to_the_company_contact(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    source = OdooSource(make_client(sb, http), MAPPING)
    state, _ = await source.poll(None, now())
    # A new company, not a customer yet (rank 0): the contact walk does not report it...
    [company] = await sb.call("res.partner", "create", [
        {"name": "Nuevo S.L.", "is_company": True, "vat": "ESB22222222"}])
    [address] = await sb.call("res.partner", "create", [
        {"name": "Nuevo (entrega)", "parent_id": company, "type": "delivery"}])
    state, events = await source.poll(state, now())
    assert events == []
    # ...until an invoice to its delivery address is posted: the rank rises without a
    # write_date, and the invoice reports its commercial partner with it.
    [move] = await sb.call("account.move", "create", [{
        "move_type": "out_invoice", "partner_id": address, "invoice_date": "2026-03-01",
        "invoice_line_ids": [[0, 0, {"product_id": 1, "name": "Aceite", "quantity": 1.0,
                                     "price_unit": 42.5, "tax_ids": [[6, 0, [1]]],
                                     "account_id": 1}]]}])
    await sb.call("account.move", "action_post", [move])
    state, events = await source.poll(state, now())
    keys = [e["entity_key"] for e in events]
    assert keys == [f"contact/odoo/{company}", f"invoice/odoo/{move}"]
    contact, invoice = events[0]["payload"], events[1]["payload"]
    assert contact["kind"] == "customer" and contact["tax_id"] == "ESB22222222"
    assert invoice["customer_key"] == f"contact/odoo/{company}"
    # The payment registered on it names the company too.
    wizard = await sb.call("account.payment.register", "create", {"payment_date": "2026-03-05"},
                           context={"active_model": "account.move", "active_ids": [move]})
    await sb.call("account.payment.register", "action_create_payments", [wizard])
    # (And a payment entered by hand on the address, as the API allows.)
    await sb.orm.insert_raw("account.payment", {
        "name": "PBNK1/2026/00099", "payment_type": "inbound", "partner_type": "customer",
        "partner_id": address, "amount": 1.0, "currency_id": 1, "date": "2026-03-06",
        "journal_id": 3, "state": "posted", "reconciled_invoice_ids": [move]})
    _, events = await source.poll(state, now())
    payments = [e["payload"] for e in events if e["entity"] == "payment"]
    assert [x["contact_key"] for x in payments] == [f"contact/odoo/{company}"] * 2


async def test_a_customer_born_in_holded_keeps_its_key_on_its_invoices(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    await sb.call("res.partner", "write", [2], {"ref": "contact/holded/h-7"})
    _, events = await OdooSource(make_client(sb, http), MAPPING).poll(None, now())
    contact_keys = {e["entity_key"] for e in events if e["entity"] == "contact"}
    invoice = next(e for e in events if e["entity_key"] == "invoice/odoo/2")["payload"]
    assert invoice["customer_key"] == "contact/holded/h-7" and "contact/holded/h-7" in contact_keys
    assert "contact/odoo/2" not in contact_keys


def test_a_payment_to_a_person_of_a_company_names_the_company() -> None:
    payment = {"id": 9, "state": "posted", "reconciled_invoice_ids": [3], "partner_id": [12, "Ana"],
               "amount": 10.0, "date": "2026-03-01", "journal_id": False, "currency_id": [1, "EUR"]}
    mapped = payment_from_odoo(payment, Catalog(partner_keys={9: "contact/odoo/1"}), MAPPING)
    assert mapped is not None and mapped["contact_key"] == "contact/odoo/1"
    assert mapped["amount"] == Decimal("10.00")
