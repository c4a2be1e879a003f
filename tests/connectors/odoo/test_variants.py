"""Odoo products are variants: each sellable product.product reaches Holded with its own SKU,
and an invoice line names the product (key and SKU) the source reported."""
from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from connectors.odoo.sandbox import OdooSandbox
from connectors.odoo.sandbox_accounting import post_move
from connectors.odoo.source import OdooSource
from connectors.odoo.webhook_refs import parse_webhook
from tests.connectors.odoo.support import MAPPING, make_client, now


async def shirt(sb: OdooSandbox) -> tuple[int, int, int]:
    """A template with a Size attribute (S, XL +3.50): two variants with their own codes; the
    plain variant its creation made is archived, as Odoo's _create_variant_ids leaves it."""
    [tmpl] = await sb.call("product.template", "create", [{
        "name": "Camiseta", "type": "consu", "list_price": 20.0, "taxes_id": [[6, 0, [1]]],
        "property_account_income_id": 1}])
    raw = sb.orm.insert_raw
    small = await raw("product.template.attribute.value",
                      {"name": "S", "product_tmpl_id": tmpl, "price_extra": 0.0})
    big = await raw("product.template.attribute.value",
                    {"name": "XL", "product_tmpl_id": tmpl, "price_extra": 3.5})
    [plain] = await sb.call("product.product", "search", [("product_tmpl_id", "=", tmpl)])
    await sb.call("product.product", "write", [plain], {"active": False})
    s = await sb.call("product.product", "create", {
        "product_tmpl_id": tmpl, "default_code": "CAM-S",
        "product_template_attribute_value_ids": [[6, 0, [small]]]})
    xl = await sb.call("product.product", "create", {
        "product_tmpl_id": tmpl, "default_code": "CAM-XL",
        "product_template_attribute_value_ids": [[6, 0, [big]]]})
    return tmpl, s, xl


async def test_the_sandbox_keeps_codes_and_prices_per_variant_as_odoo_does(sb: OdooSandbox) -> None:
    tmpl, s, xl = await shirt(sb)
    [template] = await sb.call("product.template", "read", [tmpl],
                               ["default_code", "product_variant_count", "product_variant_ids"])
    assert template["default_code"] is False  # several variants: no code of its own
    assert template["product_variant_count"] == 2 and template["product_variant_ids"] == [s, xl]
    rows = await sb.call("product.product", "read", [s, xl],
                         ["default_code", "lst_price", "price_extra", "display_name", "name",
                          "taxes_id", "list_price"])
    assert [(r["default_code"], r["lst_price"], r["price_extra"]) for r in rows] == [
        ("CAM-S", 20.0, 0.0), ("CAM-XL", 23.5, 3.5)]
    assert rows[1]["display_name"] == "[CAM-XL] Camiseta (XL)" and rows[1]["name"] == "Camiseta"
    assert rows[1]["taxes_id"] == [1] and rows[1]["list_price"] == 20.0
    # A code written on a template with several variants goes nowhere (Odoo's inverse).
    await sb.call("product.template", "write", [tmpl], {"default_code": "CAM"})
    assert [r["default_code"] for r in await sb.call("product.product", "read", [s, xl],
                                                      ["default_code"])] == ["CAM-S", "CAM-XL"]
    # Archived variants are hidden from a search unless the domain names active.
    assert await sb.call("product.product", "search_count", [("product_tmpl_id", "=", tmpl)]) == 2
    assert await sb.call("product.product", "search_count",
                         [("product_tmpl_id", "=", tmpl), ("active", "in", [True, False])]) == 3
    # A variant's computed price and inherited fields cannot be written on it.
    with pytest.raises(Exception, match="computed"):
        await sb.call("product.product", "write", [s], {"lst_price": 1.0})
    # One variant: the template's code is the variant's, and writing it writes the variant.
    [one] = await sb.call("product.template", "read", [1], ["default_code"])
    assert one["default_code"] == "ACE-5L"
    await sb.call("product.template", "write", [1], {"default_code": "ACE-5L-B"})
    [variant] = await sb.call("product.product", "read", [1], ["default_code", "display_name"])
    assert variant == {"id": 1, "default_code": "ACE-5L-B",
                       "display_name": "[ACE-5L-B] Caja de aceite de motor 5W-30 5L"}


async def test_each_variant_is_a_product_and_single_variant_keys_stay(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    tmpl, s, xl = await shirt(sb)
    source = OdooSource(make_client(sb, http), MAPPING, page_size=2)
    state, events = await source.poll(None, now())
    products = {e["entity_key"]: e["payload"] for e in events if e["entity"] == "product"}
    # The seeded single-variant templates keep the keys they had: product/odoo/<template id>.
    assert {"product/odoo/1", "product/odoo/2", "product/odoo/3"} <= products.keys()
    assert products["product/odoo/1"]["sku"] == "ACE-5L"
    assert products["product/odoo/1"]["price"] == Decimal("42.5")
    assert f"product/odoo/{tmpl}" not in products  # its plain variant is archived
    small, big = products[f"product/odoo/variant-{s}"], products[f"product/odoo/variant-{xl}"]
    assert (small["sku"], small["price"], small["name"]) == ("CAM-S", Decimal("20"), "Camiseta (S)")
    assert (big["sku"], big["price"], big["name"]) == ("CAM-XL", Decimal("23.5"), "Camiseta (XL)")
    assert big["sales_taxes"] == ["iva_21"] and big["sales_account"] == "700"
    assert not [x for x in source.skipped if x[0] in ("product", "variant")]
    # Each product is reported once, though both walks (templates, variants) read it.
    keys = [e["entity_key"] for e in events if e["entity"] == "product"]
    assert len(keys) == len(set(keys)) == 5

    # A price changed on the template reaches every variant (their write_date did not move).
    await sb.call("product.template", "write", [tmpl], {"list_price": 22.0})
    state, events = await source.poll(state, now())
    assert {e["entity_key"]: e["payload"]["price"] for e in events} == {
        f"product/odoo/variant-{s}": Decimal("22"), f"product/odoo/variant-{xl}": Decimal("25.5")}
    before = {e["event_id"] for e in events}
    # A code changed on one variant reaches that variant. (The template, changed within the
    # overlap, may report its other variant again: the very event already sent, same id.)
    await sb.call("product.product", "write", [xl], {"default_code": "CAM-XL2"})
    state, events = await source.poll(state, now())
    assert [(e["entity_key"], e["payload"]["sku"]) for e in events
            if e["event_id"] not in before] == [(f"product/odoo/variant-{xl}", "CAM-XL2")]


async def test_webhooks_for_templates_and_variants_report_the_active_variants(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    tmpl, s, xl = await shirt(sb)
    [plain] = await sb.call("product.product", "search",
                            [("product_tmpl_id", "=", tmpl), ("active", "=", False)])
    refs = parse_webhook(json.dumps([{"_model": "product.template", "_id": tmpl},
                                     {"_model": "product.product", "_id": plain},
                                     {"_model": "product.product", "_id": xl}]))
    assert [r.entity for r in refs] == ["product", "variant"]
    events = await OdooSource(make_client(sb, http), MAPPING).fetch(refs)
    assert [e["entity_key"] for e in events] == [f"product/odoo/variant-{s}",
                                                 f"product/odoo/variant-{xl}"]


async def test_an_invoice_line_names_the_variant_that_reached_holded(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    tmpl, s, xl = await shirt(sb)
    [move] = await sb.call("account.move", "create", [{
        "move_type": "out_invoice", "partner_id": 1, "invoice_date": "2026-03-02",
        "invoice_line_ids": [
            [0, 0, {"product_id": xl, "name": "Camiseta XL", "quantity": 2.0,
                    "price_unit": 23.5, "tax_ids": [[6, 0, [1]]], "account_id": 1}],
            [0, 0, {"product_id": 1, "name": "Aceite", "quantity": 1.0,
                    "price_unit": 42.5, "tax_ids": [[6, 0, [1]]], "account_id": 1}]]}])
    await post_move(sb.orm, move)
    await sb.orm.db.commit()
    _, events = await OdooSource(make_client(sb, http), MAPPING).poll(None, now())
    products = {e["entity_key"]: e["payload"] for e in events if e["entity"] == "product"}
    invoice = next(e for e in events if e["entity_key"] == f"invoice/odoo/{move}")["payload"]
    lines = [(ln["product_key"], ln["sku"]) for ln in invoice["lines"]]
    assert lines == [(f"product/odoo/variant-{xl}", "CAM-XL"), ("product/odoo/1", "ACE-5L")]
    for key, sku in lines:  # the key and SKU of a product the source reports
        assert products[key]["sku"] == sku
