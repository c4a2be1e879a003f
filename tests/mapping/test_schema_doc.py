"""The published JSON Schema must stay in step with the loader."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.mapping import load_mapping
from app.mapping.checks import CONTACT_TAX_REGIMES
from app.mapping.model import ROUNDINGS, SYSTEMS, TaxKind, TaxRegime, TaxScope
from app.mapping.parse import SYSTEM_SECTIONS, SYSTEM_SETTINGS, TOP_LEVEL_KEYS
from tests.mapping.factories import EXAMPLE, ROOT

SCHEMA = ROOT / "docs" / "mapping.schema.json"


def test_example_validates_with_the_loader() -> None:
    assert load_mapping(EXAMPLE).version >= 1


def test_schema_is_json_with_the_top_level_keys() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    assert set(schema["properties"]) == TOP_LEVEL_KEYS
    assert set(schema["required"]) == {"version", "accounts", "taxes", "systems"}


def test_schema_enums_match_the_model() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert set(schema["properties"]["systems"]["properties"]) == set(SYSTEMS)
    assert set(defs["system"]["properties"]) == {"rounding", *SYSTEM_SECTIONS}
    for system, ref in schema["properties"]["systems"]["properties"].items():
        settings = SYSTEM_SETTINGS.get(system, frozenset())
        name = f"{system}_system" if settings else "system"
        assert ref == {"$ref": f"#/$defs/{name}"}
        assert set(defs[name]["properties"]) == {"rounding", *SYSTEM_SECTIONS, *settings}
        assert defs[name]["additionalProperties"] is False
        assert defs[name]["properties"]["rounding"]["enum"] == list(ROUNDINGS)
    assert defs["tax"]["properties"]["kind"]["enum"] == [k.value for k in TaxKind]
    assert defs["tax"]["properties"]["scope"]["enum"] == [s.value for s in TaxScope]
    assert defs["tax"]["properties"]["regime"]["enum"] == [r.value for r in TaxRegime]
    assert defs["tax_regime"]["enum"] == list(CONTACT_TAX_REGIMES)


def test_example_uses_only_keys_the_schema_names() -> None:
    from app.mapping.yamlload import safe_load

    data = safe_load(EXAMPLE.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert set(data) <= set(schema["properties"])
    for name, system in data["systems"].items():
        ref = schema["properties"]["systems"]["properties"][name]["$ref"].split("/")[-1]
        assert set(system) <= set(schema["$defs"][ref]["properties"])
    for tax in data["taxes"].values():
        assert set(tax) <= set(schema["$defs"]["tax"]["properties"])


def test_guide_embeds_the_complete_example() -> None:
    guide = (ROOT / "docs" / "mappings.md").read_text(encoding="utf-8")
    assert "```yaml\n" + EXAMPLE.read_text(encoding="utf-8") + "```" in guide


def test_example_validates_with_the_schema_and_other_sections_refuse_shopify_settings() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from app.mapping.yamlload import safe_load

    def plain(value):  # JSON's view of the YAML: decimals as numbers, keys as strings
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return float(value) if isinstance(value, Decimal) else value

    validator = jsonschema.Draft202012Validator(
        json.loads(SCHEMA.read_text(encoding="utf-8")))
    data = plain(safe_load(EXAMPLE.read_text(encoding="utf-8")))
    data["systems"]["shopify"]["default_product_tax"] = "IVA 21%"
    assert list(validator.iter_errors(data)) == []
    data["systems"]["odoo"]["default_product_tax"] = "IVA 21%"
    [error] = validator.iter_errors(data)
    assert list(error.path) == ["systems", "odoo"]
