"""Build the model from raw YAML data, section by section, recording every type error.

Cross references between sections are checked afterwards by ``app.mapping.checks``; this module
only knows the shape of each section.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from app.mapping.decimals import show_number
from app.mapping.model import (
    ROUNDINGS,
    SYSTEMS,
    Account,
    CodeMap,
    PaymentMethod,
    SalesChannel,
    Series,
    SystemEntry,
    SystemMap,
    Tax,
    TaxKind,
    TaxRegime,
    TaxScope,
    Treasury,
    Warehouse,
)
from app.mapping.reader import Reader, join

__all__ = [
    "TOP_LEVEL_KEYS", "SYSTEM_SECTIONS", "SYSTEM_SETTINGS", "DOC_TYPES", "parse_canonical",
    "parse_systems", "written_codes", "holded_targets",
]

TOP_LEVEL_KEYS = {
    "version", "name", "base_currency", "accounts", "taxes", "withholdings", "payment_methods",
    "treasuries", "series", "sales_channels", "currencies", "systems", "warehouses",
}
SYSTEM_SECTIONS = (
    "taxes", "accounts", "payment_methods", "treasuries", "series", "sales_channels",
    "currencies", "tax_regimes", "warehouses",
)
# Settings only one system's section has (beside rounding and the code maps). Holded's
# ``account_numbers`` is a code map of its own: a Holded contact names its default sales and
# expenses accounts by account number (``defaults.salesAccountRecord``, an integer), where a
# document line names one by id (``accountingAccountId``, the ``accounts`` map).
# ``stock_warehouse``: a system that keeps one stock figure per product, not one per
# location, counts it in this canonical warehouse: Business Central items' total is reported
# in it (docs/business_central.md), PrestaShop's quantity for sale is set from its level
# (docs/prestashop.md, Stock).
SYSTEM_SETTINGS: dict[str, frozenset[str]] = {"shopify": frozenset({"default_product_tax"}),
                                              "holded": frozenset({"account_numbers"}),
                                              "business_central": frozenset({"stock_warehouse"}),
                                              "prestashop": frozenset({"stock_warehouse"})}
DOC_TYPES = ("invoice", "credit_note", "sales_receipt")
ACCOUNT_CODE = re.compile(r"^\d{3,12}$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
SHOPIFY_LOCATION = re.compile(r"gid://shopify/Location/\d+")
# Rates are percentages: VAT, surcharge and withholding all lie in [0, 100].
MAX_RATE = Decimal(100)
# Systems whose tax codes are numeric record ids (Odoo account.tax, PrestaShop tax rule groups).
INT_TAX_KEYS = frozenset({"odoo", "prestashop"})


def _named(r: Reader, raw: Any, path: str, allowed: set[str]) -> dict[str, Any] | None:
    """Accept ``code: Name`` as shorthand for ``code: {name: Name}``."""
    if isinstance(raw, str):
        return {"name": raw}
    body = r.mapping(raw, path)
    if body is not None:
        r.unknown_keys(body, path, allowed)
    return body


def parse_accounts(r: Reader, raw: Any) -> dict[str, Account]:
    out: dict[str, Account] = {}
    for key, value in (r.mapping(raw, "accounts") or {}).items():
        path = join("accounts", key)
        code = r.code(key, path)
        body = _named(r, value, path, {"name"})
        if code is not None and not ACCOUNT_CODE.match(code):
            r.error(path, f"account code {code!r} is not a number", "PGC-style digits, e.g. '430'")
            code = None
        name = r.string(body.get("name"), join(path, "name")) if body is not None else None
        if code is not None and name is not None:
            if code in out:
                r.error(path, f"duplicate code {code!r}", "each account once")
            out[code] = Account(code, name)
    return out


def parse_taxes(r: Reader, raw: Any, section: str, default_kind: str | None) -> dict[str, Tax]:
    out: dict[str, Tax] = {}
    allowed = {"name", "rate", "kind", "scope", "regime", "account"}
    for key, value in (r.mapping(raw, section, required=False) or {}).items():
        path = join(section, key)
        code = r.string(key, path)
        body = r.mapping(value, path)
        if body is None:
            continue
        r.unknown_keys(body, path, allowed)
        name = r.string(body.get("name", code), join(path, "name"))
        rate = r.decimal(body.get("rate"), join(path, "rate"))
        if rate is not None and rate < 0:
            r.error(join(path, "rate"), f"negative rate {show_number(rate)}",
                    "a rate >= 0; withholdings use kind: withholding with a positive rate")
            rate = None
        elif rate is not None and rate > MAX_RATE:
            r.error(join(path, "rate"), f"rate {show_number(rate)} is above 100",
                    "a percentage between 0 and 100, e.g. 21 for 21 %")
            rate = None
        kind = r.choice(body.get("kind", default_kind), join(path, "kind"), TaxKind)
        if section == "withholdings" and kind not in (None, TaxKind.WITHHOLDING):
            r.error(join(path, "kind"), f"got {kind.value!r} in withholdings", "withholding")
        scope = r.choice(body.get("scope"), join(path, "scope"), TaxScope)
        regime = r.choice(body.get("regime", "general"), join(path, "regime"), TaxRegime)
        account = None
        if body.get("account") is not None:
            account = r.code(body["account"], join(path, "account"))
        if None not in (code, name, rate, kind, scope, regime):
            out[code] = Tax(code, name, rate, kind, scope, regime, account)  # type: ignore[arg-type]
    return out


def parse_payment_methods(r: Reader, raw: Any) -> dict[str, PaymentMethod]:
    out: dict[str, PaymentMethod] = {}
    for key, value in (r.mapping(raw, "payment_methods", required=False) or {}).items():
        path = join("payment_methods", key)
        code, body = r.string(key, path), _named(r, value, path, {"name", "treasury"})
        if body is None or code is None:
            continue
        name = r.string(body.get("name"), join(path, "name"))
        treasury = r.string(body.get("treasury"), join(path, "treasury"), required=False)
        if name is not None:
            out[code] = PaymentMethod(code, name, treasury)
    return out


def parse_treasuries(r: Reader, raw: Any) -> dict[str, Treasury]:
    out: dict[str, Treasury] = {}
    for key, value in (r.mapping(raw, "treasuries", required=False) or {}).items():
        path = join("treasuries", key)
        code, body = r.string(key, path), r.mapping(value, path)
        if body is None or code is None:
            continue
        r.unknown_keys(body, path, {"name", "account", "iban"})
        name = r.string(body.get("name"), join(path, "name"))
        account = r.code(body.get("account"), join(path, "account"))
        iban = r.string(body.get("iban"), join(path, "iban"), required=False)
        if name is not None and account is not None:
            out[code] = Treasury(code, name, account, iban)
    return out


def parse_warehouses(r: Reader, raw: Any) -> dict[str, Warehouse]:
    out: dict[str, Warehouse] = {}
    for key, value in (r.mapping(raw, "warehouses", required=False) or {}).items():
        path = join("warehouses", key)
        code, body = r.string(key, path), _named(r, value, path, {"name"})
        if body is None or code is None:
            continue
        name = r.string(body.get("name"), join(path, "name"))
        if name is not None:
            out[code] = Warehouse(code, name)
    return out


def parse_series(r: Reader, raw: Any) -> dict[str, Series]:
    out: dict[str, Series] = {}
    for key, value in (r.mapping(raw, "series", required=False) or {}).items():
        path = join("series", key)
        code, body = r.code(key, path), _named(r, value, path, {"name", "doc_types"})
        if body is None or code is None:
            continue
        name = r.string(body.get("name"), join(path, "name"))
        doc_types = []
        for i, item in enumerate(r.sequence(body.get("doc_types"), join(path, "doc_types")) or []):
            if item in DOC_TYPES:
                doc_types.append(item)
            else:
                r.error(f"{path}.doc_types[{i}]", f"got {item!r}", "one of " + ", ".join(DOC_TYPES))
        if name is not None:
            out[code] = Series(code, name, tuple(doc_types))
    return out


def parse_sales_channels(r: Reader, raw: Any) -> dict[str, SalesChannel]:
    out: dict[str, SalesChannel] = {}
    for key, value in (r.mapping(raw, "sales_channels", required=False) or {}).items():
        path = join("sales_channels", key)
        code, body = r.string(key, path), _named(r, value, path, {"name", "account"})
        if body is None or code is None:
            continue
        name = r.string(body.get("name"), join(path, "name"))
        account = None
        if body.get("account") is not None:
            account = r.code(body["account"], join(path, "account"))
        if name is not None:
            out[code] = SalesChannel(code, name, account)
    return out


def parse_currencies(r: Reader, raw: Any) -> tuple[str, ...]:
    out: list[str] = []
    for i, item in enumerate(r.sequence(raw, "currencies") or []):
        path = f"currencies[{i}]"
        if not isinstance(item, str) or not CURRENCY_CODE.match(item):
            r.error(path, f"got {item!r}", "an upper-case ISO 4217 code, e.g. EUR")
        elif item in out:
            r.error(path, f"duplicate code {item!r}", "each currency once")
        else:
            out.append(item)
    return tuple(out)


def parse_canonical(r: Reader, data: dict[Any, Any]) -> dict[str, Any]:
    """Read every canonical section; withholdings may also be listed in their own section."""
    taxes = parse_taxes(r, data.get("taxes"), "taxes", None)
    for code, tax in parse_taxes(r, data.get("withholdings"), "withholdings", "withholding").items():
        if code in taxes:
            r.error(join("withholdings", code), f"duplicate code {code!r}: also in taxes",
                    "each tax code once across taxes and withholdings")
        else:
            taxes[code] = tax
    return {
        "accounts": parse_accounts(r, data.get("accounts")),
        "taxes": taxes,
        "payment_methods": parse_payment_methods(r, data.get("payment_methods")),
        "treasuries": parse_treasuries(r, data.get("treasuries")),
        "series": parse_series(r, data.get("series")),
        "sales_channels": parse_sales_channels(r, data.get("sales_channels")),
        "currencies": parse_currencies(r, data.get("currencies")),
        "warehouses": parse_warehouses(r, data.get("warehouses")),
    }


def written_codes(data: dict[Any, Any]) -> dict[str, set[str]]:
    """The codes each canonical section writes, valid entries or not.

    An entry with one bad field is left out of the model; references to its code must not be
    reported again as unknown, since the customer would then chase a code that is there.
    """
    def keys(section: str) -> set[str]:
        raw = data.get(section)
        if not isinstance(raw, dict):
            return set()
        return {str(k) for k in raw if isinstance(k, (str, int)) and not isinstance(k, bool)}

    sections = ("accounts", "payment_methods", "treasuries", "series", "sales_channels",
                "warehouses")
    written = {section: keys(section) for section in sections}
    written["taxes"] = keys("taxes") | keys("withholdings")
    # and the tax keys of each system section (``systems.shopify.taxes``), for its settings
    systems = data.get("systems")
    for system, body in systems.items() if isinstance(systems, dict) else ():
        raw = body.get("taxes") if isinstance(body, dict) else None
        written[f"systems.{system}.taxes"] = {
            str(k) for k in raw if isinstance(k, (str, int)) and not isinstance(k, bool)
        } if isinstance(raw, dict) else set()
    return written


def holded_targets(data: dict[Any, Any]) -> dict[str, set[str]]:
    """The canonical codes each ``systems.holded`` map names, valid entries or not.

    What must reach Holded is checked against this, so an entry with a bad field (already
    reported) does not also make its canonical code 'have no Holded key'.
    """
    systems = data.get("systems")
    holded = systems.get("holded") if isinstance(systems, dict) else None
    out: dict[str, set[str]] = {}
    for section in SYSTEM_SECTIONS:
        raw = holded.get(section) if isinstance(holded, dict) else None
        codes: set[str] = set()
        for value in raw.values() if isinstance(raw, dict) else ():
            value = value.get("canonical") if isinstance(value, dict) else value
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, (str, int)) and not isinstance(item, bool):
                    codes.add(str(item))
        out[section] = codes
    return out


def parse_systems(r: Reader, raw: Any) -> dict[str, SystemMap]:
    out: dict[str, SystemMap] = {}
    for system, body in (r.mapping(raw, "systems") or {}).items():
        path = join("systems", system)
        if system not in SYSTEMS:
            r.error(path, f"unknown system {system!r}", "one of " + ", ".join(SYSTEMS))
            continue
        section = r.mapping(body, path)
        if section is None:
            continue
        settings = SYSTEM_SETTINGS.get(system, frozenset())
        for key in section:
            owners = [s for s, names in SYSTEM_SETTINGS.items() if key in names and s != system]
            if owners and key not in settings:
                where = " and ".join(owners)
                r.error(join(path, key), f"{key!r} is a setting of the {where} "
                        f"section{'s' if len(owners) > 1 else ''} only",
                        " or ".join(f"{key} under systems.{o}" for o in owners))
        r.unknown_keys({k: v for k, v in section.items()
                        if not any(k in names for names in SYSTEM_SETTINGS.values())},
                       path, {"rounding", *SYSTEM_SECTIONS, *settings})
        rounding = section.get("rounding", "line")
        if rounding not in ROUNDINGS:
            r.error(join(path, "rounding"), f"got {rounding!r}", "line, line_exact or document")
            rounding = "line"
        maps = {name: _code_map(r, system, name, section.get(name), join(path, name))
                for name in SYSTEM_SECTIONS if name in section}
        if "account_numbers" in settings and "account_numbers" in section:
            maps["account_numbers"] = _code_map(r, system, "account_numbers",
                                                section["account_numbers"],
                                                join(path, "account_numbers"))
        if "stock_warehouse" in settings and section.get("stock_warehouse") is not None:
            maps["stock_warehouse"] = r.code(section["stock_warehouse"],
                                             join(path, "stock_warehouse"))
        if "default_product_tax" in settings and section.get("default_product_tax") is not None:
            maps["default_product_tax"] = r.code(section["default_product_tax"],
                                                 join(path, "default_product_tax"))
        out[system] = SystemMap(system, rounding, **maps)
    return out


def _code_map(r: Reader, system: str, section: str, raw: Any, path: str) -> CodeMap:
    entries = []
    for key, value in (r.mapping(raw, path, required=False) or {}).items():
        entry = _entry(r, system, section, key, value, join(path, key))
        if entry is not None:
            entries.append(entry)
    return CodeMap(tuple(entries))


def _entry(r: Reader, system: str, section: str, key: Any, value: Any, path: str
           ) -> SystemEntry | None:
    code = _system_code(r, system, section, key, path)
    if isinstance(value, (str, list)):
        value = {"canonical": value}
    body = r.mapping(value, path)
    if body is None:
        return None
    allowed = {"canonical", "outbound"} | ({"rate", "title"} if section == "taxes" else set())
    r.unknown_keys(body, path, allowed)
    canonical = _canonical_codes(r, body.get("canonical"), join(path, "canonical"))
    rate = None
    if "rate" in body:
        rate = r.decimal(body["rate"], join(path, "rate"))
    outbound = r.boolean(body["outbound"], join(path, "outbound")) if "outbound" in body else None
    title = r.string(body.get("title"), join(path, "title"), required=False)
    if system == "shopify" and section == "taxes" and (title is None or "rate" not in body):
        r.error(path, "Shopify tax lines are matched by title and rate",
                "both title and rate in the entry")
    if code is None or canonical is None:
        return None
    return SystemEntry(code, canonical, rate, outbound, title)


def _system_code(r: Reader, system: str, section: str, key: Any, path: str) -> str | int | None:
    if ((section == "taxes" and system in INT_TAX_KEYS) or section == "account_numbers"
            or (section == "warehouses" and system == "odoo")):  # stock.warehouse ids
        return r.integer(key, path, minimum=1)
    if section == "warehouses" and system == "shopify":  # inventorySetQuantities' locationId
        if not (isinstance(key, str) and SHOPIFY_LOCATION.fullmatch(key)):
            r.error(path, f"got {key!r}", "a Shopify location GID, gid://shopify/Location/<id>")
            return None
        return key
    if section == "warehouses" and system == "sap_b1":  # OWHS WhsCode, nVarChar(8)
        # Text only: YAML reads an unquoted 01 as the integer 1, which names another warehouse.
        if not (isinstance(key, str) and 0 < len(key.strip()) == len(key) <= 8):
            r.error(path, f"got {key!r}", "an SAP B1 WarehouseCode as quoted text of 1 to 8 "
                    "characters, e.g. \"01\"")
            return None
        return key
    if system == "holded" or section in ("currencies", "tax_regimes"):
        return r.string(key, path)
    return r.code(key, path)


def _canonical_codes(r: Reader, raw: Any, path: str) -> tuple[str, ...] | None:
    items = raw if isinstance(raw, list) else [raw]
    codes = [r.code(item, f"{path}[{i}]" if isinstance(raw, list) else path)
             for i, item in enumerate(items)]
    if not codes:
        r.error(path, "no canonical code", "a canonical code or a list of them")
        return None
    return None if None in codes else tuple(c for c in codes if c is not None)
