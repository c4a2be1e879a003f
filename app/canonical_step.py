"""The canonical agent's work on one inbox record, without Kafka: decode, decide, encode.

Kept apart from app/worker.py (which only moves records in and out) so the CPU benchmark
(bench/canonical_cpu.py) and the tests run exactly the agent's code. Per record, each byte
string is decoded at most once: the stored entry comes from an :class:`EntryCache` when the
table still holds the bytes it knows, and the new entry reuses the encoded parts a decision
left unchanged. ``read``, ``decide`` and ``changed_parts`` are also the bulk replay's
(app/bulk_replay.py), which encodes an entity's entry once at the end instead of each time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from app.avro import codec
from app.canonical_entry import CODECS, Entry
from app.core.decide import BadEvent, Decision, apply_change, apply_result
from app.core.policy import Policy
from app.entry_cache import EntryCache

__all__ = ["CanonicalStep", "Step", "changed_parts", "decide", "encode_parts", "encoded_parts", "read"]

CHANGE, RESULT = codec("ChangeEvent"), codec("CommandResult")
_SKIP_STATE = frozenset(("duplicate", "stale", "echo", "result"))


def changed_parts(decision: Decision) -> dict[str, dict | None]:
    """The entry fields a decision writes, decoded; None where unchanged."""
    return {"state": decision.state
            if decision.state and decision.outcome not in _SKIP_STATE else None,
            "replicas": decision.replicas,
            "links": decision.links if decision.outcome == "result" else None}


def encode_parts(records: dict[str, dict | None]) -> dict[str, bytes | None]:
    """Entry fields encoded, None where None."""
    return {field: CODECS[field].dumps(record) if record is not None else None
            for field, record in records.items()}


def encoded_parts(decision: Decision) -> dict[str, bytes | None]:
    """Table writes of a decision by entry field, None where unchanged."""
    return encode_parts(changed_parts(decision))


class Inbound(NamedTuple):
    is_result: bool  # a CommandResult; else a ChangeEvent
    record: dict[str, Any]


@dataclass(slots=True)
class Step:
    decision: Decision
    entry: Entry | None  # the entity's new table value; None: the decision stores nothing


class CanonicalStep:
    """Decide one inbox record (a ChangeEvent or a CommandResult) against the stored entry.

    Raises DecodeError, BadEvent or the other errors the agent dead-letters; then nothing is
    stored or cached. Encoding happens before anything is stored: a decision whose records
    cannot be encoded changes nothing.
    """

    def __init__(self, policy: Policy, cache_size: int) -> None:
        self.policy = policy
        self.cache = EntryCache(cache_size)

    def __call__(self, key: bytes | None, value: bytes, stored: bytes | None, *,
                 read_again: bool = False) -> Step:
        """``read_again``: the record may have been decided before (app.core.decide)."""
        inbound = read(key, value)
        known = self.cache.get(key, stored)
        decision = decide(inbound, known, self.policy, read_again=read_again)
        parts = encoded_parts(decision)
        if parts["state"] is None and parts["replicas"] is None and parts["links"] is None:
            if stored is not None:
                self.cache.put(key, known)
            return Step(decision, None)
        entry = known.updated(parts, {"state": decision.state, "replicas": decision.replicas,
                                      "links": decision.links})
        # The caller stores entry.raw now; until it does, the cached entry matches no table
        # value and is never used.
        self.cache.put(key, entry)
        return Step(decision, entry)


def read(key: bytes | None, value: bytes | None) -> Inbound:
    """Decode an inbox record and check it belongs to ``key`` (raises what the agent
    dead-letters)."""
    if key is None:
        raise BadEvent("the record has no key (every record is keyed by its entity key)")
    if value is None:
        raise BadEvent("the record has no value (a tombstone; changes and results are never deleted)")
    if RESULT.knows(value):
        result = Inbound(True, RESULT.loads(value))
    else:
        result = Inbound(False, CHANGE.loads(value))
    _check_key(key, result.record["entity_key"])
    return result


def decide(inbound: Inbound, entry: Entry, policy: Policy, *,
           read_again: bool = False) -> Decision:
    """The decision on one decoded inbox record against the entity's entry."""
    if inbound.is_result:
        return apply_result(inbound.record, entry.record("replicas"), entry.record("links"))
    return apply_change(inbound.record, entry.record("state"), entry.record("replicas"),
                        entry.record("links"), policy, read_again=read_again)


def _check_key(key: bytes, entity_key: str) -> None:
    # Bytes compared, so a key that is not UTF-8 never matches (and never becomes a table key).
    if key != entity_key.encode("utf-8", "replace"):
        raise BadEvent(f"record key {key!r} is not the entity key {entity_key!r}")
