"""Taxes are data: a new mapping version applies to the next document on a running worker,
and a document nobody can map waits, parked, until a mapping fixes it (then goes once)."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from app.ingest import ingest_file
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "docs" / "examples" / "mapping-es.yaml").read_text())
CUSTOMER = {"kind": "customer", "name": "Ultramarinos Pérez", "tax_id": "B11223344",
            "tax_regime": "general", "default_taxes": ["iva_4"]}


def retax(doc: dict, version: int, canonical: str, rate: int, holded_key: str, drop: str) -> dict:
    """A copy of ``doc`` where ``canonical`` has ``rate`` and maps to ``holded_key`` in Holded;
    the canonical tax ``drop`` (which held that key) and every system code of either go away."""
    new = copy.deepcopy(doc)
    new["version"] = version
    new["taxes"].pop(drop, None)
    new["taxes"][canonical] = {**doc["taxes"].get("iva_4", {}), "name": f"{canonical} {rate}%",
                               "rate": rate}
    for system in new["systems"].values():
        taxes = system.get("taxes", {})
        for code, entry in list(taxes.items()):
            if (entry.get("canonical") if isinstance(entry, dict) else entry) in (canonical, drop):
                del taxes[code]
    new["systems"]["holded"]["taxes"][holded_key] = {"canonical": canonical, "rate": rate}
    return new


def write(tmp: Path, name: str, doc: dict) -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def invoice_line(number: str, tax: str, rate: int) -> dict:
    tax_total = Decimal(rate)  # one line of 100.00
    return {"entity": "invoice", "id": number, "updated_at": "2026-03-05T10:00:00Z",
            "data": {"doc_type": "invoice", "number": number, "issue_date": "2026-03-05",
                     "customer_key": "contact/odoo/C-77",
                     "lines": [{"line_no": 1, "description": "Leche entera (caja)", "quantity": "1",
                                "unit_price": "100.00", "taxes": [tax]}],
                     "totals": {"subtotal": "100.00", "tax_total": f"{tax_total:.2f}",
                                "withholding_total": "0.00", "total": f"{100 + tax_total:.2f}"}}}


def jsonl(tmp: Path, name: str, *lines: dict) -> Path:
    path = tmp / name
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    return path


@pytest.fixture
async def holded():
    server = await start_sandbox(port=0, rate_limit=RateLimit(requests=50, per_seconds=1.0))
    yield server
    await server.stop()


async def holded_invoices(holded) -> dict[str, dict]:
    docs = await holded.all("documents")
    return {f["value"]: d for d in docs for f in d.get("customFields", [])
            if f.get("field") == "holded_sync_key"}


async def test_a_new_vat_rate_applies_to_the_next_invoice_without_a_restart(own_flow, holded, tmp_path):
    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key",
                                                requests_per_second=20))
    pid = flow.worker.proc.pid
    await publish_mapping(flow.settings, write(tmp_path, "v3.yaml", EXAMPLE))
    contact = {"entity": "contact", "id": "C-77", "updated_at": "2026-03-01T00:00:00Z", "data": CUSTOMER}
    await ingest_file(jsonl(tmp_path, "a.jsonl", contact, invoice_line("A-1", "iva_4", 4)), "odoo", flow.settings)

    async def first():
        return (await holded_invoices(holded)).get("invoice/odoo/A-1")
    before = await wait_for(first, 120, "invoice A-1 in Holded", flow.worker)
    assert Decimal(str(before["total"])) == Decimal("104.00")

    # The superreduced VAT drops to 0 % (as it did for basic food in 2023): data, not code.
    v4 = retax(EXAMPLE, EXAMPLE["version"] + 1, "iva_4", 0, "s_iva_0", drop="iva_0")
    await publish_mapping(flow.settings, write(tmp_path, "v4.yaml", v4))
    writes_before = len(holded.requests)
    await ingest_file(jsonl(tmp_path, "b.jsonl", invoice_line("B-1", "iva_4", 0)), "odoo", flow.settings)

    async def second():
        return (await holded_invoices(holded)).get("invoice/odoo/B-1")
    after = await wait_for(second, 120, "invoice B-1 in Holded", flow.worker)
    assert Decimal(str(after["total"])) == Decimal("100.00")
    assert after["products"][0]["taxes"] == ["s_iva_0"]

    async def succeeded():  # the sink records its result after the read-back seen above
        return [r for r in await flow.read_results("holded", "invoice/odoo/B-1")
                if r["status"] == "succeeded"] or None
    [result] = await wait_for(succeeded, 60, "the result of invoice B-1", flow.worker)
    assert result["mapping_version"] == v4["version"]
    [command] = [c for c in await flow.commands("holded", "invoice/odoo/B-1")]
    assert command["mapping_version"] == v4["version"]
    # Nothing restarted, and the earlier invoice was not touched again.
    assert flow.worker.proc.pid == pid and flow.worker.proc.poll() is None
    a_id = before["id"]
    assert not [r for r in holded.requests[writes_before:] if a_id in r.path and r.method != "GET"]
    assert Decimal(str((await holded_invoices(holded))["invoice/odoo/A-1"]["total"])) == Decimal("104.00")


async def test_an_unmappable_invoice_is_parked_then_sent_once_when_the_mapping_is_fixed(
        own_flow, holded, tmp_path):
    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key",
                                                requests_per_second=20))
    await publish_mapping(flow.settings, write(tmp_path, "v3.yaml", EXAMPLE))
    contact = {"entity": "contact", "id": "C-77", "updated_at": "2026-03-01T00:00:00Z", "data": CUSTOMER}
    await ingest_file(jsonl(tmp_path, "p.jsonl", contact, invoice_line("P-1", "iva_superreducido", 4)),
                      "odoo", flow.settings)

    async def parked():
        got = [r for r in await flow.read_results("holded", "invoice/odoo/P-1") if r["status"] == "parked"]
        return got or None
    [first] = await wait_for(parked, 120, "invoice P-1 to be parked", flow.worker)
    assert "iva_superreducido" in first["reason"]
    assert "invoice/odoo/P-1" not in await holded_invoices(holded)

    fixed = retax(EXAMPLE, EXAMPLE["version"] + 1, "iva_superreducido", 4, "s_iva_4", drop="iva_4")
    await publish_mapping(flow.settings, write(tmp_path, "v4.yaml", fixed))

    async def sent():
        return (await holded_invoices(holded)).get("invoice/odoo/P-1")
    doc = await wait_for(sent, 120, "invoice P-1 in Holded after the fix", flow.worker)
    assert Decimal(str(doc["total"])) == Decimal("104.00")
    await flow.wait_idle(60)
    results = await flow.read_results("holded", "invoice/odoo/P-1")
    assert [r["status"] for r in results if r["status"] == "succeeded"] == ["succeeded"]
    assert {r["command_id"] for r in results} == {first["command_id"]}  # the same command, re-driven
    posts = [r for r in holded.requests if r.method == "POST" and r.path.endswith("/documents/invoice")]
    assert len(posts) == 1
