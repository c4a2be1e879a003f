from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.vectors import Order, command_id, compare, dominates, increment, merge

vectors = st.dictionaries(st.sampled_from(["holded", "odoo", "bc", "sap_b1"]),
                          st.integers(min_value=0, max_value=20), max_size=4)


@given(vectors, vectors)
def test_merge_is_commutative_and_an_upper_bound(a, b):
    m = merge(a, b)
    assert m == merge(b, a)
    assert dominates(m, a) and dominates(m, b)


@given(vectors, vectors, vectors)
def test_merge_is_associative(a, b, c):
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@given(vectors)
def test_merge_is_idempotent(a):
    assert merge(a, a) == merge(a, {})


@given(vectors, vectors)
def test_compare_is_antisymmetric(a, b):
    mirror = {Order.BEFORE: Order.AFTER, Order.AFTER: Order.BEFORE,
              Order.EQUAL: Order.EQUAL, Order.CONCURRENT: Order.CONCURRENT}
    assert compare(b, a) == mirror[compare(a, b)]


@given(vectors, st.sampled_from(["holded", "odoo"]))
def test_increment_moves_strictly_after(a, system):
    assert compare(increment(a, system), a) == Order.AFTER


def test_independent_increments_are_concurrent():
    base = {"odoo": 1}
    assert compare(increment(base, "odoo"), increment(base, "holded")) == Order.CONCURRENT


@given(vectors)
def test_command_id_ignores_zero_counters_and_order(a):
    padded = {**a, "never": 0}
    assert command_id("contact/odoo/1", "holded", a) == command_id("contact/odoo/1", "holded",
                                                                   dict(reversed(list(padded.items()))))


def test_command_id_depends_on_every_input():
    ids = {command_id("contact/odoo/1", "holded", {"odoo": 1}),
           command_id("contact/odoo/2", "holded", {"odoo": 1}),
           command_id("contact/odoo/1", "odoo", {"odoo": 1}),
           command_id("contact/odoo/1", "holded", {"odoo": 2})}
    assert len(ids) == 4
