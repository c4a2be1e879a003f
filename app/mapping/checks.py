"""Cross-reference checks of a parsed mapping document.

A mapping that parses can still be wrong in ways that would mis-tax a document: a tax pointing at
an account that does not exist, a system tax at 10 % mapped to a canonical tax at 21 %, a
canonical tax Holded cannot receive. Each check appends Issues; none stops the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.mapping.decimals import show_number
from app.mapping.model import CodeMap, SystemEntry, SystemMap, Tax, TaxKind, TaxScope
from app.mapping.reader import Reader, join

__all__ = ["CONTACT_TAX_REGIMES", "check_references", "check_systems"]

# The canonical Contact.tax_regime symbols (schemas/Contact.avsc, enum TaxRegime).
CONTACT_TAX_REGIMES = (
    "general", "intra_eu", "export", "reverse_charge", "equivalence_surcharge", "exempt",
    "not_subject",
)


def check_references(r: Reader, c: dict[str, Any], tax_paths: dict[str, str],
                     written: dict[str, set[str]]) -> None:
    """Accounts, treasuries and currencies referenced by canonical entries must exist.

    ``written`` (from ``parse.written_codes``) holds codes whose entry is invalid: their own
    error is already reported, so a reference to them is not one more.
    """
    accounts = {*c["accounts"], *written.get("accounts", ())}
    treasuries = {*c["treasuries"], *written.get("treasuries", ())}
    for code, tax in c["taxes"].items():
        _known(r, tax.account, accounts, join(tax_paths[code], "account"), "account")
    for code, treasury in c["treasuries"].items():
        _known(r, treasury.account, accounts, f"treasuries.{code}.account", "account")
    for code, channel in c["sales_channels"].items():
        _known(r, channel.account, accounts, f"sales_channels.{code}.account", "account")
    for code, method in c["payment_methods"].items():
        _known(r, method.treasury, treasuries, f"payment_methods.{code}.treasury", "treasury")
    if c["base_currency"] not in c["currencies"]:
        r.error("base_currency", f"{c['base_currency']!r} is not in currencies",
                "one of " + ", ".join(c["currencies"]))


def _known(r: Reader, code: str | None, known: Iterable[str], path: str, what: str) -> None:
    if code is not None and code not in known:
        article = "an" if what[0] in "aeiou" else "a"
        r.error(path, f"unknown {what} {code!r}", f"{article} {what} defined in the document")


def check_systems(r: Reader, c: dict[str, Any], systems: dict[str, SystemMap],
                  written: dict[str, set[str]], holded_named: dict[str, set[str]]) -> None:
    """Every system code must map to a known canonical code, at the canonical rate, and what
    the document defines must reach Holded.

    A code in ``written`` whose entry is invalid counts as known (its error is reported);
    ``holded_named`` is what the Holded maps name (``parse.holded_targets``).
    """
    known: dict[str, Iterable[str]] = {
        "taxes": c["taxes"], "accounts": c["accounts"], "payment_methods": c["payment_methods"],
        "treasuries": c["treasuries"], "series": c["series"],
        "sales_channels": c["sales_channels"], "currencies": c["currencies"],
        "tax_regimes": CONTACT_TAX_REGIMES, "account_numbers": c["accounts"],
        "warehouses": c["warehouses"],
    }
    for name, system in systems.items():
        for section, targets in known.items():
            code_map = system.section(section)
            if code_map is None:
                continue
            path = f"systems.{name}.{section}"
            written_here = written.get("accounts" if section == "account_numbers" else section, ())
            _check_targets(r, code_map, {*targets, *written_here}, path, section)
            _check_outbound(r, code_map, path)
        _check_rates(r, system.taxes, c["taxes"], f"systems.{name}.taxes")
        _check_default_product_tax(r, system, c["taxes"],
                                   written.get(f"systems.{name}.taxes", set()))
        if system.stock_warehouse is not None:
            _known(r, system.stock_warehouse, {*c["warehouses"], *written.get("warehouses", ())},
                   f"systems.{name}.stock_warehouse", "warehouse")
        if name == "holded":
            _check_holded_keys(r, system.taxes, c["taxes"])
    if "holded" not in systems:
        r.error("systems.holded", "missing", "a holded section: Holded is the hub of every sync")
        return
    _check_reach_holded(r, c, holded_named)


def _check_reach_holded(r: Reader, c: dict[str, Any], named: dict[str, set[str]]) -> None:
    """Holded is the hub: every document, contact and payment is written there.

    A tax, series, treasury, payment method or warehouse the document defines but Holded cannot
    receive would park every record that uses it, so it is an error like a tax without a Holded key.
    Contact tax regimes are not the document's own (they are the seven symbols of
    Contact.tax_regime, most of which a customer may never use): a missing one is a warning.
    """
    for code in c["taxes"]:
        if code not in named["taxes"]:
            r.error(f"taxes.{code}", f"canonical tax {code!r} has no Holded key",
                    f"an entry under systems.holded.taxes with canonical: {code}")
    for section, what in (("series", "series"), ("treasuries", "treasury"),
                          ("payment_methods", "payment method"), ("warehouses", "warehouse")):
        for code in c[section]:
            if code not in named[section]:
                r.error(f"{section}.{code}", f"canonical {what} {code!r} has no Holded {what}",
                        f"an entry under systems.holded.{section} such as "
                        f"'<Holded {what} id>': {code}")
    missing = [regime for regime in CONTACT_TAX_REGIMES if regime not in named["tax_regimes"]]
    if missing:
        r.warn("systems.holded.tax_regimes",
               f"no Holded tax operation for {', '.join(missing)}: a contact with one of these "
               "tax regimes parks until a mapping version maps it",
               "an entry for each regime your contacts use, e.g. general: general")


def _check_default_product_tax(r: Reader, system: SystemMap, taxes: dict[str, Tax],
                               written: set[str]) -> None:
    """``default_product_tax`` must be a key of the section's own ``taxes`` that maps to a sales
    VAT: it stands for a product's VAT, whose rate nets a price that includes it.

    A key whose entry is invalid (``written``: already reported), or whose canonical tax is
    unknown (reported by the targets check), is not reported again.
    """
    key = system.default_product_tax
    if key is None:
        return
    path = f"systems.{system.system}.default_product_tax"
    section = f"systems.{system.system}.taxes"
    entry = system.taxes.entry(key)
    if entry is None:
        if str(key) not in written:
            keys = ", ".join(repr(str(e.code)) for e in system.taxes.entries)
            r.error(path, f"{str(key)!r} is not a key of {section}",
                    f"one of {keys}" if keys else f"a key of {section}, which has none")
        return
    tax = taxes.get(entry.canonical[0]) if entry.canonical else None
    if tax is not None and (tax.kind is not TaxKind.VAT or tax.scope is not TaxScope.SALES):
        r.error(path, f"{str(key)!r} maps to canonical {tax.code!r}, a {tax.scope.value} "
                f"{tax.kind.value} tax, not a sales VAT",
                f"a key of {section} whose canonical tax has kind: vat, scope: sales")


def _check_targets(r: Reader, code_map: CodeMap, targets: Iterable[str], path: str,
                   section: str) -> None:
    targets = set(targets)
    what = {"taxes": "tax", "account_numbers": "account"}.get(section, section.rstrip("s"))
    for entry in code_map.entries:
        for code in entry.canonical:
            if code not in targets:
                r.error(join(path, entry.code), f"unknown canonical {what} {code!r}",
                        f"a code defined in the document's "
                        f"{'accounts' if section == 'account_numbers' else section}"
                        if section != "tax_regimes" else "one of " + ", ".join(sorted(targets)))


def _check_outbound(r: Reader, code_map: CodeMap, path: str) -> None:
    writers: dict[str, list[SystemEntry]] = {}
    for entry in code_map.entries:
        for code in entry.canonical:
            writers.setdefault(code, []).append(entry)
    for code, entries in writers.items():
        marked = [e for e in entries if e.outbound]
        if len(entries) > 1 and len(marked) != 1:
            names = ", ".join(str(e.code) for e in entries)
            r.error(path, f"canonical {code!r} is written by several codes ({names}) "
                    f"and {len(marked)} of them has outbound: true",
                    "exactly one of them with outbound: true")


def _check_rates(r: Reader, code_map: CodeMap, taxes: dict[str, Tax], path: str) -> None:
    for entry in code_map.entries:
        if entry.rate is None:
            continue
        for code in entry.canonical:
            tax = taxes.get(code)
            if tax is None:
                continue
            # Some systems (Odoo) store withholdings as negative-rate taxes.
            rate = abs(entry.rate) if tax.is_withholding else entry.rate
            if rate != tax.rate:
                r.error(join(join(path, entry.code), "rate"),
                        f"rate {show_number(entry.rate)} differs from canonical tax {code!r} "
                        f"at {show_number(tax.rate)}", f"rate {show_number(tax.rate)}")


def _check_holded_keys(r: Reader, code_map: CodeMap, taxes: dict[str, Tax]) -> None:
    """Holded's own keys say their scope (s_/p_) and whether they withhold (_ret)."""
    for entry in code_map.entries:
        key = str(entry.code)
        scope = {"s_": TaxScope.SALES, "p_": TaxScope.PURCHASES}.get(key[:2])
        for code in entry.canonical:
            tax = taxes.get(code)
            if tax is None or scope is None:
                continue  # custom keys such as tax_49_sales carry no convention
            path = f"systems.holded.taxes.{key}"
            if tax.scope is not scope:
                r.error(path, f"Holded key {key!r} is a {scope.value} tax but canonical "
                        f"{code!r} has scope {tax.scope.value}", f"a {tax.scope.value} key")
            if ("_ret" in key) != (tax.kind is TaxKind.WITHHOLDING):
                r.error(path, f"Holded key {key!r} and canonical {code!r} "
                        f"(kind {tax.kind.value}) disagree on being a withholding",
                        "s_ret_*/p_ret_* keys for withholdings only")

