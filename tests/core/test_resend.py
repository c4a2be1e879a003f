"""Which writes are outstanding, how a lost one is rebuilt, and when it is resent."""
from __future__ import annotations

from app.core.resend import OutstandingWrites, lost_commands, outstanding
from app.core.vectors import command_id

KEY = "contact/odoo/C-1"
VECTOR = {"odoo": 2}
STATE = {"entity_key": KEY, "entity": "contact", "record": {"name": "Talleres Gómez SL"},
         "deleted": False, "vector": VECTOR, "provenance": {}}


def replica(vector: dict, pending: dict, pending_hash: str | None = "h-2") -> dict:
    return {"vector": vector, "pending_vector": pending, "pending_hash": pending_hash}


def test_a_write_is_outstanding_until_its_success_merges_the_pending_vector_in() -> None:
    sent = {"systems": {"holded": replica({"odoo": 1}, VECTOR), "odoo": replica(VECTOR, {})}}
    assert outstanding(sent) == {"holded": VECTOR}
    done = {"systems": {"holded": replica(VECTOR, VECTOR)}}  # success keeps pending, merged
    assert outstanding(done) == {}
    failed = {"systems": {"holded": replica({"odoo": 1}, {}, None)}}  # failure clears it
    assert outstanding(failed) == {} and outstanding(None) == {}


def test_a_lost_write_is_rebuilt_with_its_original_command_id_and_hash() -> None:
    replicas = {"systems": {"holded": replica({"odoo": 1}, VECTOR)}}
    [cmd] = lost_commands(KEY, STATE, replicas, {"ids": {"holded": "h-9"}}, frozenset({"holded"}))
    assert cmd["command_id"] == command_id(KEY, "holded", VECTOR)  # the sink's ledger knows it
    assert cmd["content_hash"] == "h-2" and cmd["payload"] == STATE["record"]
    assert (cmd["target_id"], cmd["op"], cmd["lane"]) == ("h-9", "upsert", "realtime")


def test_an_overtaken_write_or_a_system_without_a_sink_is_not_resent() -> None:
    older = {"systems": {"holded": replica({}, {"odoo": 1})}}  # the entity moved on to odoo=2
    assert lost_commands(KEY, STATE, older, None, frozenset({"holded"})) == []
    pending = {"systems": {"holded": replica({}, VECTOR)}}
    assert lost_commands(KEY, STATE, pending, None, frozenset({"odoo"})) == []
    assert lost_commands(KEY, None, pending, None, frozenset({"holded"})) == []


def test_a_write_is_due_after_the_wait_then_once_per_wait_and_forgotten_when_settled() -> None:
    writes = OutstandingWrites(after_s=60)
    assert writes.due({"a", "b"}, now=0) == set()
    assert writes.due({"a", "b"}, now=59) == set()
    assert writes.due({"a", "b"}, now=60) == {"a", "b"}
    assert writes.due({"a"}, now=90) == set()  # "b" came back; "a" waits a full period again
    assert writes.due({"a"}, now=120) == {"a"}
    assert writes.due({"b"}, now=121) == set()  # "b" is new again: its clock starts now
