"""Commands parked because their target was not ready (app/not_ready.py) are published again,
same bytes, once the sink's probe says the target is ready; only those, and a bounded number
of probes per check."""
from __future__ import annotations

from typing import Any

from app.avro import codec
from app.not_ready import NotReadyRecheck, not_ready_reason, parked_not_ready
from connectors.base.contracts import TargetNotReady, result
from tests.connectors.holded.sink_support import contact_command

COMMAND, LEDGER = codec("Command"), codec("SinkLedger")


def parked_entry(command: dict[str, Any], reason: str, kind: str) -> bytes:
    parked = result(command, "parked", 1_000, reason=reason)
    return LEDGER.dumps({"results": {command["command_id"]: parked}, "written": {},
                         "parked": {command["command_id"]: COMMAND.dumps(command)}, "stamps": {},
                         "parked_kinds": {command["command_id"]: kind}})


def not_ready(command: dict[str, Any]) -> bytes:
    pending = TargetNotReady(["invoice/business_central/x"], "invoice x is Draft, not posted")
    return parked_entry(command, not_ready_reason(40, 4 * 3_600_000, pending), "not_ready")


class Probe:
    """A sink whose probe answers from ``ready`` (command id -> bool, or an exception)."""

    def __init__(self, ready: dict[str, Any]) -> None:
        self.answers, self.asked = ready, []

    async def ready(self, command: dict[str, Any]) -> bool:
        self.asked.append(command["command_id"])
        answer = self.answers[command["command_id"]]
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)


class Published:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    async def __call__(self, key: bytes, raw: bytes) -> None:
        self.records.append((key, raw))


def recheck(ledger: dict[bytes, bytes], sink: Any, sent: Published, max_probes: int = 20
            ) -> NotReadyRecheck:
    ticks = iter(range(1_000))
    return NotReadyRecheck("business_central", ledger, lambda state: sink, sent,
                           max_probes=max_probes, clock=lambda: float(next(ticks)))


def key(command: dict[str, Any]) -> bytes:
    return command["entity_key"].encode()


async def test_a_ready_target_republishes_the_same_command_and_a_draft_does_not() -> None:
    posted, draft = contact_command(1), contact_command(2)
    ledger = {key(posted): not_ready(posted), key(draft): not_ready(draft)}
    sink, sent = Probe({posted["command_id"]: True, draft["command_id"]: False}), Published()
    assert await recheck(ledger, sink, sent).check() == 1
    assert sent.records == [(key(posted), COMMAND.dumps(posted))]  # same bytes, same command id
    assert sorted(sink.asked) == sorted([posted["command_id"], draft["command_id"]])


async def test_an_empty_ledger_value_does_not_stop_the_check() -> None:
    posted = contact_command(1)
    ledger = {b"contact/odoo/gone": None, key(posted): not_ready(posted)}
    sink, sent = Probe({posted["command_id"]: True}), Published()
    assert await recheck(ledger, sink, sent).check() == 1  # type: ignore[arg-type]


async def test_commands_parked_for_other_reasons_are_not_asked_about() -> None:
    unmappable, cmd = contact_command(1), contact_command(2)
    ledger = {key(unmappable): parked_entry(unmappable, "not mappable with mapping v5: tax X",
                                                "mapping"),
              key(cmd): not_ready(cmd)}
    assert [cid for cid, _ in parked_not_ready(LEDGER.loads(ledger[key(cmd)]))] == \
        [cmd["command_id"]]
    sink, sent = Probe({cmd["command_id"]: False}), Published()
    await recheck(ledger, sink, sent).check()
    assert sink.asked == [cmd["command_id"]] and sent.records == []


async def test_a_check_asks_at_most_max_probes_the_longest_unasked_first() -> None:
    commands = [contact_command(n) for n in range(1, 4)]
    ledger = {key(c): not_ready(c) for c in commands}
    sink, sent = Probe({c["command_id"]: False for c in commands}), Published()
    checker = recheck(ledger, sink, sent, max_probes=2)
    await checker.check()
    first = list(sink.asked)
    assert len(first) == 2
    sink.asked.clear()
    await checker.check()
    [never_asked] = {c["command_id"] for c in commands} - set(first)
    assert sink.asked[0] == never_asked and len(sink.asked) == 2


async def test_a_failing_probe_skips_that_command_and_goes_on() -> None:
    down, ready = contact_command(1), contact_command(2)
    ledger = {key(down): not_ready(down), key(ready): not_ready(ready)}
    sink = Probe({down["command_id"]: ConnectionError("BC unreachable"), ready["command_id"]: True})
    sent = Published()
    assert await recheck(ledger, sink, sent).check() == 1
    assert sent.records == [(key(ready), COMMAND.dumps(ready))]


async def test_a_sink_without_a_probe_is_left_to_the_operator() -> None:
    cmd = contact_command(1)
    sent, ledger = Published(), {key(cmd): not_ready(cmd)}
    checker = recheck(ledger, object(), sent)
    assert await checker.check() == 0
    assert sent.records == [] and checker.probing is False
    ledger.clear()  # and the ledger is not read again: a later check would fail on this
    ledger[b"undecodable"] = b"not a ledger entry"
    assert await checker.check() == 0
