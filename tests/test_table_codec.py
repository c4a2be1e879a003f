"""The canonical table's values are MessagePack under the Avro schemas' rules
(app/table_codec.py): the same records as Avro gives, older Avro values and older schema
versions still read, corrupt or foreign bytes refused with a reason."""
from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import fastavro
import msgpack
import pytest

from app.avro import MARKER, SCHEMA_DIR, DecodeError, _parse_old, codec, fingerprint_of
from app.canonical_entry import Entry, decode, encode
from app.canonical_step import CanonicalStep
from app.connections import engine_policy
from app.live_mapping import LiveMapping
from app.settings import Settings
from app.table_codec import MAGIC, table_codec
from tests.core.factories import change, contact, invoice, result_for

STATE, REPLICAS, LINKS = (table_codec(n) for n in ("EntityState", "ReplicaSet", "LinkSet"))
A = {"system": "odoo", "source_ts": 1_000, "event_id": "e1"}
B = {"system": "holded", "source_ts": 2_000, "event_id": "e2"}


def state(entity: str, record: dict, provenance: dict) -> dict:
    return {"entity_key": f"{entity}/odoo/X1", "entity": entity, "record": record,
            "deleted": False, "vector": {"odoo": 2, "holded": 1}, "provenance": provenance}


def decided_entry() -> Entry:
    """A real entry: a change decided, then the result of its command."""
    policy = engine_policy(Settings(systems=("holded", "odoo")), LiveMapping())
    step = CanonicalStep(policy, 0)
    first = step(b"contact/odoo/C1", codec("ChangeEvent").dumps(change("odoo", contact())), None)
    [command] = first.decision.commands
    done = step(b"contact/odoo/C1", codec("CommandResult").dumps(result_for(command)),
                first.entry.raw)
    assert done.entry.record("links"), "the result records a link"
    return done.entry


@pytest.mark.parametrize("value", [
    state("contact", contact(), {f: (B if f == "email" else A) for f in contact()}),
    state("invoice", invoice(), {"number": A, "lines": B}),  # decimals and dates
    state("contact", None, {}) | {"deleted": True},
])
def test_states_read_back_as_avro_reads_them(value: dict) -> None:
    data = STATE.dumps(value)
    assert data[:2] == MAGIC and data[2:10] == codec("EntityState").fingerprint
    avro = codec("EntityState")
    assert STATE.loads(data) == value == avro.loads(avro.dumps(value))
    # Types survive exactly: a Decimal keeps its exponent, a date stays a date.
    if value["entity"] == "invoice":
        back = STATE.loads(data)["record"]
        assert back["totals"]["total"].as_tuple() == Decimal("121.00").as_tuple()
        assert type(back["issue_date"]) is dt.date


def test_a_decided_entry_reads_back_whole_and_older_avro_entries_still_read() -> None:
    entry = decided_entry()
    assert entry.raw[:2] == MAGIC
    assert decode(entry.raw) == entry.records
    avro_parts = {f: codec(c.name).dumps(entry.records[f]) for f, c in
                  (("state", STATE), ("replicas", REPLICAS), ("links", LINKS))}
    assert all(p[:2] == MARKER for p in avro_parts.values())
    avro_entry = codec("CanonicalEntry").dumps(avro_parts)  # as workers wrote it before
    assert decode(avro_entry) == entry.records
    # An Avro entry updated by a decision is written in the new form, unchanged parts kept.
    assert decode(encode(avro_entry, None, REPLICAS.dumps(entry.records["replicas"]), None)
                  ) == entry.records


def test_a_value_of_an_earlier_schema_version_reads_into_todays_shape() -> None:
    # EntityState v1 kept provenance per field; its fingerprint tags the body.
    v1 = _parse_old(json.loads((SCHEMA_DIR / "history" / "EntityState.v1.avsc").read_text()),
                    SCHEMA_DIR)
    value = state("contact", contact(), {f: (B if f == "email" else A) for f in contact()})
    data = MAGIC + fingerprint_of(v1) + msgpack.packb(value)
    assert STATE.loads(data) == value
    # The same as Avro reading a v1 record.
    buf = io.BytesIO()
    tagged = {**value, "record": ("holdedsync.Contact", value["record"])}
    fastavro.schemaless_writer(buf, v1, tagged)
    assert codec("EntityState").loads(MARKER + fingerprint_of(v1) + buf.getvalue()) == value


@pytest.mark.parametrize("data, reason", [
    (MAGIC + codec("EntityState").fingerprint + b"\xc1", "corrupt EntityState record"),
    (MAGIC + codec("EntityState").fingerprint + msgpack.packb([1, 2]), "not a map"),
    (MAGIC + b"\x01" * 8 + msgpack.packb({}), "unknown schema fingerprint 0101010101010101"),
    (MAGIC + codec("EntityState").fingerprint + msgpack.packb({"x": msgpack.ExtType(9, b"")}),
     "unknown extension type 9"),
    (MAGIC + codec("EntityState").fingerprint + msgpack.packb({"x": 1}) + b"\x00", "ExtraData"),
    (b"\xc3\x01" + b"\x02" * 8 + b"junk", "unknown schema fingerprint"),  # Avro, not ours
    (b"{}", "not an Avro single-object encoded EntityState"),
])
def test_bytes_that_are_not_a_value_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        STATE.loads(data)


def test_only_plain_data_is_written() -> None:
    with pytest.raises(ValueError, match="cannot encode EntityState: object is not table data"):
        STATE.dumps(state("contact", contact(tags=[object()]), {}))
    with pytest.raises(ValueError, match="cannot encode EntityState"):
        STATE.dumps(state("contact", contact(payment_due_days=1 << 70), {}))


def test_the_table_value_is_smaller_to_read_than_its_avro() -> None:
    """Not a timing (bench/canonical_cpu.py has those): the provenance is stored grouped, as in
    Avro, so the value does not grow with the fields that share an origin."""
    value = state("contact", contact(), {f: A for f in contact()})
    grouped = STATE.dumps(value)
    assert len(grouped) < len(msgpack.packb(value)) * 0.75
