"""The Holded sink: one command from ``commands.holded`` -> Holded, exactly once.

    sink = HoldedSink(client, mapping_provider=lambda: mappings.current, ledger=MemoryLedger())
    outcome = await sink.execute(command)      # outcome.result, outcome.conflicts

Order of checks (design.md section 4): (1) the ledger: a command id already done returns
its recorded result as ``already_done`` with no API call; (2) a known link is updated;
(3) Holded is searched by external id; (4) only then is the record created, and (5) it is
read back and compared with what was sent (totals, tax keys, withholding, to the cent).

Outcomes, all recorded in the ledger before returning:

- ``succeeded``: written and read back as sent;
- ``already_done``: the ledger says this command id was done;
- ``parked``: the mapping cannot map the record (``Unmappable``, ``TotalsMismatch``); the
  lead re-drives it when a new mapping version arrives, with the same command id. Or, for
  good (not re-driven), a contact edited in Holded since the engine last read it: the poller
  reports the edit and the engine decides again (``UnseenEdit``). Or a document not to be
  written now (``approval.Parked``): an ERP draft or cancelled invoice not created while its
  type is created approved (kind ``not_ready`` / ``review``, not re-driven), a change to a
  document approved in Holded, which Holded does not let us edit (``review``), or a payment
  already in Holded that differs from the command (``review``, re-driven: a written payment
  is never corrected automatically, connectors/holded/sink_on_account.py), or a payment of a
  Holded draft, which paying would approve (``review``, re-driven; unless
  ``HOLDED_PAY_DRAFTS``, connectors/holded/draft_payments.py);
- ``failed``: a read-back mismatch (with Conflict records), a rejected record, a fatal
  error, or transient errors that outlived every retry. ``reason`` says which, in full.

Only ``succeeded`` / ``already_done`` count as done: a parked or failed command runs again
when re-driven. :class:`DependencyPending` (retryable) is raised, not returned, when the
contact, products or invoice a record needs are not in Holded yet. Other exceptions (bugs)
propagate: the sink never swallows an error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from app.mapping import Mapping, Unmappable
from connectors.base.contracts import DONE, DependencyPending, Ledger, MemoryLedger, SinkOutcome, result
from connectors.base.errors import ConnectorError, Fault
from connectors.base.key_locks import KeyLocks
from connectors.base.log_once import LogOnce
from connectors.holded.approval import ApprovalPolicy, Parked
from connectors.holded.client import HoldedClient
from connectors.holded.draft_payments import DraftPayments
from connectors.holded.lookup import HoldedLookup
from connectors.holded.sink_verify import conflicts
from connectors.holded.sink_writers import (
    SinkClock, SinkPolicy, UnseenEdit, WriteContext, Writers, Written,
)

__all__ = ["DONE", "ApprovalPolicy", "DependencyPending", "DraftPayments", "HoldedSink", "Ledger",
           "MemoryLedger", "SinkClock", "SinkOutcome", "SinkPolicy", "SystemSinkClock"]

logger = logging.getLogger(__name__)

SYSTEM = "holded"


class SystemSinkClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class HoldedSink:
    """Executes Holded commands; one instance per Holded credential."""

    system = SYSTEM

    def __init__(self, client: HoldedClient, mapping_provider: Callable[[], Mapping],
                 ledger: Ledger, clock: SinkClock | None = None, *,
                 policy: SinkPolicy | None = None, lookup: HoldedLookup | None = None,
                 rand: Callable[[], float] = random.random,
                 approval: ApprovalPolicy | None = None,
                 drafts: DraftPayments | None = None, notices: LogOnce | None = None) -> None:
        self.client = client
        self.lookup = lookup or HoldedLookup(client)
        self._mapping_provider = mapping_provider
        self._ledger = ledger
        self._clock = clock or SystemSinkClock()
        self._writers = Writers(client, self.lookup, self._clock, policy or SinkPolicy(), rand,
                                approval or ApprovalPolicy(), drafts, notices)
        # one instance may run several commands at once (backfill chunks, tests)
        self._locks = KeyLocks()

    async def execute(self, command: dict[str, Any]) -> SinkOutcome:
        """Write one command; commands of one entity key run one at a time."""
        if command.get("target_system", SYSTEM) != SYSTEM:
            raise ValueError(f"command for {command.get('target_system')!r} sent to the Holded sink")
        async with self._locks.hold(command["entity_key"]):
            return await self._execute(command)

    async def _execute(self, command: dict[str, Any]) -> SinkOutcome:
        recorded = self._ledger.get(command["command_id"])
        if recorded is not None and recorded.get("status") in DONE:
            return SinkOutcome({**recorded, "status": "already_done"})
        mapping = self._mapping_provider()  # the current version: read once per command
        ctx = WriteContext(command, mapping, command.get("lane") or "realtime",
                           self._ledger.written_hashes(command["entity_key"]))
        found: list[dict[str, Any]] = []
        redrive, kind = True, "review"
        try:
            written = await self._write(ctx)
        except DependencyPending:
            raise
        except UnseenEdit as edit:  # parked for good: the engine decides again by itself
            status, target, reason, redrive = "parked", ctx.known_target, str(edit), False
        except Parked as parked:  # a document not to be written now (approval.py)
            status, target, reason = "parked", ctx.known_target, str(parked)
            redrive, kind = parked.redrive, parked.kind
        except Unmappable as error:
            status, target, reason, kind = "parked", ctx.known_target, (
                f"not mappable with mapping v{mapping.version}: {error}"), "mapping"
        except ConnectorError as error:  # carries no secrets: URLs and bodies are redacted
            status, target, reason = "failed", ctx.known_target, f"{type(error).__name__}: {error}"
        else:
            target, reason, status = written.target_id, written.note, "succeeded"
            if written.mismatches:
                status = "failed"
                reason = "read-back differs from what was sent: " + "; ".join(
                    str(m) for m in written.mismatches)
                found = conflicts(written.mismatches, command, self._clock.now_ms())
        outcome = result(command, status, self._clock.now_ms(), target_id=target, reason=reason,
                         mapping_version=mapping.version)
        outcome["target_system"] = SYSTEM
        if status == "parked" and kind == "not_ready":  # an ERP draft: waiting is routine
            logger.info("%s %s: %s", command["entity_key"], status, reason)
        elif status != "succeeded":
            logger.warning("%s %s: %s", command["entity_key"], status, reason)
        self._ledger.put(command["command_id"], outcome)
        return SinkOutcome(outcome, found, redrive=redrive, parked_kind=kind)

    async def _write(self, ctx: WriteContext) -> Written:
        if ctx.command.get("op", "upsert") != "upsert":
            raise _Unsupported(f"op {ctx.command.get('op')!r} is not supported by the Holded sink")
        if ctx.command.get("payload") is None:
            raise _Unsupported("an upsert command without a payload")
        return await self._writers.write(ctx)


class _Unsupported(ConnectorError):
    """The command asks for something this sink does not do (yet)."""

    default_fault = Fault.DATA
