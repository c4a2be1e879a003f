"""Why a parked command waits is kept in its ledger (SinkLedger.parked_kinds) and counted by the
holded_sync_parked_commands gauge per kind, so an alert reaches the person who can act: the
mapping's owner, whoever posts the invoice in the target, or whoever reviews the record."""
from __future__ import annotations

import time

from app.avro import codec
from app.mapping import Unmappable
from app.observe import parked_by_kind
from app.settings import Settings
from app.sinks import _Runner
from connectors.base.contracts import (
    PARKED_KINDS, MemoryLedger, SinkOutcome, TargetNotReady, execute_once, result,
)
from tests.connectors.holded.sink_support import contact_command
from tests.connectors.holded.test_sink_lanes import Sent, event
from tests.test_avro import _written_with

LEDGER = codec("SinkLedger")


class Answers:
    """A sink whose answers are scripted: an exception is raised, an outcome returned."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)

    async def execute(self, command):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer(command)


def runner(sink: Answers, tmp_path, ledger: dict) -> _Runner:
    settings = Settings(data_dir=tmp_path, dependency_wait_s=60, not_ready_wait_s=60)
    return _Runner("business_central", lambda led: sink, ledger, Sent(), Sent(), Sent(), Sent(),
                   settings)


def _state(ledger: dict, cmd: dict) -> dict:
    return LEDGER.loads(ledger[cmd["entity_key"].encode()])


async def _run(the_runner: _Runner, cmd: dict, waited_min: float = 0) -> None:
    await the_runner._handle(event(cmd, "commands.business_central"), attempt=5,
                             first_try=int(time.time() * 1000 - waited_min * 60_000))


async def test_each_parked_command_keeps_why_it_waits(tmp_path) -> None:
    ledger: dict = {}
    not_ready, unmapped, reviewed = contact_command(1), contact_command(2), contact_command(3)
    sink = Answers(TargetNotReady(["invoice/business_central/x"], "invoice x is a Draft"),
                   Unmappable(["tax code IVA99 is not in the mapping"]),
                   lambda c: SinkOutcome(result(c, "parked", 1, reason="changed at origin")))
    the_runner = runner(sink, tmp_path, ledger)
    await _run(the_runner, not_ready, waited_min=2)  # past not_ready_wait_s
    await _run(the_runner, unmapped)
    await _run(the_runner, reviewed)
    kinds = {c["command_id"]: _state(ledger, c)["parked_kinds"] for c in (not_ready, unmapped, reviewed)}
    assert kinds == {not_ready["command_id"]: {not_ready["command_id"]: "not_ready"},
                     unmapped["command_id"]: {unmapped["command_id"]: "mapping"},
                     reviewed["command_id"]: {reviewed["command_id"]: "review"}}
    assert parked_by_kind(ledger) == {"mapping": 1, "not_ready": 1, "review": 1}


async def test_a_parked_command_that_runs_is_no_longer_counted(tmp_path) -> None:
    ledger: dict = {}
    cmd = contact_command(1)
    sink = Answers(Unmappable(["no mapping has been published yet"]),
                   lambda c: SinkOutcome(result(c, "succeeded", 1, target_id="T1")))
    the_runner = runner(sink, tmp_path, ledger)
    await _run(the_runner, cmd)
    assert parked_by_kind(ledger)["mapping"] == 1
    await _run(the_runner, cmd)  # re-driven under a mapping that maps it
    state = _state(ledger, cmd)
    assert state["parked"] == {} and state["parked_kinds"] == {}
    assert parked_by_kind(ledger) == dict.fromkeys(PARKED_KINDS, 0)


def test_commands_parked_before_kinds_were_kept_count_as_review() -> None:
    raw = codec("Command").dumps(contact_command(1))
    old = _written_with("SinkLedger", 2, {"results": {}, "written": {}, "parked": {"c-1": raw},
                                          "stamps": {}})
    assert LEDGER.loads(old)["parked_kinds"] == {}
    assert parked_by_kind({b"contact/odoo/1": old, b"empty": b""}) == {
        "mapping": 0, "not_ready": 0, "review": 1}


async def test_connectors_sharing_execute_once_park_an_unmappable_record_as_mapping() -> None:
    async def unmappable(command, mapping):
        raise Unmappable(["account 700 is not mapped"], mapping_version=4)

    class Current:
        version = 4

    outcome = await execute_once(contact_command(1), ledger=MemoryLedger(), mapping=Current,
                                 handlers={"contact": unmappable}, unsupported="no {entity}",
                                 now_ms=lambda: 1)
    assert (outcome.result["status"], outcome.parked_kind) == ("parked", "mapping")
    other = await execute_once({**contact_command(1), "entity": "stock"}, ledger=MemoryLedger(),
                               mapping=Current, handlers={}, unsupported="no {entity}",
                               now_ms=lambda: 1)
    assert (other.result["status"], other.parked_kind) == ("parked", "review")
