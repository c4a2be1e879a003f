from __future__ import annotations

import io
import json
from decimal import Decimal

import fastavro
import pytest

from app.avro import MARKER, SCHEMA_DIR, DecodeError, _parse_old, codec, fingerprint_of
from tests.core.factories import change, contact, invoice


def test_change_event_round_trips_with_decimals_and_dates():
    ev = change("odoo", invoice(), key="invoice/odoo/F-1")
    c = codec("ChangeEvent")
    back = c.loads(c.dumps(ev))
    assert back["payload"]["lines"][0]["unit_price"] == Decimal("50.000000")
    assert back["payload"]["totals"]["total"] == Decimal("121.00")
    assert back["payload"]["issue_date"] == ev["payload"]["issue_date"]
    assert back["source_ts"] == ev["source_ts"]


def test_records_carry_the_writer_schema_fingerprint():
    c = codec("ChangeEvent")
    data = c.dumps(change("odoo", contact()))
    assert data[:2] == MARKER and data[2:10] == c.fingerprint == fingerprint_of(c.schema)


def test_events_written_with_the_previous_schema_still_decode():
    old_raw = json.loads((SCHEMA_DIR / "history" / "ChangeEvent.v1.avsc").read_text())
    assert "lane" not in {f["name"] for f in old_raw["fields"]}
    old = _parse_old(old_raw, SCHEMA_DIR)
    ev = change("odoo", contact())
    del ev["lane"]
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, old, {**ev, "payload": ("holdedsync.Contact", ev["payload"])})
    data = MARKER + fingerprint_of(old) + buf.getvalue()
    back = codec("ChangeEvent").loads(data)
    assert back["lane"] == "realtime"  # the field v2 added, filled from its default
    assert back["payload"] == ev["payload"]


def _written_with(name: str, version: int, record: dict) -> bytes:
    old = _parse_old(json.loads((SCHEMA_DIR / "history" / f"{name}.v{version}.avsc").read_text()),
                     SCHEMA_DIR)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, old, record)
    return MARKER + fingerprint_of(old) + buf.getvalue()


def test_commands_and_sink_ledgers_from_before_the_write_base_still_decode():
    # Commands waiting in commands.* and ledger tables in their changelogs at an upgrade.
    command = {"command_id": "c-1", "entity_key": "contact/odoo/1", "entity": "contact",
               "target_system": "holded", "op": "upsert", "vector": {"odoo": 1}, "payload": None,
               "content_hash": "h", "target_id": None, "links": {}, "depends_on": [],
               "lane": "realtime", "mapping_version": None, "caused_by": "e-1"}
    back = codec("Command").loads(_written_with("Command", 1, command))
    assert back == {**command, "base_ts": 0, "base_hash": None}
    back = codec("Command").loads(_written_with("Command", 2, {**command, "base_ts": 7}))
    assert back == {**command, "base_ts": 7, "base_hash": None}
    ledger = {"results": {}, "written": {"odoo": 1}, "parked": {}}
    assert codec("SinkLedger").loads(_written_with("SinkLedger", 1, ledger)) == {
        **ledger, "stamps": {}, "parked_kinds": {}}
    # v2 (before why a parked command waits was kept)
    assert codec("SinkLedger").loads(_written_with("SinkLedger", 2, {**ledger, "stamps": {"T": 5}})) == {
        **ledger, "stamps": {"T": 5}, "parked_kinds": {}}


def test_money_with_more_decimals_than_the_schema_is_refused():
    bad = invoice()
    bad["totals"] = {**bad["totals"], "total": Decimal("121.001")}
    with pytest.raises(ValueError):
        codec("Invoice").dumps(bad)


@pytest.mark.parametrize("data, reason", [
    (b"", "not an Avro"),
    (b"{\"json\": true}", "not an Avro"),
    (MARKER + b"\x00" * 8 + b"abc", "unknown schema fingerprint"),
])
def test_garbage_is_a_decode_error(data, reason):
    with pytest.raises(DecodeError, match=reason):
        codec("ChangeEvent").loads(data)


def test_truncated_body_is_a_decode_error():
    data = codec("ChangeEvent").dumps(change("odoo", contact()))
    with pytest.raises(DecodeError, match="corrupt"):
        codec("ChangeEvent").loads(data[:30])
