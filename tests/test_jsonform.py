from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.jsonform import JsonFormError, from_json, loads_exact, to_json

LINE = {"line_no": 1, "description": "Pieza", "quantity": "2", "unit_price": "10.5",
        "taxes": ["iva_21"]}
INVOICE = {"doc_type": "invoice", "issue_date": "2026-03-01", "customer_key": "contact/odoo/C1",
           "lines": [LINE], "totals": {"subtotal": "21.00", "tax_total": "4.41",
                                       "withholding_total": "0", "total": "25.41"}}


def test_json_form_fills_defaults_and_reads_exact_decimals():
    inv = from_json("Invoice", INVOICE)
    assert inv["lines"][0]["unit_price"] == Decimal("10.5")
    assert inv["lines"][0]["discount_pct"] == Decimal(0)
    assert inv["issue_date"] == dt.date(2026, 3, 1)
    assert inv["status"] == "issued" and inv["currency"] == "EUR"


def test_json_numbers_are_read_as_decimals_not_floats():
    obj = loads_exact('{"a": 0.1}')
    assert obj["a"] == Decimal("0.1")


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'])
def test_nan_and_infinity_are_refused(text):
    with pytest.raises(ValueError):
        loads_exact(text)


@pytest.mark.parametrize("patch, path, reason", [
    ({"issue_date": "01/03/2026"}, "issue_date", "date"),
    ({"doc_type": "bill"}, "doc_type", "not one of"),
    ({"lines": [{**LINE, "unit_price": "1.1234567"}]}, "lines[0].unit_price", "more than 6 decimals"),
    ({"lines": [{**LINE, "quantity": 2.5}]}, "lines[0].quantity", "decimal"),
    ({"totals": {"subtotal": "1e30", "tax_total": "0", "withholding_total": "0", "total": "0"}},
     "totals.subtotal", "too large"),
    ({"color": "red"}, "", "unknown field"),
    ({"tax_regime": "martian"}, "tax_regime", "not one of"),
    ({"customer_key": None}, "customer_key", "expected string"),
])
def test_errors_name_the_field(patch, path, reason):
    with pytest.raises(JsonFormError) as err:
        from_json("Invoice", {**INVOICE, **patch})
    assert err.value.path == path and reason in err.value.reason


def test_missing_required_field():
    body = dict(INVOICE)
    del body["customer_key"]
    with pytest.raises(JsonFormError, match="customer_key: required field is missing"):
        from_json("Invoice", body)


def test_to_json_is_the_inverse_for_people():
    inv = from_json("Invoice", INVOICE)
    out = to_json(inv)
    assert out["lines"][0]["unit_price"] == "10.5" and out["issue_date"] == "2026-03-01"
    assert from_json("Invoice", out) == inv
