"""EntityState v2 writes provenance grouped by origin (app/core/provenance.py): the in-memory
form is unchanged, v1 records (provenance per field) still decode to it, and the bytes do not
depend on the order of the provenance dict."""
from __future__ import annotations

import io
import json

import fastavro

from app.avro import MARKER, SCHEMA_DIR, _parse_old, codec, fingerprint_of
from tests.core.factories import contact

STATE = codec("EntityState")
A = {"system": "odoo", "source_ts": 1_000, "event_id": "e1"}
B = {"system": "holded", "source_ts": 2_000, "event_id": "e2"}


def state(provenance: dict) -> dict:
    record = contact()
    return {"entity_key": "contact/odoo/C1", "entity": "contact", "record": record,
            "deleted": False, "vector": {"odoo": 2, "holded": 1}, "provenance": provenance}


def test_round_trip_keeps_the_in_memory_form() -> None:
    provenance = {f: A for f in contact()} | {"email": B, "name": dict(B)}
    value = state(provenance)
    back = STATE.loads(STATE.dumps(value))
    assert back == value
    assert "provenance_groups" not in back
    assert STATE.loads(STATE.dumps(state({}))) == state({})


def test_bytes_do_not_depend_on_dict_order() -> None:
    provenance = {f: (B if i % 3 == 0 else A) for i, f in enumerate(contact())}
    reordered = dict(reversed(list(provenance.items())))
    assert STATE.dumps(state(provenance)) == STATE.dumps(state(reordered))


def test_grouping_makes_the_record_smaller() -> None:
    value = state({f: A for f in contact()})
    v1 = _parse_old(json.loads((SCHEMA_DIR / "history" / "EntityState.v1.avsc").read_text()),
                    SCHEMA_DIR)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, v1, {**value, "record": ("holdedsync.Contact", value["record"])})
    assert len(STATE.dumps(value)) < 10 + len(buf.getvalue()) * 0.75


def test_states_written_with_v1_still_decode() -> None:
    old_raw = json.loads((SCHEMA_DIR / "history" / "EntityState.v1.avsc").read_text())
    assert "provenance_groups" not in {f["name"] for f in old_raw["fields"]}
    old = _parse_old(old_raw, SCHEMA_DIR)
    value = state({f: (B if f == "email" else A) for f in contact()})
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, old, {**value, "record": ("holdedsync.Contact", value["record"])})
    data = MARKER + fingerprint_of(old) + buf.getvalue()
    assert data[2:10] != STATE.fingerprint
    assert STATE.loads(data) == value
