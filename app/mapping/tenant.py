"""A mapping document against what a tenant holds: pure comparison, no HTTP.

``holded-sync mappings check`` has each connector read what its tenant holds (its reader,
``connectors/<system>/tenant.py``) into a :class:`Tenant`; :func:`compare` then finds every
code of the document's ``systems.<system>`` section the tenant does not hold, a tax whose rate
differs, and a series of another document type. Offline validation (``app.mapping.checks``)
cannot see any of it: a wrong Holded tax key or id is otherwise found when the first invoice
fails at Holded, or never (Holded drops what it does not know and answers 2xx).

A section the reader could not read is *not checked*, with the reason, and is reported as
such: never a silent pass. Where a system cannot list a section's codes but its records name
them (a Shopify product's ``holded_sync.tax`` metafield: Shopify lists no taxes), the reader
gives the codes in use instead (:attr:`Tenant.used`): each one the section does not map is a
problem, since every record carrying it would park.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from decimal import Decimal

from app.mapping.decimals import show_number
from app.mapping.model import CodeMap, Mapping, SystemEntry

__all__ = ["CHECKED_SECTIONS", "Held", "Problem", "SystemReport", "Tenant", "compare",
           "not_covered"]

# The code maps a tenant can hold, in the order they are reported. `rounding`, `currencies`
# (ISO codes) and `tax_regimes` (Holded's fixed list of operations) name nothing a tenant holds.
CHECKED_SECTIONS = ("taxes", "accounts", "account_numbers", "payment_methods", "treasuries",
                    "series", "sales_channels", "warehouses")
# (one, many): how a section's codes are named in problems and in the summary.
_NOUNS = {"taxes": ("tax", "taxes"), "accounts": ("account", "accounts"),
          "account_numbers": ("account number", "account numbers"),
          "payment_methods": ("payment method", "payment methods"),
          "treasuries": ("treasury", "treasuries"), "series": ("series", "series"),
          "sales_channels": ("sales channel", "sales channels"),
          "warehouses": ("warehouse", "warehouses")}
_LIST_ALL = 8   # a section of at most this many codes is listed whole next to a problem
_NEAR = 3       # else this many near matches


@dataclass(frozen=True, slots=True)
class Held:
    """One code a tenant holds: its name, its rate (a tax, where the system reports one) and
    the canonical document types it numbers (a series, where the system says)."""

    name: str = ""
    rate: Decimal | None = None
    doc_types: frozenset[str] = frozenset()

    def show(self, code: str) -> str:
        parts = [p for p in (self.name, f"{show_number(self.rate)} %" if self.rate is not None
                             else "") if p]
        return f"{code} ({', '.join(parts)})" if parts else code


@dataclass(frozen=True, slots=True)
class Tenant:
    """What one system's tenant holds, per section: its codes as text (an Odoo id ``7`` is
    ``"7"``). A section missing from ``codes`` and ``used`` was not read; ``unchecked`` says
    why. ``used``: per section, the codes the tenant's records carry, for a section whose
    codes the system cannot list (``Held.name`` says where they are used)."""

    system: str
    label: str
    codes: MappingABC[str, MappingABC[str, Held]] = field(default_factory=dict)
    unchecked: MappingABC[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the check could not see though it read the section
    used: MappingABC[str, MappingABC[str, Held]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Problem:
    """One code of the document the tenant contradicts; ``holds`` is what it holds instead."""

    path: str
    problem: str
    holds: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" + (f"; {self.holds}" if self.holds else "")


@dataclass(frozen=True, slots=True)
class SystemReport:
    """The outcome for one system: the codes checked per section, the problems, and the
    sections (or the whole system) not checked, each with its reason."""

    system: str
    checked: tuple[tuple[str, int], ...] = ()
    problems: tuple[Problem, ...] = ()
    unchecked: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """``holded: 18 taxes, 3 accounts ... checked, 2 problems`` and what was not checked."""
        if not self.checked:
            reasons = "; ".join(dict.fromkeys(why for _, why in self.unchecked)) or "nothing to check"
            return f"{self.system}: not checked ({reasons})"
        counted = ", ".join(f"{n} {_NOUNS[s][0 if n == 1 else 1]}" for s, n in self.checked)
        text = f"{self.system}: {counted} checked, {_counted(len(self.problems), 'problem')}"
        if self.unchecked:
            text += "; not checked: " + "; ".join(f"{_NOUNS[s][1]} ({why})"
                                                   for s, why in self.unchecked)
        return text + "".join(f"; {note}" for note in self.notes)


def not_covered(mapping: Mapping, system: str, why: str) -> SystemReport:
    """The report of a system nothing reads: every section its mapping fills, not checked."""
    section = mapping.system(system)
    filled = [s for s in CHECKED_SECTIONS if section is not None and len(section.section(s) or ())]
    return SystemReport(system, unchecked=tuple((s, why) for s in filled) or (("", why),))


def compare(mapping: Mapping, tenant: Tenant) -> SystemReport:
    """Every problem of ``systems.<tenant.system>`` against what ``tenant`` holds."""
    section_map = mapping.system(tenant.system)
    if section_map is None:
        return SystemReport(tenant.system, unchecked=(
            ("", f"the mapping has no systems.{tenant.system} section"),))
    checked, problems, unchecked = [], [], []
    for section in CHECKED_SECTIONS:
        code_map = section_map.section(section)
        if code_map is None or not len(code_map):
            continue
        held = tenant.codes.get(section)
        if held is None and section in tenant.used:
            checked.append((section, len(code_map)))
            problems.extend(_unmapped(tenant, section, code_map, tenant.used[section]))
            continue
        if held is None:
            unchecked.append((section, tenant.unchecked.get(section, "not read")))
            continue
        checked.append((section, len(code_map)))
        for entry in code_map.entries:
            problems.extend(_entry_problems(mapping, tenant, section, code_map, entry, held))
    return SystemReport(tenant.system, tuple(checked), tuple(problems), tuple(unchecked),
                        tenant.notes)


def _entry_problems(mapping: Mapping, tenant: Tenant, section: str, code_map: CodeMap,
                    entry: SystemEntry, held: MappingABC[str, Held]) -> list[Problem]:
    code = str(entry.code)
    path = f"systems.{tenant.system}.{section}.{code}"
    found = held.get(code)
    noun = _NOUNS[section][0]
    if found is None:
        rate = _expected_rate(mapping, entry) if section == "taxes" else None
        return [Problem(path, f"{tenant.label} has no {noun} {code!r}",
                        _near(tenant.label, section, code, held, rate))]
    if section == "taxes":
        return _rate_problems(mapping, tenant.label, path, entry, found, held)
    if section == "series":
        return _series_problems(mapping, tenant.label, path, entry, found)
    return []


def _unmapped(tenant: Tenant, section: str, code_map: CodeMap,
              used: MappingABC[str, Held]) -> list[Problem]:
    """A code the tenant's records carry that the section does not map: they would park."""
    mapped = {str(e.code) for e in code_map.entries}
    path = f"systems.{tenant.system}.{section}"
    noun = _NOUNS[section][0]
    shown = ", ".join(sorted(mapped)[:_LIST_ALL]) + (", ..." if len(mapped) > _LIST_ALL else "")
    return [Problem(path, f"{tenant.label} uses {noun} {code!r} ({held.name}), which {path} "
                          "does not map: those records park", f"the mapping maps {shown}")
            for code, held in sorted(used.items()) if code not in mapped]


def _expected_rate(mapping: Mapping, entry: SystemEntry) -> Decimal | None:
    """The system's own rate the document expects: the entry's ``rate``, else the canonical."""
    if entry.rate is not None:
        return entry.rate
    tax = mapping.taxes.get(entry.canonical[0]) if entry.canonical else None
    return tax.rate if tax is not None else None


def _rate_problems(mapping: Mapping, label: str, path: str, entry: SystemEntry, found: Held,
                   held: MappingABC[str, Held]) -> list[Problem]:
    expected = _expected_rate(mapping, entry)
    if found.rate is None or expected is None or found.rate == expected:
        return []
    if entry.rate is None and mapping.taxes[entry.canonical[0]].is_withholding \
            and found.rate == -expected:  # the canonical rate negated, as Odoo keeps withholdings
        return []
    same = [h.show(c) for c, h in sorted(held.items()) if h.rate == expected]
    holds = (f"at {show_number(expected)} % {label} holds " + ", ".join(same[:_LIST_ALL])) if same \
        else f"{label} holds no tax at {show_number(expected)} %"
    return [Problem(f"{path}.rate", f"rate {show_number(found.rate)} in {label}, "
                                    f"{show_number(expected)} in the mapping", holds)]


def _series_problems(mapping: Mapping, label: str, path: str, entry: SystemEntry,
                     found: Held) -> list[Problem]:
    if not found.doc_types:  # the system does not say what a series numbers
        return []
    wrong = []
    for canonical in entry.canonical:
        series = mapping.series.get(canonical)
        wanted = set(series.doc_types) if series is not None else set()
        wrong.extend(f"{canonical!r} numbers {t}" for t in sorted(wanted - found.doc_types))
    if not wrong:
        return []
    return [Problem(path, f"it numbers {', '.join(sorted(found.doc_types))} in {label}, but "
                          f"series {'; '.join(wrong)}")]


def _near(label: str, section: str, code: str, held: MappingABC[str, Held],
          rate: Decimal | None) -> str:
    """What the tenant holds instead: all of a short list, else near codes and same-rate taxes."""
    many = _NOUNS[section][1]
    if not held:
        return f"{label} holds no {many}"
    if len(held) <= _LIST_ALL:
        return f"{label} holds " + ", ".join(held[c].show(c) for c in sorted(held))
    near = difflib.get_close_matches(code, list(held), n=_NEAR, cutoff=0.6)
    if rate is not None:
        near += [c for c in sorted(held) if held[c].rate == rate and c not in near][:_NEAR]
    if not near:
        return f"none near among its {len(held)} {many}"
    return "near: " + ", ".join(held[c].show(c) for c in near)


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
