"""Version vectors ``{system: counter}``: which changes of which system a state includes."""
from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping

__all__ = ["Order", "compare", "command_id", "dominates", "increment", "merge"]

Vector = Mapping[str, int]


class Order(enum.Enum):
    EQUAL = "equal"
    BEFORE = "before"  # a happened before b: b includes everything a has
    AFTER = "after"
    CONCURRENT = "concurrent"


def dominates(a: Vector, b: Vector) -> bool:
    """a includes every change b includes (a >= b pointwise)."""
    return all(a.get(s, 0) >= n for s, n in b.items())


def compare(a: Vector, b: Vector) -> Order:
    ge, le = dominates(a, b), dominates(b, a)
    if ge and le:
        return Order.EQUAL
    if ge:
        return Order.AFTER
    if le:
        return Order.BEFORE
    return Order.CONCURRENT


def merge(a: Vector, b: Vector) -> dict[str, int]:
    """Least upper bound: the pointwise maximum."""
    out = {s: n for s, n in a.items() if n}
    for s, n in b.items():
        if n > out.get(s, 0):
            out[s] = n
    return out


def increment(v: Vector, system: str) -> dict[str, int]:
    out = {s: n for s, n in v.items() if n}
    out[system] = out.get(system, 0) + 1
    return out


def command_id(entity_key: str, target: str, vector: Vector) -> str:
    """Pure function of (entity key, target, vector): replays produce the same id."""
    text = entity_key + "\x00" + target + "\x00" + ",".join(
        f"{s}={n}" for s, n in sorted(vector.items()) if n)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
