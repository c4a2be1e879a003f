"""Records in the Confluent wire format with a schema registry (the sandbox), and back."""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import fastavro
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from app.avro import SCHEMA_DIR, DecodeError, _parse_old, codec, load_schemas, named_types, use_registry
from app.cli import cli
from app.devkafka.broker import free_port
from app.devrun.avro_compat import incompatibilities
from app.devrun.schema_registry_sandbox import RegistrySandbox, start_registry_sandbox
from app.schema_registry import Registry, RegistryError, connect, self_contained
from app.settings import Settings
from tests.core.factories import change, contact, invoice, result_for

CHANGE, RESULT = codec("ChangeEvent"), codec("CommandResult")


@pytest.fixture
def sandbox() -> Iterator[RegistrySandbox]:
    server = start_registry_sandbox(auth=("hs", "pw"))
    yield server
    server.stop()


def settings_for(sandbox: RegistrySandbox) -> Settings:
    return Settings(schema_registry_url=sandbox.url, schema_registry_username="hs",
                    schema_registry_password=SecretStr("pw"))


@pytest.fixture
def registry(sandbox: RegistrySandbox) -> Iterator[Registry]:
    registry = connect(settings_for(sandbox))
    assert registry is not None
    yield registry
    use_registry(None)  # the codecs are process-wide: leave them as the other tests expect
    registry.close()


def test_records_carry_the_registry_id_and_round_trip(registry: Registry) -> None:
    event = change("odoo", invoice(), key="invoice/odoo/F-1")
    data = CHANGE.dumps(event)
    schema_id = int.from_bytes(data[1:5], "big")
    assert data[0] == 0
    # The registry holds our schema, self-contained, under the record's full name.
    assert registry.schema(schema_id)["name"] == "holdedsync.ChangeEvent"
    assert "holdedsync.ChangeEvent" in registry.subjects()
    back = CHANGE.loads(data)
    assert back["payload"] == event["payload"] and back["source_ts"] == event["source_ts"]
    # Any Confluent deserializer reads it with the registry's schema alone.
    standalone = fastavro.parse_schema(registry.schema(schema_id))
    body = fastavro.schemaless_reader(io.BytesIO(data[5:]), standalone, None)
    assert body["event_id"] == event["event_id"]
    # The inbox tells changes from results by the schema behind the id.
    result = RESULT.dumps(result_for({"command_id": "c", "entity_key": "contact/odoo/1",
                                      "target_system": "holded", "vector": {"odoo": 1},
                                      "content_hash": "h"}))
    assert CHANGE.knows(data) and not RESULT.knows(data)
    assert RESULT.knows(result) and not CHANGE.knows(result)
    with pytest.raises(DecodeError, match="is holdedsync.CommandResult, not holdedsync.ChangeEvent"):
        CHANGE.loads(result)


def test_both_framings_read_while_a_deployment_switches(sandbox: RegistrySandbox) -> None:
    before = CHANGE.dumps(change("odoo", contact()))  # single-object, as before the switch
    registry = connect(settings_for(sandbox))
    try:
        after = CHANGE.dumps(change("odoo", contact(name="Otra")))
        assert before[:2] == b"\xc3\x01" and after[0] == 0
        assert CHANGE.loads(before)["payload"]["name"] != CHANGE.loads(after)["payload"]["name"]
    finally:
        use_registry(None)
        registry.close()
    assert CHANGE.loads(before)
    with pytest.raises(DecodeError, match="not an Avro .* no schema registry is configured"):
        CHANGE.loads(after)


def test_bytes_naming_an_id_nobody_registered_are_a_bad_record_not_an_outage(
        registry: Registry, sandbox: RegistrySandbox) -> None:
    garbage = b"\x00not avro at all"  # a first byte of 0 and a made-up "id"
    with pytest.raises(DecodeError, match="is not in the schema registry"):
        CHANGE.loads(garbage)
    with pytest.raises(DecodeError):  # the inbox's "is it a result?" dead-letters it as well
        RESULT.knows(garbage)
    sandbox.state.fail_next = 1  # the registry failing is not the record's fault: not dead-lettered
    with pytest.raises(RegistryError, match="500"):
        CHANGE.loads(bytes((0,)) + (999).to_bytes(4, "big") + b"\x02")


def test_a_record_of_an_older_schema_version_is_fetched_by_id_and_read_in_today_shape(
        sandbox: RegistrySandbox) -> None:
    # Another, older deployment registered ChangeEvent v1 and wrote with it.
    old = _parse_old(json.loads((SCHEMA_DIR / "history" / "ChangeEvent.v1.avsc").read_text()),
                     SCHEMA_DIR)
    older = Registry(sandbox.url, auth=("hs", "pw"))
    old_id = older.register("holdedsync.ChangeEvent", self_contained(old, named_types()))
    event = change("odoo", contact())
    del event["lane"]
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, old, {**event, "payload": ("holdedsync.Contact", event["payload"])})
    data = bytes((0,)) + old_id.to_bytes(4, "big") + buf.getvalue()
    registry = Registry(sandbox.url, auth=("hs", "pw"))
    use_registry(registry)  # today's version is registered after v1: the registry checks it
    try:
        assert int.from_bytes(CHANGE.dumps(change("odoo", contact()))[1:5], "big") != old_id
        back = CHANGE.loads(data)
        assert back["lane"] == "realtime" and back["payload"] == event["payload"]
    finally:
        use_registry(None)
        registry.close()
        older.close()


def test_the_registry_refuses_an_incompatible_version_and_says_why(sandbox: RegistrySandbox) -> None:
    registry = Registry(sandbox.url, auth=("hs", "pw"))
    first = {"type": "record", "name": "x.T", "fields": [{"name": "a", "type": "string"}]}
    assert registry.register("x.T", first) == registry.register("x.T", first)
    widened = {**first, "fields": [*first["fields"], {"name": "b", "type": "int", "default": 0}]}
    assert registry.register("x.T", widened) != registry.register("x.T", first)
    broken = {**first, "fields": [*first["fields"], {"name": "c", "type": "int"}]}
    with pytest.raises(RegistryError, match=r"409 \(409: .*incompatible.*/c: new field without a default"):
        registry.register("x.T", broken)
    with pytest.raises(RegistryError, match=r"422 \(42201"):
        registry.register("x.U", {"type": "record", "name": "x.U", "fields": "nope"})
    with pytest.raises(RegistryError, match=r"404 \(40403"):
        registry.schema(999)
    with pytest.raises(RegistryError, match=r"401"):
        Registry(sandbox.url, auth=("hs", "wrong")).subjects()
    registry.close()


def test_an_unreachable_registry_is_one_clear_line_and_exit_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    res = CliRunner().invoke(cli, ["tables", "entities"],
                             env={"HOLDED_SYNC_SCHEMA_REGISTRY_URL": url})
    assert res.exit_code == 3, res.output
    assert "schema registry" in res.output and "unreachable" in res.output
    with pytest.raises(RegistryError):
        connect(Settings(schema_registry_url=url))


def test_every_schema_of_ours_is_self_contained_and_encodes_the_same_body() -> None:
    named = named_types()
    for name, parsed in load_schemas().items():
        alone = fastavro.parse_schema(json.loads(json.dumps(self_contained(parsed, named))))
        assert alone["name"] == parsed["name"], name
    event = change("odoo", invoice(), key="invoice/odoo/F-1")
    ours, alone = CHANGE.dumps(event), fastavro.parse_schema(
        json.loads(json.dumps(self_contained(CHANGE.schema, named))))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, alone, {**event, "payload": ("holdedsync.Invoice", event["payload"])})
    assert buf.getvalue() == ours[10:]


@pytest.mark.parametrize("reader, writer, problem", [
    ({"type": "long"}, {"type": "int"}, None),  # promotion
    ("int", "long", "the reader's int cannot read the writer's long"),
    (["null", "string"], "string", None),
    ("string", ["null", "string"], "no branch|cannot read the writer's null"),
    ({"type": "enum", "name": "E", "symbols": ["a"]},
     {"type": "enum", "name": "E", "symbols": ["a", "b"]}, "lacks the writer's symbols"),
    ({"type": "enum", "name": "E", "symbols": ["a"], "default": "a"},
     {"type": "enum", "name": "E", "symbols": ["a", "b"]}, None),
    ({"type": "record", "name": "R", "fields": [{"name": "x", "type": "int", "default": 1}]},
     {"type": "record", "name": "R", "fields": [{"name": "y", "type": "string"}]}, None),
    ({"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}]},
     {"type": "record", "name": "R", "fields": [{"name": "y", "type": "string"}]},
     "new field without a default"),
    ({"type": "record", "name": "R", "fields": []},
     {"type": "record", "name": "S", "fields": []}, "is not the writer's S"),
    ({"type": "array", "items": {"type": "bytes", "logicalType": "decimal", "precision": 9,
                                 "scale": 2}}, {"type": "array", "items": "string"}, None),
])
def test_avro_resolution_rules(reader, writer, problem) -> None:
    found = incompatibilities(reader, writer)
    if problem is None:
        assert found == []
    else:
        assert found and any(re.search(problem, f) for f in found), found


def test_todays_schemas_read_what_their_previous_versions_wrote() -> None:
    named = named_types()
    for path in sorted((SCHEMA_DIR / "history").glob("*.avsc")):
        name = path.name.split(".")[0]
        old = self_contained(_parse_old(json.loads(path.read_text()), SCHEMA_DIR), named)
        assert incompatibilities(self_contained(load_schemas()[name], named), old) == [], path.name
