"""The canonical decision: what a change or a sink's result does to an entity.

Pure: state in, state and messages out; no Faust, no I/O, no clock (timestamps come from the
events). Table values are the dicts of the Avro schemas EntityState, ReplicaSet and LinkSet.

For a change from system S (design.md section 3): its base is the vector S is known to hold.
Base dominating the canonical vector fast-forwards; otherwise the change is concurrent and is
merged field by field, a field changed on both sides being settled by its owner, else by
last-writer-wins on the source timestamp with a deterministic tie-break. A change equal to a
write we made to S is our echo; equal to what S already holds, a duplicate; older than what
S last reported, stale. Those emit nothing, but for one case: a duplicate read again after
its partition moved or its worker restarted emits again the entity's writes still
outstanding (a crash may have lost them).
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.dependencies import dependencies
from app.core.hashing import Fingerprint, canonical_json
from app.core.keys import EntityKey, KeyError_
from app.core.policy import Policy
from app.core.resend import lost_commands
from app.core.vectors import command_id, dominates, increment, merge

__all__ = ["BadEvent", "Decision", "apply_change", "apply_result", "check_payment",
           "empty_replica", "operator_source_id"]

Record = dict[str, Any]
OPERATOR = "operator"  # the system name of an operator's override


def operator_source_id(conflict_id: str, field_name: str) -> str:
    """The ``source_id`` of an override of ``field_name``: the one field the operator set.

    The override carries the whole record the operator read; fields another system changed
    since that read must not be taken from it (they would be reverted, as decided by
    ``operator``). Overrides published before this carry the conflict id alone and are decided
    as they were, so a replay decides them the same way.
    """
    return f"{conflict_id}:{field_name}"


def _operator_field(event: Record) -> frozenset[str] | None:
    conflict_id, sep, name = str(event.get("source_id") or "").partition(":")
    return frozenset({name}) if sep and name else None


class BadEvent(ValueError):
    """An event that can never be applied (its reason goes to the dead-letter topic)."""


@dataclass(slots=True)
class Decision:
    outcome: str  # created | applied | merged | duplicate | stale | echo | result
    state: Record | None = None
    replicas: Record | None = None
    links: Record | None = None
    commands: list[Record] = field(default_factory=list)
    conflicts: list[Record] = field(default_factory=list)
    audit: list[Record] = field(default_factory=list)


def empty_replica() -> Record:
    return {"vector": {}, "content_hash": None, "field_hashes": {}, "source_ts": 0,
            "pending_hash": None, "pending_vector": {}, "pending_field_hashes": {},
            "written_hash": None, "pending_written": None}


def _ms(ts: Any) -> int:
    return ts if isinstance(ts, int) else int(ts.timestamp() * 1000)


def validate_change(event: Record) -> Fingerprint:
    """Check an event can be applied; returns its payload's fingerprint (reused downstream)."""
    key = EntityKey.parse(event["entity_key"])
    if key.entity != event["entity"]:
        raise BadEvent(f"entity {event['entity']!r} does not match key {event['entity_key']!r}")
    if event["op"] == "upsert" and event["payload"] is None:
        raise BadEvent("upsert without a payload")
    if event["op"] == "delete" and event["payload"] is not None:
        raise BadEvent("delete must not carry a payload")
    if event["entity"] == "payment" and event["payload"] is not None:
        check_payment(event["payload"])
    fingerprint = Fingerprint(event["payload"])
    if fingerprint.content_hash() != event["content_hash"]:
        raise BadEvent("content_hash does not match the payload")
    return fingerprint


def check_payment(payment: Record) -> None:
    """A payment pays a document (``invoice_key``) or is on account: then it needs the
    customer (``contact_key``) whose balance it lowers, or no target could book it."""
    if payment.get("invoice_key"):
        return
    contact = payment.get("contact_key")
    if not contact:
        raise BadEvent("a payment needs invoice_key (the document it pays) or, for a payment "
                       "on account, contact_key (the customer it was received from); it has "
                       "neither")
    try:
        key = EntityKey.parse(contact)
    except KeyError_ as exc:
        raise BadEvent(f"payment on account: contact_key: {exc}") from None
    if key.entity != "contact":
        raise BadEvent(f"payment on account: contact_key {contact!r} is not a contact key")


def apply_change(event: Record, state: Record | None, replicas: Record | None,
                 links: Record | None, policy: Policy, *, read_again: bool = False) -> Decision:
    """Decide what a ChangeEvent from ``event['source_system']`` does to one entity.

    ``read_again``: the record may have been decided before (it was in the inbox before its
    partition was last assigned, so the worker that held it may have died before committing).
    """
    decision = _decide_change(event, state, replicas, links, policy)
    if read_again and decision.outcome == "duplicate":
        _send_outstanding_again(decision, event, links, policy)
    return decision


def _decide_change(event: Record, state: Record | None, replicas: Record | None,
                   links: Record | None, policy: Policy) -> Decision:
    fingerprint = validate_change(event)
    system, ts = event["source_system"], _ms(event["source_ts"])
    systems = _copy_systems(replicas)
    rep = systems.get(system) or empty_replica()
    held = policy.held(system, event["entity"])
    overridden = _operator_field(event) if system == OPERATOR else None
    if overridden:
        # An override sets its one field, against the canonical record as it is now: the
        # operator is no replica whose last override says what it "holds" (choosing a value
        # an earlier override set would be dropped as a duplicate), and the override is a
        # duplicate exactly when the canonical record already holds that value.
        held, rep = overridden, {**empty_replica(), "source_ts": rep["source_ts"]}
        if state is not None and state["record"] is not None and \
                Fingerprint(state["record"]).view(held).content_hash() == \
                fingerprint.view(held).content_hash():
            return _dropped("duplicate", event, state, systems,
                            "the canonical record already holds the operator's value")
    # Echoes and duplicates are judged on the fields the system really stores.
    seen = fingerprint.view(held)
    digest = seen.content_hash() if held else event["content_hash"]

    # Stale first: an old redelivery must not pass for the echo of a newer write.
    if ts < rep["source_ts"]:
        return _dropped("stale", event, state, systems,
                        f"older than the last change seen from {system}")
    if rep["pending_hash"] == digest:
        rep.update(vector=merge(rep["vector"], rep["pending_vector"]), content_hash=digest,
                   field_hashes=rep["pending_field_hashes"], source_ts=max(rep["source_ts"], ts),
                   pending_hash=None, pending_vector={}, pending_field_hashes={},
                   written_hash=rep.get("pending_written"), pending_written=None)
        systems[system] = rep
        return _dropped("echo", event, state, systems, "our own write reported back")
    if rep["content_hash"] == digest:
        rep["source_ts"] = max(rep["source_ts"], ts)
        systems[system] = rep
        return _dropped("duplicate", event, state, systems, "the system already holds this content")

    if event["op"] == "delete":
        return _delete(event, state, systems, rep, links, policy)

    payload: Record = view(event["payload"], held)
    incoming = seen.field_hashes()
    base, canonical = rep["vector"], (state or {}).get("vector", {})
    vector = increment(merge(canonical, base), system)
    prov = {"system": system, "source_ts": ts, "event_id": event["event_id"]}
    conflicts: list[Record] = []
    old = state["record"] if state is not None and state["record"] is not None else None
    taken: list[str] = []
    if old is None or dominates(base, canonical):
        outcome = "created" if state is None else "applied"
        changed = [f for f in payload if incoming[f] != rep["field_hashes"].get(f)]
        # The canonical record as S would show it (its defaults, code mappings, the parts of a
        # value it cannot keep), or None when S shows it as it is; only a value with parts
        # needs it here.
        expected = policy.expected_report(system, event["entity"], old) \
            if old is not None and any(isinstance(payload[f], Mapping) for f in changed) else None
        if old is None:
            record = dict(event["payload"])  # born here: fields it does not hold keep defaults
        else:
            # Only what S changed: a field it reports as before may be S's stand-in for the
            # canonical value (a default it fills in, a code it maps two ways), not a change.
            taken = changed
            record = {**old, **{f: _take(payload[f], old.get(f), expected, f) for f in changed}}
        provenance = {**(state or {}).get("provenance", {}), **{f: prov for f in changed}}
        if state is None:
            provenance = {f: prov for f in record}
    else:
        outcome = "merged"
        expected = policy.expected_report(system, event["entity"], old)
        record, provenance = dict(old), dict(state["provenance"])
        current = Fingerprint(record).field_hashes()
        # S's report is compared with the canonical record as S would show it: canonical "no
        # terms" and Holded's 0 days are one value.
        shown = Fingerprint(expected).field_hashes() if expected is not None else current
        for f in payload:
            if incoming[f] in (rep["field_hashes"].get(f), current.get(f), shown.get(f)):
                continue  # S did not change it, or both sides agree
            if shown.get(f) != rep["field_hashes"].get(f):  # both changed it
                took, policy_used = _settle(event["entity"], f, prov, provenance.get(f), policy,
                                            incoming[f], current.get(f, ""))
                conflicts.append(_conflict(event, f, provenance.get(f), record.get(f),
                                           payload[f], took, policy_used, vector, ts))
                if not took:
                    continue
            record[f], provenance[f] = _take(payload[f], old.get(f), expected, f), prov
            taken.append(f)

    new_state = {"entity_key": event["entity_key"], "entity": event["entity"], "record": record,
                 "deleted": False, "vector": vector, "provenance": provenance}
    final = fingerprint.derive(record, event["payload"])  # equals Fingerprint(record)
    holds_final = (final.view(held).content_hash() == digest
                   or _reports(policy, system, event, record, digest))
    # S holds the merged state only if it sent exactly that; else its own version, and a command
    # brings it the fields it lost.
    rep.update(vector=vector if holds_final else {**base, system: vector[system]},
               content_hash=digest, field_hashes=incoming, source_ts=ts,
               written_hash=final.content_hash() if holds_final else None)
    systems[system] = rep
    decision = Decision(outcome, new_state, {"systems": systems}, links, conflicts=conflicts)
    _emit_commands(decision, event, policy, final, extra=() if holds_final else (system,))
    changes = _changes(old or {}, record, taken)
    if outcome == "merged":
        decision.audit.append(_audit(event, "merged", vector,
                                     f"{len(conflicts)} conflicting field(s) settled"
                                     + (f"; {changes}" if changes else "")))
    elif changes:  # who changed which field of an existing record, when, from what to what
        decision.audit.append(_audit(event, "applied", vector, changes))
    return decision


_VALUE_MAX, _DETAIL_MAX = 200, 4000


def _take(value: Any, canonical: Any, expected: Record | None, f: str) -> Any:
    """S's new ``value`` of field ``f``, keeping the parts of the canonical value S cannot hold.

    Where S shows a part of the canonical value otherwise (``expected``: Odoo shows an
    address without its province) and reports that part as it shows it, S did not change it:
    the canonical part stays. Without it an Odoo address edit would drop the province."""
    if expected is None or not isinstance(value, Mapping) or not isinstance(canonical, Mapping):
        return value
    shown = expected.get(f)
    if not isinstance(shown, Mapping):
        return value
    kept = {k: canonical[k] for k, v in value.items()
            if k in canonical and k in shown and shown[k] != canonical[k] and v == shown[k]}
    return {**value, **kept} if kept else value


def _changes(old: Record, record: Record, taken: list[str]) -> str:
    """``field: old -> new`` (canonical JSON) for each field the change set to another value."""
    parts = []
    for f in sorted(taken):
        before, after = canonical_json(old.get(f)), canonical_json(record.get(f))
        if before != after:
            parts.append(f"{f}: {_clip(before)} -> {_clip(after)}")
    return _clip("changed " + "; ".join(parts), _DETAIL_MAX) if parts else ""


def _clip(text: str, limit: int = _VALUE_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _reports(policy: Policy, system: str, event: Record, record: Record, digest: str) -> bool:
    """Whether S, holding ``record``, would report exactly ``digest`` (its defaults filled in)."""
    expected = policy.expected_report(system, event["entity"], record)
    return expected is not None and Fingerprint(expected).content_hash() == digest


def _delete(event: Record, state: Record | None, systems: dict, rep: Record,
            links: Record | None, policy: Policy) -> Decision:
    system, ts = event["source_system"], _ms(event["source_ts"])
    vector = increment(merge((state or {}).get("vector", {}), rep["vector"]), system)
    new_state = {"entity_key": event["entity_key"], "entity": event["entity"], "record": None,
                 "deleted": True, "vector": vector,
                 "provenance": (state or {}).get("provenance", {})}
    rep.update(vector=vector, content_hash=event["content_hash"], field_hashes={}, source_ts=ts)
    systems[system] = rep
    decision = Decision("applied", new_state, {"systems": systems}, links)
    if state is not None:
        _emit_commands(decision, event, policy, Fingerprint(None), extra=())
    return decision


def _settle(entity: str, f: str, incoming: Record, current: Record | None, policy: Policy,
            incoming_hash: str, current_hash: str) -> tuple[bool, str]:
    """Did the incoming value win, and by which policy? Symmetric in its two sides."""
    if incoming["system"] == OPERATOR:  # `holded-sync conflicts resolve`: a person decided
        return True, "operator"
    owner = policy.owner(entity, f)
    current = current or {"system": "", "source_ts": -1}
    if owner and owner in (incoming["system"], current["system"]) \
            and incoming["system"] != current["system"]:
        return owner == incoming["system"], "field_owner"
    a = (incoming["source_ts"], incoming["system"], incoming_hash)
    b = (current["source_ts"], current["system"], current_hash)
    return a > b, "last_writer_wins" if a[0] != b[0] else "tie_break"


def _conflict(event: Record, f: str, current: Record | None, old: Any, new: Any, took: bool,
              policy_used: str, vector: Mapping[str, int], ts: int) -> Record:
    cid = hashlib.sha256(f"{event['entity_key']}\x00{f}\x00{event['event_id']}".encode()).hexdigest()[:32]
    return {"conflict_id": cid, "entity_key": event["entity_key"], "field": f,
            "canonical_system": (current or {}).get("system", ""),
            "canonical_value": canonical_json(old), "incoming_system": event["source_system"],
            "incoming_value": canonical_json(new),
            "decision": "took_incoming" if took else "kept_canonical", "policy": policy_used,
            "vector": dict(vector), "event_id": event["event_id"], "ts": ts}


def _emit_commands(decision: Decision, event: Record, policy: Policy, final: Fingerprint,
                   extra: tuple[str, ...]) -> None:
    state, systems = decision.state, decision.replicas["systems"]
    record, vector = state["record"], state["vector"]
    links = (decision.links or {}).get("ids", {})
    targets = [t for t in policy.targets(event["entity"]) if t != event["source_system"]]
    whole = final.content_hash()
    for target in dict.fromkeys([*targets, *extra]):
        rep = systems.get(target) or empty_replica()
        # Whether a target needs the record is judged on the whole record (it may store
        # fields it never reports back); its echo is recognised on what it reports. The source
        # of this change (``extra``) just reported something else: a write of ours still in
        # flight to it is no proof it will hold the record, for a sink may refuse to write
        # over a change the engine had not seen (docs/odoo.md). It gets the record again.
        if target not in extra and whole in (rep.get("written_hash"), rep.get("pending_written")):
            continue
        expected = policy.expected_report(target, event["entity"], record)
        shown = Fingerprint(expected) if expected is not None else \
            final.view(policy.held(target, event["entity"]))
        digest = shown.content_hash() if record is not None else event["content_hash"]
        cmd_id = command_id(event["entity_key"], target, vector)
        decision.commands.append({
            "command_id": cmd_id, "entity_key": event["entity_key"], "entity": event["entity"],
            "target_system": target, "op": "delete" if state["deleted"] else "upsert",
            "vector": dict(vector), "payload": record, "content_hash": digest,
            "target_id": links.get(target), "links": dict(links),
            "depends_on": dependencies(event["entity"], record),
            "lane": event.get("lane", "realtime"), "mapping_version": None,
            "caused_by": event["event_id"], "base_ts": rep["source_ts"],
            "base_hash": rep["content_hash"]})
        rep.update(pending_hash=digest, pending_vector=dict(vector),
                   pending_field_hashes=shown.field_hashes(), pending_written=whole)
        systems[target] = rep


def view(record: Record | None, fields: frozenset[str] | None) -> Record | None:
    """The part of a record a system stores (all of it when the system declares nothing)."""
    if record is None or not fields:
        return record
    return {f: v for f, v in record.items() if f in fields}


def apply_result(result: Record, replicas: Record | None, links: Record | None) -> Decision:
    """Record what a sink did: the target's id, and the version it now holds."""
    systems = _copy_systems(replicas)
    target = result["target_system"]
    rep = systems.get(target) or empty_replica()
    ids = dict((links or {}).get("ids", {}))
    if result["status"] in ("succeeded", "already_done"):
        if result.get("target_id"):
            ids[target] = result["target_id"]
        if dominates(result["vector"], rep["vector"]):
            ours = result["vector"] == rep["pending_vector"]  # the result of the write in flight
            rep.update(vector=merge(rep["vector"], result["vector"]),
                       content_hash=result["content_hash"],
                       field_hashes=rep["pending_field_hashes"] if ours else rep["field_hashes"])
            if ours:
                rep["written_hash"] = rep.get("pending_written")
    elif result["vector"] == rep["pending_vector"]:
        rep.update(pending_hash=None, pending_vector={}, pending_field_hashes={},
                   pending_written=None)
    systems[target] = rep
    return Decision("result", replicas={"systems": systems}, links={"ids": ids})


def _copy_systems(replicas: Record | None) -> dict[str, Record]:
    """Copy-on-write: replica entries are replaced, never mutated below their top level."""
    return {name: dict(rep) for name, rep in (replicas or {}).get("systems", {}).items()}


def _send_outstanding_again(decision: Decision, event: Record, links: Record | None,
                            policy: Policy) -> None:
    """A change read again meets the state it made: that decision's commands may be lost.

    A worker killed outright could save a decision (its table record) and lose its commands
    (separate producer batches); the change, read again since its offset was never committed,
    met its own decision. The worker now stores a decision only once its records are in Kafka
    (app/direct_table.py), so that needs a worker of older code, or a command the producer gave
    up on before a rebalance. Either way the entity's outstanding writes are emitted again
    now, with their original command ids, instead of when the resend timer finds them
    (app/resend.py): a sink's ledger makes a repeat of a write that did happen
    ``already_done``. Any duplicate read again does it, not only one the state took a field
    from: a change that lost every conflict still made a command (its own system gets the
    canonical values back). Only for a record read again: a source reporting the same content
    anew (a poller's overlap) would only add copies of a write still on its way.
    """
    commands = lost_commands(event["entity_key"], decision.state, decision.replicas, links,
                             frozenset(policy.targets(event["entity"])),
                             lane=event.get("lane", "realtime"), caused_by=event["event_id"])
    if commands:
        decision.commands = commands
        decision.audit[-1]["detail"] += (
            "; read again after its decision was saved: outstanding write(s) to "
            + ", ".join(c["target_system"] for c in commands) + " emitted again")


def _dropped(outcome: str, event: Record, state: Record | None, systems: dict, detail: str) -> Decision:
    return Decision(outcome, state, {"systems": systems},
                    audit=[_audit(event, outcome, (state or {}).get("vector", {}), detail)])


def _audit(event: Record, kind: str, vector: Mapping[str, int], detail: str) -> Record:
    return {"entity_key": event["entity_key"], "kind": kind, "system": event["source_system"],
            "event_id": event["event_id"], "command_id": None, "vector": dict(vector),
            "detail": detail, "ts": _ms(event["source_ts"])}
