"""Load and validate a mapping document: YAML text in, a consistent ``Mapping`` or every error out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app.mapping.checks import check_references, check_systems
from app.mapping.errors import Issue, MappingInvalid
from app.mapping.model import Mapping
from app.mapping.parse import (
    TOP_LEVEL_KEYS,
    holded_targets,
    parse_canonical,
    parse_systems,
    written_codes,
)
from app.mapping.reader import Reader
from app.mapping.yamlload import safe_load

__all__ = ["load_mapping", "load_mapping_text", "parse_mapping", "read_mapping_text"]


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate the mapping document at ``path``; raise MappingInvalid with all errors."""
    return load_mapping_text(read_mapping_text(path), source=str(Path(path)))


def read_mapping_text(path: str | Path) -> str:
    """The document's text. It must be UTF-8; a BOM (as Windows editors write) is dropped. A file
    saved as Windows-1252 or Latin-1 is one Issue naming the first bad byte, not a traceback."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MappingInvalid([Issue(str(path), "", f"cannot read file: {exc.strerror}")]) from exc
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # utf-8-sig would shift exc.start
    except UnicodeDecodeError as exc:
        at = exc.start
        line = data.count(b"\n", 0, at) + 1
        before = data[data.rfind(b"\n", 0, at) + 1:at].decode("utf-8")  # valid: the error is later
        column = len(before.removeprefix("\ufeff") if line == 1 else before) + 1
        raise MappingInvalid([Issue(
            str(path), f"line {line}, column {column}",
            f"not UTF-8 text (byte 0x{data[at]:02x} at offset {at}); save the file as UTF-8",
        )]) from None


def load_mapping_text(text: str, *, source: str = "<mapping>") -> Mapping:
    """Validate a mapping document given as YAML text (e.g. read from the mappings topic)."""
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MappingInvalid([Issue(source, where, f"not valid YAML: {exc}")]) from exc
    return parse_mapping(data, source=source)


def parse_mapping(data: Any, *, source: str = "<mapping>") -> Mapping:
    """Validate already-parsed data (a dict, as from YAML or JSON) and build the model."""
    r = Reader(source)
    root = r.mapping(data, "")
    if root is None:
        raise MappingInvalid(r.issues)
    r.unknown_keys(root, "", TOP_LEVEL_KEYS)
    version = r.integer(root.get("version"), "version", minimum=1)
    name = r.string(root.get("name", ""), "name", required=False) if root.get("name") else ""
    canonical = parse_canonical(r, root)
    base_currency = root.get("base_currency", "EUR")
    if not isinstance(base_currency, str):
        r.error("base_currency", f"got {base_currency!r}", "an ISO 4217 code such as EUR")
        base_currency = "EUR"
    canonical["base_currency"] = base_currency
    if "currencies" not in root:
        canonical["currencies"] = (base_currency,)
    systems = parse_systems(r, root.get("systems"))
    written = written_codes(root)
    check_references(r, canonical, _tax_paths(root, canonical["taxes"]), written)
    check_systems(r, canonical, systems, written, holded_targets(root))
    if r.issues or version is None:
        raise MappingInvalid(r.issues)
    return Mapping(version=version, source=source, systems=systems, name=name or "",
                   warnings=tuple(r.warnings), **canonical)


def _tax_paths(root: dict[Any, Any], taxes: dict[str, Any]) -> dict[str, str]:
    """Where each tax was written: ``taxes.<code>`` or ``withholdings.<code>``."""
    withholdings = root.get("withholdings") if isinstance(root.get("withholdings"), dict) else {}
    return {code: f"{'withholdings' if code in withholdings else 'taxes'}.{code}" for code in taxes}
