"""`conflicts resolve` decided end to end without Kafka: the override build_override publishes,
applied by the canonical decision (app/core/decide.py), whatever reached the entity between
the operator's read of the table and the agent's turn at the override."""
from __future__ import annotations

from app.core.decide import apply_change
from app.core.policy import Policy
from app.operator_cli import build_override
from tests.core.factories import change, contact

POLICY = Policy(routes={"contact": ("holded", "odoo")})
T0 = 1_700_000_000_000


class Entity:
    def __init__(self) -> None:
        self.state = self.replicas = None
        self.conflicts: list[dict] = []
        self.commands: list[dict] = []

    def apply(self, event: dict, read_again: bool = False):
        d = apply_change(event, self.state, self.replicas, None, POLICY, read_again=read_again)
        if d.outcome not in ("duplicate", "stale", "echo"):
            self.state = d.state
        self.replicas = d.replicas
        self.conflicts += d.conflicts
        self.commands += d.commands
        return d


def nif_conflict() -> tuple[Entity, dict]:
    """A NIF changed in Odoo and, concurrently, in Holded; Holded's (later) value won."""
    e = Entity()
    e.apply(change("odoo", contact(), ts=T0))
    e.apply(change("odoo", contact(tax_id="B00000001"), ts=T0 + 50))
    e.apply(change("holded", contact(tax_id="B00000002"), ts=T0 + 60))
    [c] = e.conflicts
    assert (c["field"], c["decision"], c["incoming_system"]) == ("tax_id", "took_incoming", "holded")
    return e, c


def test_an_override_changes_only_its_field_even_after_a_change_it_had_not_seen():
    e, c = nif_conflict()
    seen = e.state  # what `conflicts resolve` read from the table
    # Before the agent reaches the override (it was lagging, or Odoo was polled meanwhile),
    # Odoo's new payment terms arrive and are applied.
    e.apply(change("odoo", contact(tax_id="B00000001", payment_due_days=60), ts=T0 + 70))
    assert e.state["record"]["payment_due_days"] == 60
    topic_system, event = build_override(c, "canonical", seen, T0 + 80)
    assert topic_system == "odoo"
    d = e.apply(event)
    record = e.state["record"]
    assert record["tax_id"] == "B00000001"  # the operator's choice
    assert record["payment_due_days"] == 60  # not reverted to what the operator had read
    assert [(x["field"], x["policy"]) for x in d.conflicts] == [("tax_id", "operator")]
    assert e.state["provenance"]["payment_due_days"]["system"] == "odoo"
    # The chosen value goes to every system, Holded (whose value lost) included.
    assert {cmd["target_system"] for cmd in d.commands} == {"holded", "odoo"}
    assert all(cmd["payload"]["tax_id"] == "B00000001" for cmd in d.commands)
    # The same override again (a second `resolve`, a redelivery) changes nothing.
    again = build_override(c, "canonical", e.state, T0 + 90)
    assert again == ""
    assert e.apply(event).outcome == "duplicate" and e.commands[-2:] == d.commands
    # Read again after a crash, it sends its writes again (they have no outcome yet), under
    # their ids: the crash may have lost them.
    reread = e.apply(event, read_again=True)
    assert reread.outcome == "duplicate"
    assert sorted(x["command_id"] for x in reread.commands) == \
        sorted(x["command_id"] for x in d.commands)


def test_a_value_an_operator_set_can_be_chosen_again():
    # Holded changes the NIF again before the override reaches it: a conflict whose canonical
    # side is the operator's value. Taking it again must publish to a real changes topic, not
    # to changes.operator (refused: 'operator' is no configured system).
    e, c = nif_conflict()
    _, event = build_override(c, "canonical", e.state, T0 + 80)
    e.apply(event)
    e.apply(change("holded", contact(tax_id="B00000003"), ts=T0 + 90))
    later = e.conflicts[-1]
    assert (later["canonical_system"], later["incoming_system"]) == ("operator", "holded")
    assert later["decision"] == "took_incoming" and e.state["record"]["tax_id"] == "B00000003"
    topic_system, again = build_override(later, "canonical", e.state, T0 + 100)
    assert topic_system == "holded"
    e.apply(again)
    assert e.state["record"]["tax_id"] == "B00000001"
