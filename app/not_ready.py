"""Commands parked because their target was not ready are published again once it is.

A command whose target cannot take it yet (``TargetNotReady``: a Business Central invoice
still a draft when its payment's ``not_ready_wait_s`` ended) is parked in the sink's ledger.
Every ``not_ready_recheck_s`` each worker asks the sink's :class:`ReadinessProbe` about the
commands parked that way in its ledger partitions (one read of the target each, at most
``not_ready_recheck_max`` per check, those asked longest ago first) and publishes the ready
ones again to ``commands.<system>``: the same bytes, so the same command id, and the ledger
makes a second copy harmless. Nothing is written by the check itself.

Why a periodic check rather than the source's invoice event: the invoice's change event is
keyed by the invoice and the parked payment by the payment, in another partition that another
worker may own; joining them would need an index topic keyed by the invoice. The check costs a
few reads per interval, only while such commands are parked.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from app.avro import codec

__all__ = ["NotReadyRecheck", "not_ready_reason", "parked_not_ready"]

log = logging.getLogger(__name__)
COMMAND, LEDGER = codec("Command"), codec("SinkLedger")


def not_ready_reason(attempt: int, waited_ms: int, pending: Exception) -> str:
    return f"parked after {attempt} tries in {waited_ms // 60_000} min: {pending}"


def parked_not_ready(state: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """(command id, command bytes) of one ledger entry's commands parked as not ready (the
    kind app/sinks.py records beside a parked command)."""
    kinds = state.get("parked_kinds") or {}
    return [(cid, raw) for cid, raw in state["parked"].items() if kinds.get(cid) == "not_ready"]


class NotReadyRecheck:
    """One system's check. ``ledger``: its ledger table (entity key -> SinkLedger bytes);
    ``make_sink``: a sink over one entity's ledger state; ``send``: publish (key, command)."""

    def __init__(self, system: str, ledger: Mapping[bytes, bytes],
                 make_sink: Callable[[dict[str, Any]], Any],
                 send: Callable[[bytes, bytes], Awaitable[Any]], *, max_probes: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.system, self.ledger, self.make_sink, self.send = system, ledger, make_sink, send
        self.max_probes, self.clock = max_probes, clock
        self._asked: dict[str, float] = {}  # command id -> when its target was last asked
        self.probing = True  # False once this system's sink is seen to have no probe

    async def check(self) -> int:
        """Ask about the commands parked as not ready; returns how many were published again."""
        if not self.probing:
            return 0
        waiting = sorted(self._waiting(), key=lambda w: self._asked.get(w[1], float("-inf")))
        still = {w[1] for w in waiting}
        self._asked = {cid: t for cid, t in self._asked.items() if cid in still}
        sent = 0
        for key, cid, raw, state in waiting[:self.max_probes]:
            probe = getattr(self.make_sink(state), "ready", None)
            if probe is None:  # this system's sink cannot tell: `parked redrive` only
                self.probing = False
                return sent
            self._asked[cid] = self.clock()
            try:
                ready = await probe(COMMAND.loads(raw))
            except Exception as exc:  # the target is unreachable now: asked again next time
                log.warning("%s: could not check whether parked command %s can run: %s",
                            self.system, cid, exc)
                continue
            if ready:
                await self.send(key, raw)
                sent += 1
        if sent:
            log.info("%s: re-driving %d parked command(s) whose target is ready now",
                     self.system, sent)
        return sent

    def _waiting(self) -> Iterable[tuple[bytes, str, bytes, dict[str, Any]]]:
        for key, raw_state in list(self.ledger.items()):
            if not raw_state:  # as the parked gauge (app/observe.py): an empty value holds nothing
                continue
            state = LEDGER.loads(raw_state)
            for cid, raw in parked_not_ready(state):
                yield key, cid, raw, state
