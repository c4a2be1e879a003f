"""Every golden case again, through the Holded sink against the strict sandbox: the document
is created, read back, and matches the source totals to the cent (or is refused, as mapped)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from app.jsonform import from_json
from app.mapping import load_mapping
from connectors.holded.sandbox import start_sandbox
from tests.connectors.holded.sink_support import command, contact, make_client, make_sink, product
from tests.golden.test_golden import CASES

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mapping-es.yaml"
DOC_TYPES = {"invoice": "invoice", "credit_note": "creditnote", "sales_receipt": "salesreceipt"}


@pytest.fixture
async def holded():
    server = await start_sandbox(port=0, rate_limit=None)
    yield server
    await server.stop()


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
async def test_golden_case_through_the_sink(path: Path, holded):
    case = json.loads(path.read_text(encoding="utf-8"))
    invoice = from_json("Invoice", case["source"])
    # The run under the example mapping's own Holded rounding.
    rounding = load_mapping(EXAMPLE).systems["holded"].rounding
    default = next(run for run in case["runs"] if run["rounding"] in (None, rounding))
    async with httpx.AsyncClient() as http:
        sink = make_sink(make_client(holded, http))
        customer = command("contact", invoice["customer_key"], contact(7, name="Cliente golden"))
        assert (await sink.execute(customer)).result["status"] == "succeeded"
        for line in invoice["lines"]:
            if line["sku"]:  # catalogued lines need their product in Holded first
                item = product(0, price=str(line["unit_price"]), taxes=line["taxes"])
                item.update(sku=line["sku"], name=line["description"])
                made = await sink.execute(command("product", f"product/odoo/{line['sku']}", item))
                assert made.result["status"] == "succeeded", made.result["reason"]
        outcome = await sink.execute(command("invoice", case["entity_key"], invoice,
                                             depends_on=[invoice["customer_key"]]))
    result = outcome.result
    if "error" in default:
        assert result["status"] == "parked" and not outcome.conflicts
        assert await holded.count("documents") == 0
        return
    assert result["status"] == "succeeded", result["reason"]
    assert not outcome.conflicts
    [doc] = await holded.all("documents")
    assert doc["docType"] == DOC_TYPES[invoice["doc_type"]]
    totals = case["source"]["totals"]
    assert Decimal(str(doc["subtotal"])) == Decimal(totals["subtotal"])
    assert Decimal(str(doc["total"])) == Decimal(totals["total"])
