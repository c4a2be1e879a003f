"""The two contracts every connector implements, and what they exchange with the engine.

A **Source** observes a system and returns canonical change events (dicts of the Avro schema
ChangeEvent); it never decides what to write anywhere. A **Sink** executes one command (a
Command dict) against its system and returns a CommandResult dict, plus conflicts it found
when reading its write back. The Faust app wires them to topics; connectors know nothing of
Kafka.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.base.errors import Fault, RetryableError, SkipRecord

__all__ = ["DEFAULT_PARKED_KIND", "DONE", "PARKED_KINDS", "DependencyPending", "Ledger",
           "MemoryLedger", "ReadinessProbe", "Sink", "SinkOutcome", "Source", "TargetNotReady", "execute_once", "result", "written_hashes"]

Record = dict[str, Any]
DONE = frozenset({"succeeded", "already_done"})  # result statuses of a command that is done
# Why a parked command waits, so an alert reaches the person who can act: "mapping" (whoever
# owns the mapping document adds the code), "not_ready" (someone finishes the record in the
# target: posts the invoice), "review" (a person looks at the record: changed after it was
# written, an entity the system does not take).
PARKED_KINDS = ("mapping", "not_ready", "review")
# The kind of a parked command that names none: it was parked before kinds were recorded.
DEFAULT_PARKED_KIND = "review"


@dataclass(frozen=True, slots=True)
class SinkOutcome:
    result: Record  # a CommandResult
    conflicts: list[Record] = field(default_factory=list)  # Conflict records
    # A parked command stays in the ledger's parked list, to be published again under a new
    # mapping or by an operator. False: parking it was the answer for good (the engine
    # decides again by itself, e.g. once it reads a change the target made meanwhile).
    redrive: bool = True
    parked_kind: str = DEFAULT_PARKED_KIND  # one of PARKED_KINDS; read only when the result is parked


class DependencyPending(RetryableError):
    """The command needs other entities to exist in the target first; retry later."""

    def __init__(self, keys: Sequence[str], retry_after: float | None = 1.0) -> None:
        super().__init__(f"waiting for {', '.join(keys)} to exist in the target first",
                         retry_after=retry_after, fault=Fault.TRANSIENT)
        self.keys = tuple(keys)


class TargetNotReady(DependencyPending):
    """What the command needs is in the target but not ready to take it (a Business Central
    invoice not posted yet): retried later like a dependency, but *parked* when the wait
    ends, not failed: a person usually finishes it in the target, then re-drives the command.
    ``reason`` tells the operator what is awaited and what to do."""

    def __init__(self, keys: Sequence[str], reason: str, retry_after: float | None = 30.0
                 ) -> None:
        super().__init__(keys, retry_after=retry_after)
        self.message = reason


class Ledger(Protocol):
    """Command ids a sink has finished, with their results (the first idempotency check).

    ``stamps``: by target id, the record's own modification time in the target (ms) right
    after our last write of it. Kept with the ledger so it outlives the command and the
    worker: a sink that guards against overwriting someone else's change needs it."""

    stamps: dict[str, int]

    def get(self, command_id: str) -> Record | None: ...

    def put(self, command_id: str, result: Record) -> None: ...

    def written_hashes(self, entity_key: str) -> frozenset[str]:
        """Content hashes of the entity's writes that succeeded (the newest few): what the
        target holds after one of our own writes, before the engine has read its result."""
        ...


def written_hashes(results: Iterable[Record], entity_key: str) -> frozenset[str]:
    """The content hashes of ``entity_key``'s succeeded results among ``results``."""
    return frozenset(r["content_hash"] for r in results
                     if r["entity_key"] == entity_key and r["status"] in DONE)


class MemoryLedger:
    """A ledger in a dict: tests and one-off tools (the worker keeps it in a Faust table)."""

    def __init__(self) -> None:
        self._done: dict[str, Record] = {}
        self.stamps: dict[str, int] = {}

    def get(self, command_id: str) -> Record | None:
        return self._done.get(command_id)

    def put(self, command_id: str, result: Record) -> None:
        self._done[command_id] = result

    def written_hashes(self, entity_key: str) -> frozenset[str]:
        return written_hashes(self._done.values(), entity_key)


class Sink(Protocol):
    system: str

    async def execute(self, command: Record) -> SinkOutcome:
        """Write the command's canonical state to the system, exactly once."""
        ...


class ReadinessProbe(Protocol):
    """A sink whose commands can be parked as :class:`TargetNotReady` says, without writing,
    whether such a command could run now (the invoice has been posted since). The engine asks
    it now and then for the commands parked that way and publishes the ready ones again."""

    async def ready(self, command: Record) -> bool:
        """False while the target still cannot take ``command``; True when running it would do
        something else than wait (write it, or fail or park it for another reason)."""
        ...


class Source(Protocol):
    system: str

    async def poll(self, state: Any, now: Any) -> tuple[Any, list[Record]]:
        """One incremental run: (new state, change events). A failed run raises and the
        caller keeps the old state, so the watermark never advances past a failure."""
        ...


def result(command: Record, status: str, completed_ms: int, *, target_id: str | None = None,
           reason: str | None = None, mapping_version: int | None = None) -> Record:
    """A CommandResult for ``command``."""
    return {"command_id": command["command_id"], "entity_key": command["entity_key"],
            "target_system": command["target_system"], "status": status, "target_id": target_id,
            "vector": dict(command["vector"]), "content_hash": command["content_hash"],
            "reason": reason, "mapping_version": mapping_version, "completed_ts": completed_ms}


Handler = Callable[[Record, Any], Awaitable[SinkOutcome]]


async def execute_once(command: Record, *, ledger: Ledger, mapping: Callable[[], Any],
                       handlers: Mapping[str, Handler], unsupported: str,
                       now_ms: Callable[[], int]) -> SinkOutcome:
    """The frame every ERP/shop sink shares: a command id in the ledger is done; otherwise the
    entity's handler runs with the current mapping. Unmappable -> parked (not recorded: it comes
    back under a new mapping), SkipRecord -> failed; everything else is recorded.
    ``unsupported`` is the parked reason for other entities, with ``{entity}`` filled in."""
    from app.mapping import Unmappable

    done = ledger.get(command["command_id"])
    # Only a command that succeeded is done: the worker's ledger also records parked results
    # (and failed ones), and a re-driven parked command must run again.
    if done is not None and done.get("status") in DONE:
        return SinkOutcome(result(command, "already_done", now_ms(), target_id=done.get("target_id"),
                                  reason="command already executed"))
    current = mapping()
    handler = handlers.get(command["entity"])
    try:
        if handler is None:
            outcome = SinkOutcome(result(command, "parked", now_ms(),
                                         reason=unsupported.format(entity=command["entity"]),
                                         mapping_version=current.version))
        else:
            outcome = await handler(command, current)
    except Unmappable as exc:
        outcome = SinkOutcome(result(command, "parked", now_ms(), reason=str(exc),
                                     mapping_version=exc.mapping_version), parked_kind="mapping")
    except SkipRecord as exc:
        outcome = SinkOutcome(result(command, "failed", now_ms(), reason=str(exc),
                                     mapping_version=current.version))
    if outcome.result["status"] != "parked":
        ledger.put(command["command_id"], outcome.result)
    return outcome
