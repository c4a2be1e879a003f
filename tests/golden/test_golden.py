"""Golden cases: canonical invoice (JSON form) -> Holded payload and totals, with the example mapping.

Each file in ``cases/`` holds the source document as JSON (decimals as strings, ISO dates), the
Holded refs, and one or more runs: the expected request and totals, or the expected refusal.
The source totals in each case were computed by hand; the mapper recomputes and checks them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from app.jsonform import from_json, to_json
from app.mapping import Mapping, TotalsMismatch, Unmappable, load_mapping
from connectors.holded.mapping import DocumentRefs, map_invoice

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))
EXPECTED_CASES = {
    "iva_21", "iva_10", "iva_4", "iva_0", "iva_exento", "recargo_equivalencia", "irpf_15",
    "irpf_7", "irpf_19", "intra_eu_goods", "intra_eu_services", "domestic_reverse_charge",
    "export", "credit_note", "usd_invoice", "rounding_line_vs_document", "tax_included_price",
}


@pytest.fixture(scope="module")
def example() -> Mapping:
    return load_mapping(ROOT / "docs" / "examples" / "mapping-es.yaml")


def with_rounding(mapping: Mapping, rounding: str | None) -> Mapping:
    if rounding is None:
        return mapping
    holded = dataclasses.replace(mapping.systems["holded"], rounding=rounding)
    return dataclasses.replace(mapping, systems={**mapping.systems, "holded": holded})


def test_every_case_is_present() -> None:
    assert {path.stem for path in CASES} == EXPECTED_CASES


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_case(path: Path, example: Mapping) -> None:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    invoice = from_json("Invoice", case["source"])
    refs = DocumentRefs(case["refs"]["contact_id"], case["refs"]["product_ids"])
    assert case["runs"], "a case needs at least one run"
    for run in case["runs"]:
        mapping = with_rounding(example, run["rounding"])
        if "error" in run:
            with pytest.raises(Unmappable) as caught:
                map_invoice(invoice, entity_key=case["entity_key"], mapping=mapping, refs=refs)
            assert type(caught.value).__name__ == run["error"]
            assert caught.value.reasons == run["reasons"]
            if isinstance(caught.value, TotalsMismatch):
                assert to_json(caught.value.mapped) == run["mapped_totals"]
            continue
        request = map_invoice(invoice, entity_key=case["entity_key"], mapping=mapping, refs=refs)
        assert (request.method, request.path) == (run["method"], run["path"])
        assert to_json(request.body) == run["payload"]
        assert request.totals is not None
        assert to_json(request.totals.as_dict()) == run["totals"] == case["source"]["totals"]
        breakdown = [to_json({"code": t.code, "base": t.base, "amount": t.amount})
                     for t in request.totals.taxes]
        assert breakdown == run["taxes"]
        assert request.mapping_version == example.version
