"""The mapping engine: customer-owned mapping documents and pure canonical -> system mapping.

Pure by design (design.md §10): no Faust, no HTTP, no clock. Load a document with
``load_mapping``; map records with the functions of each connector's ``mapping`` module, which
use ``Resolver`` and ``compute_totals`` from here.
"""

from __future__ import annotations

from app.mapping.errors import Issue, MappingError, MappingInvalid, TotalsMismatch, Unmappable
from app.mapping.loader import load_mapping, load_mapping_text, parse_mapping, read_mapping_text
from app.mapping.model import Mapping, SystemMap, Tax, TaxKind, TaxRegime, TaxScope

__all__ = [
    "Issue",
    "Mapping",
    "MappingError",
    "MappingInvalid",
    "SystemMap",
    "Tax",
    "TaxKind",
    "TaxRegime",
    "TaxScope",
    "TotalsMismatch",
    "Unmappable",
    "load_mapping",
    "load_mapping_text",
    "parse_mapping",
    "read_mapping_text",
]
