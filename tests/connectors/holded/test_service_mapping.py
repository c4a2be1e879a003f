"""Canonical services -> Holded ``/services`` bodies, and the SKU marker that finds them again."""
from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from app.mapping import Unmappable
from connectors.holded.service_mapping import (
    expected_vat_keys, is_service, map_service, service_marker, sku_of_service,
)
from tests.mapping.factories import example_mapping


def service(**fields: Any) -> dict[str, Any]:
    return {"kind": "service", "sku": "CONS-H", "name": "Consultoría", "description": "Por horas",
            "price": D("60.000000"), "cost": D("25.500000"), "currency": "EUR",
            "sales_taxes": ["iva_21", "irpf_15"], "purchase_taxes": [], "sales_account": None,
            "purchases_account": None, "barcode": None, "stock": [], "active": True, **fields}


def test_a_service_becomes_the_documented_services_body_with_its_sku_marker_last() -> None:
    request = map_service(service(), mapping=example_mapping())
    assert (request.method, request.path, request.mapping_version) == ("POST", "/services", 3)
    assert request.body == {"name": "Consultoría", "desc": "Por horas\nhs-sku:CONS-H",
                            "subtotal": D("60.000000"), "tax": 21, "cost": D("25.500000")}


def test_no_description_no_cost_no_vat_send_only_the_marker() -> None:
    request = map_service(service(description=None, cost=None, sales_taxes=[]),
                          mapping=example_mapping())
    assert request.body == {"name": "Consultoría", "desc": "hs-sku:CONS-H", "subtotal": D("60.000000")}


def test_a_service_is_unmappable_for_the_same_reasons_as_a_product() -> None:
    with pytest.raises(Unmappable) as caught:
        map_service(service(sales_taxes=["iva_7"], currency="USD"), mapping=example_mapping())
    assert caught.value.reasons == [
        "sales_taxes: canonical tax 'iva_7' is not in mapping v3",
        "currency: product price in 'USD'; Holded prices are in the base currency EUR"]


def test_expected_vat_keys_leave_out_surcharge_and_withholding() -> None:
    """``tax`` carries the VAT rate only: a surcharge key cannot be expected back."""
    assert expected_vat_keys(service(sales_taxes=["iva_21", "rec_5_2", "irpf_15"]),
                             mapping=example_mapping()) == ["s_iva_21"]


@pytest.mark.parametrize(("desc", "sku"), [
    ("hs-sku:CONS-H", "CONS-H"),
    ("Por horas\nhs-sku:CONS-H", "CONS-H"),
    ("Por horas hs-sku:CONS H 2 ", "CONS H 2"),         # a sku with blanks, trailing blank dropped
    ("old hs-sku:A\nhs-sku:B", "B"),                     # the last marker is the one written
    ("Por horas", None),                                 # made by hand in Holded
    ("", None), (None, None),
    ("xhs-sku:CONS-H", None),                            # not a marker: glued to a word
    ("hs-sku:", None),
])
def test_sku_of_service_reads_the_marker_the_mapping_writes(desc: str | None, sku: str | None) -> None:
    assert sku_of_service({"desc": desc}) == sku


def test_the_marker_round_trips_through_the_mapping() -> None:
    body = map_service(service(sku="A/B 1"), mapping=example_mapping()).body
    assert sku_of_service(body) == "A/B 1" and body["desc"].endswith(service_marker("A/B 1"))


def test_is_service_follows_the_canonical_kind() -> None:
    assert is_service(service()) and not is_service(service(kind="product"))
