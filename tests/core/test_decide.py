from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.decide import apply_change, apply_result
from app.core.hashing import content_hash
from app.core.policy import Policy
from tests.core.factories import change, contact, invoice, result_for

POLICY = Policy(routes={"contact": ("holded", "odoo"), "invoice": ("holded",)},
                owners={"contact.payment_due_days": "odoo"})
T0 = 1_700_000_000_000


class Engine:
    """The decision functions plus the three tables, as the agents hold them."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.policy, self.state, self.replicas, self.links = policy, None, None, None
        self.outbox: list[dict] = []
        self.conflicts: list[dict] = []

    def change(self, event: dict, read_again: bool = False):
        d = apply_change(event, self.state, self.replicas, self.links, self.policy,
                         read_again=read_again)
        if d.outcome not in ("duplicate", "stale", "echo"):
            self.state = d.state
        self.replicas = d.replicas
        self.outbox += d.commands
        self.conflicts += d.conflicts
        return d

    def result(self, result: dict):
        d = apply_result(result, self.replicas, self.links)
        self.replicas, self.links = d.replicas, d.links
        return d

    def deliver_all(self, ts: int) -> int:
        """Every target applies its commands and reports what it now holds (an echo)."""
        sent = 0
        while self.outbox:
            cmd = self.outbox.pop(0)
            sent += 1
            self.result(result_for(cmd, target_id=f"{cmd['target_system']}-id"))
            self.change(change(cmd["target_system"], cmd["payload"], ts=ts))
        return sent


def synced(ts: int = T0) -> Engine:
    """An entity born in Odoo, written to Holded, echo received: both hold the same."""
    e = Engine()
    e.change(change("odoo", contact(), ts=ts))
    e.deliver_all(ts + 1)
    return e


def test_first_change_creates_and_commands_the_other_system():
    e = Engine()
    d = e.change(change("odoo", contact()))
    assert d.outcome == "created"
    assert [c["target_system"] for c in d.commands] == ["holded"]
    assert d.state["vector"] == {"odoo": 1}
    assert d.commands[0]["content_hash"] == content_hash(contact())


def test_redelivery_is_a_duplicate_and_changes_nothing():
    e = Engine()
    ev = change("odoo", contact())
    [first] = e.change(ev).commands
    state, replicas = e.state, e.replicas
    d = e.change(ev)
    assert d.outcome == "duplicate" and d.commands == []
    assert e.state == state and e.replicas == replicas
    # Read again after its partition was assigned anew: the worker that decided it may have
    # died with its command unsent. Its write has no outcome yet, so it is emitted again, as
    # the same command (the sink's ledger knows its id) with the same content.
    d = e.change(ev, read_again=True)
    assert d.outcome == "duplicate" and e.state == state and e.replicas == replicas
    [again] = d.commands
    assert again["command_id"] == first["command_id"]
    assert {k: again[k] for k in ("payload", "content_hash", "vector", "target_system", "lane")} \
        == {k: first[k] for k in ("payload", "content_hash", "vector", "target_system", "lane")}
    assert "emitted again" in d.audit[0]["detail"]
    e.deliver_all(T0 + 1)
    assert e.change(ev, read_again=True).commands == []  # written and confirmed


def test_a_change_that_lost_every_conflict_read_again_sends_its_command_again():
    e = synced()
    e.change(change("odoo", contact(payment_due_days=60), ts=T0 + 50))
    e.outbox.clear()
    ev = change("holded", contact(payment_due_days=15), ts=T0 + 90)
    d = e.change(ev)  # the owner's 60 stays: the state takes no field from this change ...
    assert d.state["record"]["payment_due_days"] == 60
    [back] = d.commands  # ... but it sends Holded the owner's value
    again = e.change(ev, read_again=True)
    assert again.outcome == "duplicate"
    assert [c["command_id"] for c in again.commands] == [back["command_id"]]


def test_older_change_is_stale():
    e = Engine()
    e.change(change("odoo", contact(email="new@x.es"), ts=T0 + 10))
    d = e.change(change("odoo", contact(email="old@x.es"), ts=T0))
    assert d.outcome == "stale" and not d.commands
    assert e.state["record"]["email"] == "new@x.es"


def test_echo_of_our_write_emits_nothing_and_records_the_replica():
    e = Engine()
    cmd = e.change(change("odoo", contact())).commands[0]
    e.result(result_for(cmd, target_id="h-42"))
    d = e.change(change("holded", contact(), ts=T0 + 5))
    assert d.outcome == "echo" and not d.commands
    assert d.replicas["systems"]["holded"]["vector"] == {"odoo": 1}
    assert e.links == {"ids": {"holded": "h-42"}}


def test_echo_before_the_result_is_still_an_echo():
    e = Engine()
    e.change(change("odoo", contact()))
    assert e.change(change("holded", contact(), ts=T0 + 5)).outcome == "echo"


def test_no_ping_pong_between_two_systems():
    e = synced()
    e.change(change("holded", contact(email="a@b.es"), ts=T0 + 100))
    sent = e.deliver_all(T0 + 101)
    assert sent == 1  # one write to Odoo, its echo ends the exchange
    e.change(change("odoo", contact(email="a@b.es", phone="600"), ts=T0 + 200))
    assert e.deliver_all(T0 + 201) == 1
    assert not e.outbox
    assert e.state["record"]["phone"] == "600" and e.state["record"]["email"] == "a@b.es"


def test_fast_forward_in_one_system():
    e = synced()
    d = e.change(change("odoo", contact(email="x@y.es"), ts=T0 + 50))
    assert d.outcome == "applied" and not d.conflicts
    assert d.state["vector"] == {"odoo": 2}
    assert [c["target_system"] for c in d.commands] == ["holded"]


def test_concurrent_changes_to_different_fields_merge_cleanly():
    e = synced()
    e.change(change("odoo", contact(email="odoo@x.es"), ts=T0 + 50))
    e.outbox.clear()  # Holded has not received it yet
    d = e.change(change("holded", contact(phone="911"), ts=T0 + 60))
    assert d.outcome == "merged" and not d.conflicts
    assert d.state["record"]["email"] == "odoo@x.es" and d.state["record"]["phone"] == "911"
    assert sorted(c["target_system"] for c in d.commands) == ["holded", "odoo"]


def test_a_command_carries_the_newest_change_seen_from_its_target_as_its_base():
    # A sink that reads the record's modification time writes over changes up to base_ts and
    # parks a write over a later one (docs/odoo.md): base_ts is what the engine has seen.
    e = synced()
    e.change(change("odoo", contact(email="odoo@x.es"), ts=T0 + 50))
    e.outbox.clear()
    d = e.change(change("holded", contact(phone="911"), ts=T0 + 60))
    bases = {c["target_system"]: c["base_ts"] for c in d.commands}
    assert bases == {"odoo": T0 + 50, "holded": T0 + 60}  # the merge goes back to Holded too
    # A sink that cannot read a modification time (Holded) compares content instead: the base
    # is the hash of what the target last reported (or the engine last wrote to it).
    hashes = {c["target_system"]: c["base_hash"] for c in d.commands}
    assert hashes == {t: e.replicas["systems"][t]["content_hash"] for t in ("odoo", "holded")}
    assert hashes["holded"] == d.replicas["systems"]["holded"]["content_hash"] is not None


def test_same_field_changed_on_both_sides_is_a_conflict_settled_by_last_writer():
    e = synced()
    e.change(change("odoo", contact(tax_id="B00000001"), ts=T0 + 50))
    e.outbox.clear()
    d = e.change(change("holded", contact(tax_id="B00000002"), ts=T0 + 60))
    [conflict] = d.conflicts
    assert conflict["field"] == "tax_id" and conflict["policy"] == "last_writer_wins"
    assert conflict["decision"] == "took_incoming"
    assert conflict["canonical_value"] == '"B00000001"' and conflict["incoming_value"] == '"B00000002"'
    assert d.state["record"]["tax_id"] == "B00000002"


def test_field_owner_beats_a_later_writer():
    e = synced()
    e.change(change("odoo", contact(payment_due_days=60), ts=T0 + 50))
    [in_flight] = e.outbox  # not yet delivered to Holded when Holded's own edit arrives
    d = e.change(change("holded", contact(payment_due_days=15), ts=T0 + 90))
    [conflict] = d.conflicts
    assert conflict["policy"] == "field_owner" and conflict["decision"] == "kept_canonical"
    assert d.state["record"]["payment_due_days"] == 60
    # Holded reported 15 although the owner's 60 was on its way to it. That write may yet
    # land, or a sink's guard may have refused it as a write over a change the engine had not
    # seen: Holded gets the owner's value again, based on the change just seen.
    [again] = d.commands
    assert in_flight["payload"]["payment_due_days"] == again["payload"]["payment_due_days"] == 60
    assert again["target_system"] == "holded" and again["command_id"] != in_flight["command_id"]
    assert again["base_ts"] == T0 + 90
    # Whichever write lands, its echo ends the exchange.
    e.outbox.clear()
    e.change(change("holded", d.state["record"], ts=T0 + 95))
    assert not e.outbox


def test_same_timestamp_is_settled_by_a_deterministic_tie_break():
    e = synced()
    e.change(change("odoo", contact(email="o@x.es"), ts=T0 + 50))
    e.outbox.clear()
    d = e.change(change("holded", contact(email="h@x.es"), ts=T0 + 50))
    assert d.conflicts[0]["policy"] == "tie_break"
    assert d.state["record"]["email"] == "o@x.es"  # "odoo" > "holded"


def test_delete_is_propagated():
    e = synced()
    d = e.change(change("odoo", None, ts=T0 + 50, op="delete"))
    assert d.state["deleted"] and d.state["record"] is None
    assert [c["op"] for c in d.commands] == ["delete"]


def test_failed_result_clears_the_pending_write_so_a_retry_is_possible():
    e = Engine()
    cmd = e.change(change("odoo", contact())).commands[0]
    d = e.result(result_for(cmd, status="failed"))
    assert d.replicas["systems"]["holded"]["pending_hash"] is None
    assert "holded" not in d.links["ids"]


@pytest.mark.parametrize("mutate, reason", [
    (lambda ev: ev.update(content_hash="0" * 64), "content_hash"),
    (lambda ev: ev.update(entity="invoice"), "does not match key"),
    (lambda ev: ev.update(payload=None), "without a payload"),
    (lambda ev: ev.update(entity_key="contact/Odoo/1"), "system"),
])
def test_bad_events_are_rejected_with_a_reason(mutate, reason):
    ev = change("odoo", contact())
    mutate(ev)
    with pytest.raises(ValueError, match=reason):
        apply_change(ev, None, None, None, POLICY)


FIELDS = {"email": st.sampled_from(["a@x.es", "b@x.es", "c@x.es"]),
          "phone": st.sampled_from(["600", "700"]),
          "tax_id": st.sampled_from(["B1", "B2", "B3"]),
          "payment_due_days": st.sampled_from([15, 30, 60])}
edits = st.fixed_dictionaries({}, optional=FIELDS)


@settings(max_examples=150, deadline=None)
@given(edits, edits, st.integers(0, 3), st.integers(0, 3))
def test_concurrent_decision_does_not_depend_on_arrival_order(a, b, ts_a, ts_b):
    def run(first, second):
        e = synced()
        e.outbox.clear()
        events = {"odoo": change("odoo", contact(**a), ts=T0 + 100 + ts_a, event_id="ea"),
                  "holded": change("holded", contact(**b), ts=T0 + 100 + ts_b, event_id="eb")}
        e.change(events[first])
        e.change(events[second])
        decided = {(c["field"], c["incoming_system"] if c["decision"] == "took_incoming"
                    else c["canonical_system"]) for c in e.conflicts}
        return e.state["record"], e.state["vector"], decided

    r1, v1, d1 = run("odoo", "holded")
    r2, v2, d2 = run("holded", "odoo")
    assert r1 == r2 and d1 == d2
    if contact(**a) != contact(**b):
        # Identical edits: whichever arrives second is taken for the echo of the first, so
        # only the vectors' history differs, never the content.
        assert v1 == v2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["odoo", "holded"]), edits, st.integers(0, 5)),
                min_size=1, max_size=6))
def test_redelivering_any_event_changes_nothing(history):
    e = synced()
    events = [change(s, contact(**f), ts=T0 + 100 + i * 10 + d) for i, (s, f, d) in enumerate(history)]
    for ev in events:
        e.change(ev)
    state, sent = e.state, {c["command_id"] for c in e.outbox}
    for ev in events:
        assert e.change(ev, read_again=True).outcome in ("duplicate", "stale", "echo")
    # Nothing new is decided: a redelivery may only emit again a write already sent.
    assert e.state == state and {c["command_id"] for c in e.outbox} == sent


HELD = Policy(routes={"contact": ("holded", "odoo")},
              held_fields={"holded": {"contact": frozenset({"kind", "name", "tax_id", "email"})}})


def test_echo_is_judged_on_the_fields_the_system_holds():
    e = Engine(HELD)
    cmd = e.change(change("odoo", contact(tags=["vip"], phone="600"))).commands[0]
    assert cmd["payload"]["tags"] == ["vip"]  # the whole record travels; Holded keeps what it can
    # Holded cannot store tags or phone: it reports them empty. Still our echo.
    d = e.change(change("holded", contact(tags=[], phone=None), ts=T0 + 5))
    assert d.outcome == "echo" and not d.commands


def test_a_change_from_a_system_only_touches_the_fields_it_holds():
    e = Engine(HELD)
    e.change(change("odoo", contact(tags=["vip"], phone="600")))
    e.deliver_all(T0 + 1)
    d = e.change(change("holded", contact(email="nuevo@x.es", tags=[], phone=None), ts=T0 + 50))
    assert d.outcome == "applied"
    assert d.state["record"]["email"] == "nuevo@x.es"
    assert d.state["record"]["tags"] == ["vip"] and d.state["record"]["phone"] == "600"
    assert [c["target_system"] for c in d.commands] == ["odoo"]


def test_a_change_to_fields_a_target_never_reports_still_reaches_it():
    held = Policy(routes={"invoice": ("holded",)},
                  held_fields={"holded": {"invoice": frozenset({"payment_status", "amount_paid"})}})
    e = Engine(held)
    key = "invoice/odoo/F-1"
    first = e.change(change("odoo", invoice(), key=key)).commands[0]
    e.result(result_for(first))
    lines = [{**invoice()["lines"][0], "description": "Pieza (corregida)"}]
    d = e.change(change("odoo", invoice(lines=lines), key=key, ts=T0 + 10))
    assert [c["target_system"] for c in d.commands] == ["holded"]
    # Holded's report of the unchanged payment fields is still recognised as our echo.
    assert e.change(change("holded", invoice(lines=lines), key=key, ts=T0 + 20)).outcome == "echo"


def test_the_echo_may_carry_the_defaults_a_system_fills_in():
    def holded_view(system, entity, record):
        return {"name": record["name"], "language": record["language"] or "es"} if system == "holded" else None
    filled = Policy(routes={"contact": ("holded",)}, reported_view=holded_view,
                    held_fields={"holded": {"contact": frozenset({"name", "language"})}})
    e = Engine(filled)
    e.change(change("odoo", contact(language=None)))
    # Holded reports the language it filled in: still our own write coming back.
    assert e.change(change("holded", contact(language="es"), ts=T0 + 5)).outcome == "echo"


def test_an_operator_override_beats_even_a_field_owner():
    e = synced()
    e.change(change("odoo", contact(payment_due_days=60), ts=T0 + 50))
    d = e.change(change("operator", contact(payment_due_days=45), ts=T0 + 60))
    [c] = d.conflicts
    assert c["policy"] == "operator" and c["decision"] == "took_incoming"
    assert d.state["record"]["payment_due_days"] == 45


def _holded_fills_due_days(system, entity, record):
    """Holded reports 0 due days for a contact written without any (as connectors.holded does)."""
    if system != "holded":
        return None
    return {"tax_id": record["tax_id"], "payment_due_days": record["payment_due_days"] or 0}


FILLS = Policy(routes={"contact": ("holded", "odoo")}, reported_view=_holded_fills_due_days,
               held_fields={"holded": {"contact": frozenset({"tax_id", "payment_due_days"})},
                            "odoo": {"contact": frozenset({"tax_id", "payment_due_days", "iban"})}})


def test_a_fast_forward_takes_only_the_fields_the_system_changed():
    # Born in Odoo without payment terms; Holded shows them as 0 days (its default). A NIF
    # edited in Holded must not also copy Holded's stand-in 0 over the canonical "no terms":
    # Odoo would get a payment term nobody set (or park the NIF change without one of 0 days).
    e = Engine(FILLS)
    [write] = e.change(change("odoo", contact(payment_due_days=None))).commands
    e.outbox.clear()
    e.result(result_for(write))
    assert e.change(change("holded", contact(payment_due_days=0), ts=T0 + 1)).outcome == "echo"
    assert e.state["record"]["payment_due_days"] is None
    d = e.change(change("holded", contact(payment_due_days=0, tax_id="B99999999"), ts=T0 + 50))
    assert d.outcome == "applied"
    assert d.state["record"]["tax_id"] == "B99999999"
    assert d.state["record"]["payment_due_days"] is None
    assert set(d.state["provenance"]) >= {"tax_id"}
    assert d.state["provenance"]["tax_id"]["system"] == "holded"
    assert d.state["provenance"]["payment_due_days"]["system"] == "odoo"
    # Holded already shows what it would show of the new record: only Odoo is written.
    [cmd] = d.commands
    assert cmd["target_system"] == "odoo" and cmd["payload"]["payment_due_days"] is None
    e.outbox.clear()
    e.result(result_for(cmd))
    assert e.change(change("odoo", cmd["payload"], ts=T0 + 60)).outcome == "echo"


def test_the_audit_says_who_changed_which_field_from_what_to_what():
    # An accountant asks who changed the NIF, when, from which system, from what to what.
    e = synced()
    d = e.change(change("holded", contact(tax_id="B99999999", iban="ES7620770024003102575766"),
                        ts=T0 + 50, event_id="holded-edit"))
    [audit] = d.audit
    assert (audit["kind"], audit["system"], audit["event_id"], audit["ts"]) == \
        ("applied", "holded", "holded-edit", T0 + 50)
    assert audit["detail"] == ('changed iban: null -> "ES7620770024003102575766"; '
                               'tax_id: "B12345678" -> "B99999999"')
    # A concurrent change: the fields it brought, and how many conflicts were settled.
    e.outbox.clear()
    d = e.change(change("odoo", contact(tax_id="B11111111", payment_due_days=60), ts=T0 + 60))
    [audit] = d.audit
    assert audit["kind"] == "merged"
    assert audit["detail"] == ("1 conflicting field(s) settled; changed payment_due_days: 30 -> 60; "
                               'tax_id: "B99999999" -> "B11111111"')
    # A creation has its change event in the history, and no audit line.
    assert not Engine().change(change("odoo", contact())).audit


def test_a_stand_in_value_is_no_conflict_when_only_the_system_changed_the_field():
    # Born in Odoo without payment terms; Holded shows 0 days. Odoo changes the NIF while a
    # Holded user sets 30 days. Nobody else changed the terms: no conflict, and even Odoo's
    # ownership of the field must not reject the only change made to it.
    owned = Policy(routes=FILLS.routes, reported_view=FILLS.reported_view,
                   held_fields=FILLS.held_fields, owners={"contact.payment_due_days": "odoo"})
    e = Engine(owned)
    [write] = e.change(change("odoo", contact(payment_due_days=None))).commands
    e.outbox.clear()
    e.result(result_for(write))
    assert e.change(change("holded", contact(payment_due_days=0), ts=T0 + 1)).outcome == "echo"
    e.change(change("odoo", contact(payment_due_days=None, tax_id="B00000001"), ts=T0 + 50))
    e.outbox.clear()  # not yet in Holded
    d = e.change(change("holded", contact(payment_due_days=30), ts=T0 + 60))
    assert d.outcome == "merged" and d.conflicts == []
    assert d.state["record"]["payment_due_days"] == 30
    assert d.state["record"]["tax_id"] == "B00000001"


# ---- payments on account ------------------------------------------------------------------
PAYMENTS = Policy(routes={"payment": ("holded", "odoo")})


def test_a_payment_depends_on_its_invoice_and_one_on_account_on_its_customer():
    from tests.core.factories import payment

    on_invoice = apply_change(change("holded", payment(), key="payment/holded/P1"), None, None,
                              None, PAYMENTS)
    on_account = apply_change(change("holded", payment(invoice_key=None, contact_key="contact/holded/7"),
                                     key="payment/holded/P2"), None, None, None, PAYMENTS)
    assert [c["depends_on"] for c in on_invoice.commands] == [["invoice/odoo/F-1"]]
    assert [c["target_system"] for c in on_account.commands] == ["odoo"]
    assert on_account.commands[0]["depends_on"] == ["contact/holded/7"]
    assert on_account.commands[0]["payload"]["invoice_key"] is None


@pytest.mark.parametrize("fields, reason", [
    ({"invoice_key": None, "contact_key": None}, "needs invoice_key .* or, for a payment on account, contact_key"),
    ({"invoice_key": "", "contact_key": ""}, "it has neither"),
    ({"invoice_key": None, "contact_key": "C-0001"}, "contact_key: entity key 'C-0001' is not"),
    ({"invoice_key": None, "contact_key": "invoice/odoo/F-1"}, "is not a contact key"),
])
def test_a_payment_with_no_invoice_and_no_valid_customer_is_a_bad_event(fields, reason):
    from app.core.decide import BadEvent
    from tests.core.factories import payment

    event = change("holded", payment(**fields), key="payment/holded/P3")
    with pytest.raises(BadEvent, match=reason):
        apply_change(event, None, None, None, PAYMENTS)
