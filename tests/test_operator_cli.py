"""Operator commands against the real local Kafka: records are published straight to the
topics and changelogs the engine writes, then read back through the CLI."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import click
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from click.testing import CliRunner

from app.avro import codec
from app.canonical_entry import encode
from app.core.hashing import canonical_json, content_hash
from app.inspect import read_topic
from app.operator_cli import register
from app.topics import CANONICAL_TABLE, TopicNames, ensure_topics, kafka_client_options, ledger_table
from tests.core.factories import change, contact

pytestmark = pytest.mark.kafka


@click.group()
def root() -> None:
    """The operator commands alone, with settings passed in as ctx.obj."""


register(root)


def cli(settings, *args: str):
    return CliRunner().invoke(root, list(args), obj={"settings": settings}, catch_exceptions=False)


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def settings(kafka, tmp_path):
    s = kafka.settings(tmp_path)
    asyncio.run(ensure_topics(s))
    return s


def publish(settings, *records: tuple) -> None:
    """(topic, key, value, timestamp ms[, partition]) each, in order."""
    async def go():
        producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
        await producer.start()
        try:
            for topic, key, value, ts, *partition in records:
                await producer.send_and_wait(topic, key=key.encode() if key else None, value=value,
                                             timestamp_ms=ts, partition=partition[0] if partition else None)
        finally:
            await producer.stop()
    asyncio.run(go())


def read(settings, topic, name=None, key=None):
    return asyncio.run(read_topic(settings, topic, codec(name).loads if name else None, key))


def key_() -> str:
    return f"contact/odoo/{uuid.uuid4().hex[:10]}"


def command(key: str, target: str = "holded", vector=None, cid: str | None = None) -> dict:
    payload = contact()
    return {"command_id": cid or uuid.uuid4().hex, "entity_key": key, "entity": "contact",
            "target_system": target, "op": "upsert", "vector": vector or {"odoo": 1},
            "payload": payload, "content_hash": content_hash(payload), "target_id": None,
            "links": {}, "depends_on": [], "lane": "realtime", "mapping_version": 3,
            "caused_by": "ev-1"}


def result(cmd: dict, status: str = "succeeded", reason: str | None = None) -> dict:
    return {"command_id": cmd["command_id"], "entity_key": cmd["entity_key"],
            "target_system": cmd["target_system"], "status": status, "target_id": "h-1",
            "vector": cmd["vector"], "content_hash": cmd["content_hash"], "reason": reason,
            "mapping_version": 3, "completed_ts": 1_700_000_000_000}


def conflict(key: str, field: str = "name", policy: str = "last_writer_wins",
             decision: str = "kept_canonical", canonical="Talleres A", incoming="Talleres B") -> dict:
    return {"conflict_id": uuid.uuid4().hex[:32], "entity_key": key, "field": field,
            "canonical_system": "holded", "canonical_value": canonical_json(canonical),
            "incoming_system": "odoo", "incoming_value": canonical_json(incoming),
            "decision": decision, "policy": policy, "vector": {"holded": 1, "odoo": 1},
            "event_id": "ev-9", "ts": 1_700_000_000_000}


def audit(key: str) -> dict:
    return {"entity_key": key, "kind": "merged", "system": "odoo", "event_id": "ev-9",
            "command_id": None, "vector": {"holded": 1, "odoo": 1},
            "detail": "1 conflicting field(s) settled", "ts": 1_700_000_000_000}


# ---------------------------------------------------------------- history

def test_history_merges_every_kind_of_record_of_one_key_in_time_order(settings):
    names, key, other = TopicNames(settings), key_(), key_()
    t0 = int(time.time() * 1000) - 60_000
    cmd = command(key)
    publish(settings,
            (names.conflicts, key, codec("Conflict").dumps(conflict(key)), t0 + 3000),
            (names.changes("odoo"), key, codec("ChangeEvent").dumps(change("odoo", contact(), key=key)), t0),
            (names.audit, key, codec("AuditRecord").dumps(audit(key)), t0 + 4000),
            (names.commands("holded"), key, codec("Command").dumps(cmd), t0 + 1000),
            (names.results("holded"), key, codec("CommandResult").dumps(result(cmd)), t0 + 2000),
            (names.changes("odoo"), other, codec("ChangeEvent").dumps(change("odoo", contact(), key=other)), t0))
    # Only the key's partition is read: the same key forced onto another partition is not seen.
    from aiokafka.partitioner import DefaultPartitioner
    own = DefaultPartitioner()(key.encode(), list(range(settings.partitions)), [])
    publish(settings, (names.audit, key, codec("AuditRecord").dumps(audit(key)), t0 + 5000,
                       (own + 1) % settings.partitions))
    res = cli(settings, "history", key)
    assert res.exit_code == 0, res.output
    rows = res.stdout.splitlines()
    assert rows[0].split() == ["TIME", "KIND", "SYSTEM", "SUMMARY"]
    assert [r.split()[1] for r in rows[1:]] == ["change", "command", "result", "conflict", "audit"]
    assert "succeeded vector=odoo:1" in rows[3] and "name: kept_canonical by last_writer_wins" in rows[4]
    js = lines(cli(settings, "history", key, "--json"))
    assert [j["kind"] for j in js] == ["change", "command", "result", "conflict", "audit"]
    assert {j["record"]["entity_key"] for j in js} == {key}
    assert [j["system"] for j in js] == ["odoo", "holded", "holded", "odoo", "odoo"]


def test_history_of_an_unknown_key_is_exit_1_and_of_a_bad_key_exit_2(settings):
    unknown = cli(settings, "history", key_())
    assert unknown.exit_code == 1 and "nothing known about contact/odoo/" in unknown.output
    bad = cli(settings, "history", "customer/odoo/1")
    assert bad.exit_code == 2 and "unknown entity 'customer'" in bad.output


def test_no_broker_is_exit_3(tmp_path, kafka):
    from app.devkafka.broker import free_port

    s = kafka.settings(tmp_path, broker=f"kafka://127.0.0.1:{free_port()}")
    res = cli(s, "dlq", "list")
    assert res.exit_code == 3 and "cannot reach Kafka" in res.output


# ---------------------------------------------------------------- conflicts

def test_conflicts_list_filters_by_entity_and_since_and_show_gives_both_values(settings):
    names, k1, k2 = TopicNames(settings), key_(), key_()
    c1, c2 = conflict(k1), conflict(k2, field="email", canonical=None, incoming="a@b.es")
    # Listed by time, then partition: a shared millisecond would order them by their random
    # keys' partitions.
    now = int(time.time() * 1000)
    # c1 is recorded twice: its change decided again after a kill (app/direct_table.py).
    publish(settings, (names.conflicts, k1, codec("Conflict").dumps(c1), now - 1),
            (names.conflicts, k2, codec("Conflict").dumps(c2), now),
            (names.conflicts, k1, codec("Conflict").dumps(c1), now + 1))
    every = cli(settings, "conflicts", "list", "--json")
    assert every.exit_code == 0 and [j["conflict_id"] for j in lines(every)] == [c1["conflict_id"], c2["conflict_id"]]
    assert lines(every)[0]["recorded_at"] == _iso_ms(now - 1)  # its first record
    one = cli(settings, "conflicts", "list", "--entity", k2)
    assert one.exit_code == 0 and len(one.stdout.splitlines()) == 2 and k2 in one.stdout and k1 not in one.stdout
    assert len(lines(cli(settings, "conflicts", "list", "--since", "1h", "--json"))) == 2
    assert cli(settings, "conflicts", "list", "--since", "2999-01-01", "--json").stdout == ""

    shown = cli(settings, "conflicts", "show", c1["conflict_id"][:10])
    assert shown.exit_code == 0
    assert 'holded: "Talleres A"   <- kept' in shown.stdout and 'odoo: "Talleres B"' in shown.stdout
    assert "kept_canonical (policy last_writer_wins)" in shown.stdout
    assert json.loads(cli(settings, "conflicts", "show", c2["conflict_id"], "--json").stdout)["incoming_value"] == '"a@b.es"'


def test_conflicts_bad_input_is_clear(settings):
    missing = cli(settings, "conflicts", "show", "feedface")
    assert missing.exit_code == 1 and "no conflict 'feedface'" in missing.output
    assert cli(settings, "conflicts", "list", "--since", "yesterday").exit_code == 2
    bad_key = cli(settings, "conflicts", "list", "--entity", "nope")
    assert bad_key.exit_code == 2 and "is not <entity>/<origin system>/<origin id>" in bad_key.output
    bad_take = cli(settings, "conflicts", "resolve", "x", "--take", "odoo")
    assert bad_take.exit_code == 2 and "canonical" in bad_take.output


def _entity(settings, key: str, record: dict, provenance_ts: int) -> None:
    names = TopicNames(settings)
    prov = {f: {"system": "holded", "source_ts": provenance_ts, "event_id": "ev-1"} for f in record}
    state = {"entity_key": key, "entity": "contact", "record": record, "deleted": False,
             "vector": {"holded": 1, "odoo": 1}, "provenance": prov}
    publish(settings, (names.changelog(CANONICAL_TABLE), key,
                       encode(None, codec("EntityState").dumps(state), None, None), None))


def test_conflicts_resolve_publishes_an_operator_change_to_the_winning_system(settings):
    key = key_()
    later = int(time.time() * 1000) + 3_600_000  # the provenance is newer than now
    _entity(settings, key, contact(name="Talleres A"), later)
    c = conflict(key)
    publish(settings, (TopicNames(settings).conflicts, key, codec("Conflict").dumps(c), None))

    res = cli(settings, "conflicts", "resolve", c["conflict_id"], "--take", "incoming")
    assert res.exit_code == 0, res.output
    assert f"to {TopicNames(settings).changes('odoo')}" in res.stdout
    [event] = [r.value for r in read(settings, TopicNames(settings).changes("odoo"), "ChangeEvent", key)]
    assert event["source_system"] == "operator" and event["payload"]["name"] == "Talleres B"
    assert event["payload"]["tax_id"] == contact()["tax_id"]
    assert event["content_hash"] == content_hash(event["payload"])
    assert int(event["source_ts"].timestamp() * 1000) > later
    # No worker is in the group: the message says the change waits, not that it is applied.
    assert "no worker runs now: the first to start applies it" in res.stdout

    # The canonical record already holds the canonical side: nothing to publish.
    same = cli(settings, "conflicts", "resolve", c["conflict_id"], "--take", "canonical")
    assert same.exit_code == 0 and "nothing published" in same.stdout
    assert read(settings, TopicNames(settings).changes("holded"), key=key) == []


def test_conflicts_resolve_with_a_worker_in_the_group_says_it_applies_it(settings):
    key = key_()
    _entity(settings, key, contact(name="Talleres A"), int(time.time() * 1000))
    c = conflict(key)
    publish(settings, (TopicNames(settings).conflicts, key, codec("Conflict").dumps(c), None))

    async def with_a_member():
        member = AIOKafkaConsumer(TopicNames(settings).inbox, group_id=TopicNames(settings).app_id,
                                  **kafka_client_options(settings))
        await member.start()
        try:
            await member.getmany(timeout_ms=3000)  # joined once it has fetched
            return await asyncio.to_thread(cli, settings, "conflicts", "resolve", c["conflict_id"],
                                           "--take", "incoming")
        finally:
            await member.stop()
    res = asyncio.run(with_a_member())
    assert res.exit_code == 0, res.output
    assert res.stdout.rstrip().endswith("(incoming); the worker applies it")


def test_conflicts_resolve_refuses_an_entity_without_a_record(settings):
    names = TopicNames(settings)
    gone_key = key_()
    gone = conflict(gone_key)
    publish(settings, (names.conflicts, gone_key, codec("Conflict").dumps(gone), None))
    res = cli(settings, "conflicts", "resolve", gone["conflict_id"], "--take", "incoming")
    assert res.exit_code == 1 and "has no current canonical record" in res.output
    assert read(settings, names.changes("odoo"), key=gone_key) == []


# ---------------------------------------------------------------- dlq

def _dead(settings, source: str, key: str, value: bytes, reason: str) -> dict:
    return {"reason": reason, "error": "BadEvent", "source_topic": source, "partition": 2,
            "offset": 41, "key": key.encode(), "value": value, "ts": int(time.time() * 1000)}


def test_dlq_list_show_and_redrive(settings):
    names, key = TopicNames(settings), key_()
    good = codec("ChangeEvent").dumps(change("odoo", contact(), key=key))
    d1 = _dead(settings, names.changes("odoo"), key, good, "content_hash does not match the payload")
    d2 = _dead(settings, names.changes("odoo"), key, b"\x00garbage", "not a ChangeEvent")
    publish(settings, (names.dlq, key, codec("DeadLetter").dumps(d1), None),
            (names.dlq, key, codec("DeadLetter").dumps(d2), None))

    listed = cli(settings, "dlq", "list")
    assert listed.exit_code == 0
    assert [r.split()[0] for r in listed.stdout.splitlines()] == ["N", "1", "2"]
    assert "content_hash does not match" in listed.stdout
    assert [j["reason"] for j in lines(cli(settings, "dlq", "list", "--json"))] == [d1["reason"], d2["reason"]]
    assert cli(settings, "dlq", "list", "--since", "2999-01-01T00:00:00Z").stdout == ""

    first = json.loads(cli(settings, "dlq", "show", "1", "--json").stdout)
    assert first["schema"] == "ChangeEvent" and first["value"]["entity_key"] == key
    assert first["source"] == f"{names.changes('odoo')}[2]@41"
    second = cli(settings, "dlq", "show", "2")
    assert second.exit_code == 0 and "hex) 00676172626167" in second.stdout

    redriven = cli(settings, "dlq", "redrive", "1")
    assert redriven.exit_code == 0 and f"1: redriven to {names.changes('odoo')}" in redriven.stdout
    recs = read(settings, names.changes("odoo"), key=key)
    assert [r.value for r in recs] == [good]


def test_dlq_bad_input_is_clear(settings):
    assert cli(settings, "dlq", "show", "0").exit_code == 2
    missing = cli(settings, "dlq", "show", "7")
    assert missing.exit_code == 1 and "no dead letter 7 (there are 0)" in missing.output
    neither = cli(settings, "dlq", "redrive")
    assert neither.exit_code == 2 and "or --all" in neither.output
    assert cli(settings, "dlq", "redrive", "--all", "1").exit_code == 2
    assert cli(settings, "dlq", "redrive", "3").exit_code == 1
    not_int = cli(settings, "dlq", "show", "first")
    assert not_int.exit_code == 2 and "is not a valid integer" in not_int.output


# ---------------------------------------------------------------- parked

def test_parked_list_and_redrive(settings):
    names, key = TopicNames(settings), key_()
    cmd = command(key, vector={"odoo": 2})
    raw = codec("Command").dumps(cmd)
    ledger = {"results": {}, "written": {}, "parked": {cmd["command_id"]: raw},
              "parked_kinds": {cmd["command_id"]: "mapping"}}
    publish(settings,
            (names.changelog(ledger_table("holded")), key, codec("SinkLedger").dumps(ledger), None),
            (names.results("holded"), key,
             codec("CommandResult").dumps({**result(cmd, "parked", "no mapping for tax iva_4"),
                                           "mapping_version": 5}), None))

    listed = cli(settings, "parked", "list")
    assert listed.exit_code == 0
    assert key in listed.stdout and "no mapping for tax iva_4" in listed.stdout
    [row] = lines(cli(settings, "parked", "list", "--system", "holded", "--json"))
    assert row["command_id"] == cmd["command_id"] and row["vector"] == {"odoo": 2}
    assert row["kind"] == "mapping"  # what the alert on it pages for
    # Which mapping version is which: decided under v3 (the command), parked under v5 (result).
    assert (row["decided_under_mapping_version"], row["parked_under_mapping_version"]) == (3, 5)
    assert "mapping_version" not in row
    assert lines(cli(settings, "parked", "list", "--system", "odoo", "--json")) == []

    res = cli(settings, "parked", "redrive", "--system", "holded")
    assert res.exit_code == 0 and "redriven 1 parked command(s)" in res.stdout
    assert [r.value for r in read(settings, names.commands("holded"), key=key)] == [raw]


def test_parked_of_an_unconfigured_system_is_exit_2(settings):
    for sub in ("list", "redrive"):
        res = cli(settings, "parked", sub, "--system", "sap_b1")
        assert res.exit_code == 2 and "system 'sap_b1' is not configured" in res.output
        # The hyphen spelling of `demo --erp` and `sandbox` names the same system.
        res = cli(settings, "parked", sub, "--system", "sap-b1")
        assert res.exit_code == 2 and "system 'sap_b1' is not configured" in res.output


# ---------------------------------------------------------------- nothing found

def test_an_empty_list_says_why_on_stderr_and_prints_nothing(kafka, tmp_path):
    """A mistyped topic prefix is not a silent empty list: a note on stderr (as `tables`),
    stdout stays empty for pipes, exit 0."""
    s = kafka.settings(tmp_path)
    prefix, names = s.topic_prefix, TopicNames(s)
    expected = {
        ("dlq", "list"): f"note: no dead letters: {prefix}dlq does not exist on this broker",
        ("conflicts", "list"): f"note: no conflicts: {prefix}conflicts does not exist on this broker",
        ("parked", "list"): (f"note: no parked commands: {names.changelog(ledger_table('holded'))} "
                             "does not exist on this broker"),
    }
    for args, note in expected.items():
        for fmt in ((), ("--json",)):
            res = cli(s, *args, *fmt)
            assert res.exit_code == 0 and res.stdout == "", res.output
            assert note in res.stderr and f"HOLDED_SYNC_TOPIC_PREFIX='{prefix}'" in res.stderr
    asyncio.run(ensure_topics(s))
    assert f"note: no dead letters yet: {prefix}dlq holds no records" in cli(s, "dlq", "list").stderr
    assert (f"note: no conflicts yet: {prefix}conflicts holds no records"
            in cli(s, "conflicts", "list").stderr)
    parked = cli(s, "parked", "list", "--system", "holded")
    assert parked.stdout == "" and "note: no parked commands yet: no command is parked in" in parked.stderr
    # A filter that matches nothing in an existing topic is no news: no note.
    assert cli(s, "conflicts", "list", "--entity", key_()).stderr == ""


def test_history_of_an_unknown_key_says_when_the_topics_do_not_exist(kafka, tmp_path):
    # A mistyped prefix once read as "nothing known about <key>" alone, as if the key were wrong.
    s = kafka.settings(tmp_path)
    missing = cli(s, "history", key_())
    assert missing.exit_code == 1 and missing.stdout == ""
    assert (f"note: no history: {s.topic_prefix}inbox does not exist on this broker"
            in missing.stderr)
    asyncio.run(ensure_topics(s))
    unknown = cli(s, "history", key_())
    assert unknown.exit_code == 1 and "note:" not in unknown.stderr
    assert "error: nothing known about" in unknown.stderr


def test_conflicts_list_and_show_name_both_times_and_agree(settings):
    """The record time (when the engine settled it) and the incoming change's source time
    differ; list and show, table and --json, say which is which with the same values."""
    key = key_()
    c = conflict(key)  # ts (source time): 2023-11-14T22:13:20Z
    recorded = int(time.time() * 1000) - 5_000
    publish(settings, (TopicNames(settings).conflicts, key, codec("Conflict").dumps(c), recorded))
    source_iso, recorded_iso = "2023-11-14T22:13:20.000Z", _iso_ms(recorded)

    listed = cli(settings, "conflicts", "list", "--entity", key)
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["ID", "RECORDED", "SOURCE_TIME"]
    assert row.split()[1:3] == [recorded_iso, source_iso]
    [js] = lines(cli(settings, "conflicts", "list", "--entity", key, "--json"))
    assert (js["recorded_at"], js["source_time"]) == (recorded_iso, source_iso)

    shown = cli(settings, "conflicts", "show", c["conflict_id"]).stdout
    assert f"source time  {source_iso}   (of the incoming change)" in shown
    assert f"recorded     {recorded_iso}   (when the engine settled it)" in shown
    shown_js = json.loads(cli(settings, "conflicts", "show", c["conflict_id"], "--json").stdout)
    assert (shown_js["recorded_at"], shown_js["source_time"]) == (recorded_iso, source_iso)
    assert shown_js["conflict_id"] == c["conflict_id"] and "ts" in shown_js  # still the record


def _iso_ms(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
