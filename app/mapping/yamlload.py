"""A YAML reader that keeps numbers exact and remembers duplicate keys.

PyYAML turns ``5.2`` into a float and silently keeps the last of two equal keys; both would hide
customer mistakes in a tax table. This loader builds floats as ``Decimal`` from the scalar's text
(NaN and infinities stay floats so validation rejects them by path) and builds mappings as
``KeyedDict``, which records each repeated key and its line for the validator to report.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

__all__ = ["KeyedDict", "safe_load"]


class KeyedDict(dict):  # type: ignore[type-arg]
    """A dict that also lists keys repeated in the YAML source, with their 1-based lines."""

    duplicates: list[tuple[Any, int]]

    def __init__(self) -> None:
        super().__init__()
        self.duplicates = []


class _Loader(yaml.SafeLoader):
    """SafeLoader with exact floats and duplicate-key tracking."""


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> Decimal | float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return float(loader.construct_yaml_float(node))  # .inf, .nan, sexagesimal
    return number if number.is_finite() else float(number)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> KeyedDict:
    result = KeyedDict()
    yield result
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, Decimal, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark
            )
        if key in result:
            result.duplicates.append((key, key_node.start_mark.line + 1))
        result[key] = loader.construct_object(value_node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def safe_load(text: str) -> Any:
    """Parse one YAML document with exact floats and duplicate-key tracking."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
