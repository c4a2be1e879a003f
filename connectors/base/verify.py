"""Read-back verification: did the remote really apply what we wrote?

Some APIs answer a write with success while silently dropping fields (Holded's
"Updated"). :func:`diff_fields` compares what was sent with what is read back and
names the fields that differ. Pure; aliases and ignored fields are declared as data.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["diff_fields", "missing_keys", "same_value", "zero_priced_lines"]

_MISSING = object()


def diff_fields(
    sent: Mapping[str, Any],
    read_back: Mapping[str, Any],
    *,
    aliases: Mapping[str, str] | None = None,
    ignore: Collection[str] = (),
) -> list[str]:
    """Names (as sent) of the fields whose read-back value differs from the sent one.

    ``aliases`` maps a write name to its read name (Holded: ``CustomId`` -> ``customId``).
    Nested objects are compared as subsets (the remote may add ids); lists item by item.
    """
    aliases = aliases or {}
    return [
        name
        for name, value in sent.items()
        if name not in ignore
        and not same_value(value, read_back.get(aliases.get(name, name), _MISSING))
    ]


def same_value(sent: Any, got: Any) -> bool:
    if got is _MISSING:
        return sent is None or sent == "" or sent == [] or sent == {}
    if isinstance(sent, bool) or isinstance(got, bool):
        return isinstance(sent, bool) and isinstance(got, bool) and sent == got
    if isinstance(sent, int | float) and not isinstance(sent, bool):
        number = _as_number(got)
        return number is not None and math.isclose(sent, number, rel_tol=1e-9, abs_tol=1e-6)
    if isinstance(sent, Mapping):
        return isinstance(got, Mapping) and all(
            same_value(v, got.get(k, _MISSING)) for k, v in sent.items()
        )
    if isinstance(sent, list | tuple):
        return (
            isinstance(got, list | tuple)
            and len(sent) == len(got)
            and all(same_value(a, b) for a, b in zip(sent, got, strict=True))
        )
    return bool(sent == got)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def missing_keys(lines: list[Mapping[str, Any]], key: str, known: Collection[str]) -> list[str]:
    """Values of ``key`` in ``lines`` that are not in ``known`` (e.g. unknown skus)."""
    wanted = {str(line[key]) for line in lines if line.get(key)}
    return sorted(wanted - {str(k) for k in known})


def zero_priced_lines(
    sent: list[Mapping[str, Any]],
    read_back: list[Mapping[str, Any]],
    *,
    sent_price_keys: tuple[str, ...] = ("subtotal", "price"),
    read_price_keys: tuple[str, ...] = ("price", "subtotal"),
) -> list[str]:
    """Describe each line sent with a non-zero price that reads back at 0 or is missing."""
    problems = []
    if len(read_back) != len(sent):
        problems.append(f"sent {len(sent)} lines, read back {len(read_back)}")
    for index, line in enumerate(sent):
        price = _first_number(line, sent_price_keys)
        if not price:
            continue
        got = _first_number(read_back[index], read_price_keys) if index < len(read_back) else None
        if not got:
            label = line.get("sku") or line.get("name") or f"#{index + 1}"
            problems.append(f"line {index + 1} ({label}) sent at {price}, stored at {got or 0}")
    return problems


def _first_number(line: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if line.get(key) is not None:
            return _as_number(line[key])
    return None
