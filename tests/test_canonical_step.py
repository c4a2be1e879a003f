"""The decoded-entry cache and part reuse of app.canonical_step change nothing: the same inbox
decided with the cache, without it and with a tiny one gives the same outcomes, the same
command, conflict and audit records and byte-identical table values; and a cached entry is
never used once the table holds other bytes."""
from __future__ import annotations

import random

import pytest

from app.avro import codec
from app.canonical_entry import decode
from app.canonical_step import CanonicalStep
from app.connections import held_fields, reported_view
from app.core.decide import BadEvent
from app.core.policy import default_policy
from app.live_mapping import LiveMapping
from app.settings import Settings
from tests.core.factories import change, contact, result_for

CHANGE, RESULT, COMMAND = codec("ChangeEvent"), codec("CommandResult"), codec("Command")


@pytest.fixture(scope="module")
def policy():
    s = Settings(systems=("holded", "odoo"))
    return default_policy(s.erps, held_fields(s), reported_view(s, LiveMapping()))


def inbox(policy, seed: int, n: int = 400) -> list[tuple[bytes, bytes]]:
    """A random mix of new versions, concurrent edits, echoes, results, redeliveries and
    deletes over a few contacts; results and echoes answer commands emitted earlier on."""
    rnd = random.Random(seed)
    keys = [f"contact/odoo/C{i}" for i in range(6)]
    step, table = CanonicalStep(policy, 0), {}
    out: list[tuple[bytes, bytes]] = []
    emitted: list[dict] = []
    for i in range(n):
        ts = 1_700_000_000_000 + i * 1000 + rnd.randint(-3000, 0)
        key, roll = rnd.choice(keys), rnd.random()
        cmd = rnd.choice(emitted) if emitted else None
        if roll < 0.12 and cmd:
            key, value = cmd["entity_key"], RESULT.dumps(result_for(
                cmd, target_id=f"h-{i}", status=rnd.choice(["succeeded", "failed"])))
        elif roll < 0.2 and cmd and cmd["payload"]:  # the target reports our write back
            key, value = cmd["entity_key"], CHANGE.dumps(change(
                cmd["target_system"], cmd["payload"], key=cmd["entity_key"], ts=ts))
        elif roll < 0.27 and out:
            out.append(out[rnd.randrange(len(out))])  # a redelivery
            continue
        elif roll < 0.3:
            value = CHANGE.dumps(change("odoo", None, key=key, ts=ts, op="delete"))
        else:
            payload = contact(name=f"N{rnd.randint(0, 3)}", email=f"e{rnd.randint(0, 3)}@x.es",
                              phone=rnd.choice([None, "600"]), tax_id=f"B{rnd.randint(0, 1)}")
            value = CHANGE.dumps(change(rnd.choice(["odoo", "odoo", "holded"]), payload,
                                        key=key, ts=ts))
        k = key.encode()
        try:
            done = step(k, value, table.get(k))
        except BadEvent:
            continue
        if done.entry is not None:
            table[k] = done.entry.raw
        emitted.extend(done.decision.commands)
        out.append((k, value))
    return out


def run(policy, records, cache: int) -> tuple[list, dict[bytes, bytes]]:
    step, table, seen = CanonicalStep(policy, cache), {}, []
    for key, value in records:
        done = step(key, value, table.get(key))
        if done.entry is not None:
            table[key] = done.entry.raw
            assert decode(done.entry.raw) == done.entry.records
        d = done.decision
        seen.append((d.outcome, [COMMAND.dumps(c) for c in d.commands], d.conflicts, d.audit))
    return seen, table


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cache_changes_no_decision(policy, seed: int) -> None:
    records = inbox(policy, seed)
    outcomes = {o for o, *_ in run(policy, records, 0)[0]}
    assert {"created", "applied", "merged", "duplicate", "result"} <= outcomes
    plain = run(policy, records, 0)
    assert run(policy, records, 10_000) == plain
    assert run(policy, records, 2) == plain


def test_cached_entry_is_not_used_once_the_table_holds_other_bytes(policy) -> None:
    step = CanonicalStep(policy, 100)
    key = b"contact/odoo/C1"
    step(key, CHANGE.dumps(change("odoo", contact(name="A"), ts=1_000)), None)
    # Someone else (another worker before a rebalance) stored a different entry meanwhile.
    other = CanonicalStep(policy, 0)(
        key, CHANGE.dumps(change("odoo", contact(name="B"), ts=2_000)), None)
    again = CHANGE.dumps(change("odoo", contact(name="A"), ts=3_000))
    on_other = step(key, again, other.entry.raw)
    assert on_other.decision.outcome == "applied"  # A over B: a change, not a duplicate
    assert (step.cache.hits, step.cache.misses) == (0, 2)
    assert step(key, again, on_other.entry.raw).decision.outcome == "duplicate"
    assert step.cache.hits == 1


@pytest.mark.parametrize("key, value, reason", [
    (None, "good", "the record has no key"),
    (b"contact/odoo/C1", None, "the record has no value"),
    # decoded leniently this key would read as the entity key; as bytes it is not
    (b"contact/odoo/C\xff", "replacement", "is not the entity key"),
])
def test_records_without_a_key_or_value_or_with_another_key_are_rejected_with_the_reason(
        policy, key, value, reason):
    entity_key = "contact/odoo/C\ufffd" if value == "replacement" else "contact/odoo/C1"
    if value is not None:
        value = CHANGE.dumps(change("odoo", contact(name="N"), key=entity_key, ts=1_700_000_000_000))
    with pytest.raises(BadEvent, match=reason):
        CanonicalStep(policy, 10)(key, value, None)


def test_a_payment_with_neither_invoice_nor_customer_is_rejected_for_the_dead_letters(policy):
    from tests.core.factories import payment

    value = CHANGE.dumps(change("holded", payment(invoice_key=None, contact_key=None),
                                key="payment/holded/P9"))
    with pytest.raises(BadEvent, match="needs invoice_key"):
        CanonicalStep(policy, 10)(b"payment/holded/P9", value, None)
