"""ingest -> canonical agent -> commands, conflicts, echoes and the DLQ, on the real broker."""
from __future__ import annotations

import json

import pytest

from app.avro import codec
from app.ingest import ingest_file
from tests.core.factories import change, contact, invoice, result_for
from tests.support.flow import unique_key
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
T0 = 1_772_000_000_000


async def test_ingest_reaches_the_canonical_agent_and_becomes_commands(shared_flow, tmp_path):
    flow = shared_flow
    cust, inv = unique_key(), unique_key("invoice")
    data = tmp_path / "batch.jsonl"
    lines = [
        {"entity": "contact", "id": cust.rsplit("/", 1)[1], "updated_at": "2026-03-01T10:00:00Z",
         "data": {"kind": "customer", "name": "Talleres Gómez SL", "tax_id": "B12345678"}},
        {"entity": "invoice", "id": "broken", "updated_at": "2026-03-01T10:00:00Z", "data": {}},
        {"entity": "invoice", "id": inv.rsplit("/", 1)[1], "updated_at": "2026-03-01T10:00:00Z",
         "data": {"doc_type": "invoice", "issue_date": "2026-03-01", "customer_key": cust,
                  "lines": [{"line_no": 1, "description": "Revisión", "quantity": "1",
                             "unit_price": "100", "taxes": ["iva_21"]}],
                  "totals": {"subtotal": "100.00", "tax_total": "21.00",
                             "withholding_total": "0.00", "total": "121.00"}}},
    ]
    data.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    report = await ingest_file(data, "odoo", flow.settings)
    assert report.published == 2 and [e.line for e in report.errors] == [2]

    [c_cmd] = await flow.wait_commands("holded", 1, key=cust)
    [i_cmd] = await flow.wait_commands("holded", 1, key=inv)
    assert c_cmd["payload"]["tax_id"] == "B12345678" and c_cmd["vector"] == {"odoo": 1}
    assert i_cmd["depends_on"] == [cust]
    assert i_cmd["payload"]["totals"]["total"] == pytest.approx(121) and i_cmd["op"] == "upsert"
    state = await flow.wait_entity(inv, "the invoice's state")
    assert state["record"]["lines"][0]["taxes"] == ["iva_21"]
    assert await flow.commands("odoo", key=cust) == []  # nothing goes back to the origin


async def test_concurrent_changes_in_two_systems_produce_a_conflict_record(shared_flow):
    flow, key = shared_flow, unique_key()
    first = change("odoo", contact(), key=key, ts=T0)
    await flow.send_changes("odoo", first)
    [cmd] = await flow.wait_commands("holded", 1, key=key)
    await flow.send_result(result_for(cmd, target_id="h-77"))
    await flow.send_changes("holded", change("holded", contact(), key=key, ts=T0 + 1))
    # Both edit the tax id before seeing each other's change.
    await flow.send_changes("odoo", change("odoo", contact(tax_id="B11111111"), key=key, ts=T0 + 50))
    await flow.send_changes("holded", change("holded", contact(tax_id="B22222222"), key=key, ts=T0 + 60))

    async def conflict():
        return await flow.conflicts(key)
    [c] = await wait_for(conflict, 60, "a conflict record", flow.worker)
    assert c["field"] == "tax_id" and c["policy"] == "last_writer_wins"
    assert {c["canonical_value"], c["incoming_value"]} == {'"B11111111"', '"B22222222"'}

    async def settled():
        e = (await flow.table("entities")).get(key)
        return e if e and e["vector"] == {"odoo": 2, "holded": 1} else None
    state = await wait_for(settled, 60, "the merged state", flow.worker)
    assert state["record"]["tax_id"] == "B22222222"  # the later writer
    assert (await flow.table("links"))[key]["ids"] == {"holded": "h-77"}


async def test_echo_of_our_own_write_emits_nothing(shared_flow):
    flow, key = shared_flow, unique_key()
    await flow.send_changes("odoo", change("odoo", contact(), key=key, ts=T0))
    [cmd] = await flow.wait_commands("holded", 1, key=key)
    await flow.send_changes("holded", change("holded", cmd["payload"], key=key, ts=T0 + 5))

    async def echoed():
        return [a for a in await flow.audit(key) if a["kind"] == "echo"]
    await wait_for(echoed, 60, "the echo to be recorded", flow.worker)
    assert len(await flow.commands("holded", key)) == 1
    assert await flow.commands("odoo", key) == []


async def test_bad_records_go_to_the_dlq_and_the_agent_keeps_running(shared_flow):
    flow = shared_flow
    topic = flow.names.changes("odoo")
    good_key, wrong_key = unique_key(), unique_key()
    tampered = change("odoo", contact(), key=unique_key())
    tampered["content_hash"] = "0" * 64
    await flow.send_raw(topic, b"contact/odoo/garbage", b"\x00not avro at all")
    await flow.send_raw(topic, wrong_key.encode(),
                        codec("ChangeEvent").dumps(change("odoo", contact(), key=unique_key())))
    await flow.send_changes("odoo", tampered)
    await flow.send_raw(topic, b"invoice/odoo/x", codec("ChangeEvent").dumps(
        change("odoo", invoice(), key="invoice/odoo/x") | {"entity": "contact", "payload": contact(),
                                                            "content_hash": change("odoo", contact())["content_hash"]}))
    await flow.send_changes("odoo", change("odoo", contact(), key=good_key))

    await flow.wait_commands("holded", 1, key=good_key)

    async def dead():
        got = await flow.dlq()
        return got if len(got) >= 4 else None
    reasons = [d["reason"] for d in await wait_for(dead, 60, "4 dead letters", flow.worker)]
    assert any("not an Avro" in r for r in reasons)
    assert any("is not the entity key" in r for r in reasons)
    assert any("content_hash does not match" in r for r in reasons)
    assert any("does not match key" in r for r in reasons)
    [letter] = [d for d in await flow.dlq() if d["key"] == b"contact/odoo/garbage"]
    # The original bytes and where they were first published, not the inbox copy.
    assert letter["source_topic"] == topic and letter["value"] == b"\x00not avro at all"
