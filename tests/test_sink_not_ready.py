"""The sink runner (app/sinks.py) and a target not ready for a command yet (TargetNotReady):
retried past the dependency wait, parked with its reason when its own wait ends, never
dead-lettered."""
from __future__ import annotations

import time

import pytest

from app.avro import codec
from app.not_ready import parked_not_ready
from app.settings import Settings
from app.sinks import ATTEMPT, _Runner
from connectors.base.contracts import DependencyPending, TargetNotReady
from tests.connectors.holded.sink_support import contact_command
from tests.connectors.holded.test_sink_lanes import Sent, event

LEDGER, RESULT = codec("SinkLedger"), codec("CommandResult")
REASON = "invoice/business_central/x: invoice is Draft, not posted; post it in Business Central"


class Raises:
    def __init__(self, error: Exception) -> None:
        self.error, self.runs = error, 0

    async def execute(self, command):
        self.runs += 1
        raise self.error


def runner(sink: Raises, tmp_path, ledger: dict, results: Sent, dlq: Sent, retry: Sent
           ) -> _Runner:
    settings = Settings(data_dir=tmp_path, dependency_wait_s=60, not_ready_wait_s=3600)
    return _Runner("business_central", lambda led: sink, ledger, results, Sent(), dlq, retry,
                   settings)


def minutes_ago(minutes: float) -> int:
    return int(time.time() * 1000 - minutes * 60_000)


@pytest.mark.parametrize("waited_min", [0, 30])  # within both waits; past the dependency wait
async def test_a_target_not_ready_is_retried_until_its_own_wait_ends(tmp_path, waited_min) -> None:
    ledger, results, dlq, retry = {}, Sent(), Sent(), Sent()
    the_runner = runner(Raises(TargetNotReady(["invoice/business_central/x"], REASON)),
                        tmp_path, ledger, results, dlq, retry)
    cmd = contact_command(1)
    await the_runner._handle(event(cmd, "retry.business_central"), attempt=3,
                             first_try=minutes_ago(waited_min))
    assert (len(results.records), len(dlq.records)) == (0, 0)
    [again] = retry.records
    assert dict(again["headers"])[ATTEMPT] == b"4"


async def test_a_target_never_ready_is_parked_with_its_reason_not_dead_lettered(tmp_path) -> None:
    ledger, results, dlq, retry = {}, Sent(), Sent(), Sent()
    the_runner = runner(Raises(TargetNotReady(["invoice/business_central/x"], REASON)),
                        tmp_path, ledger, results, dlq, retry)
    cmd = contact_command(1)
    await the_runner._handle(event(cmd, "retry.business_central"), attempt=120,
                             first_try=minutes_ago(61))
    [sent] = results.records
    parked = RESULT.loads(sent["value"])
    assert parked["status"] == "parked"
    assert parked["reason"].startswith("parked after 120 tries in 61 min: ")
    assert REASON in parked["reason"]
    assert (len(retry.records), len(dlq.records)) == (0, 0)
    # kept for `parked redrive` (or the next mapping) once someone has posted the invoice, and
    # recorded as not ready: the kind the periodic re-check (app/not_ready.py) asks about
    state = LEDGER.loads(ledger[cmd["entity_key"].encode()])
    assert list(state["parked"]) == [cmd["command_id"]]
    assert [cid for cid, _ in parked_not_ready(state)] == [cmd["command_id"]]


async def test_a_missing_dependency_still_fails_after_the_dependency_wait(tmp_path) -> None:
    ledger, results, dlq, retry = {}, Sent(), Sent(), Sent()
    the_runner = runner(Raises(DependencyPending(["contact/odoo/C7"])), tmp_path, ledger,
                        results, dlq, retry)
    await the_runner._handle(event(contact_command(1), "retry.business_central"), attempt=9,
                             first_try=minutes_ago(30))
    [sent] = results.records
    assert RESULT.loads(sent["value"])["status"] == "failed" and len(dlq.records) == 1
