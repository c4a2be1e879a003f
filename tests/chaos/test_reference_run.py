"""The fault-free run every chaos scenario is compared with must itself be right."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.chaos import tally

pytestmark = pytest.mark.kafka


async def test_fault_free_run_writes_each_entity_once_with_its_totals(reference, workload):
    reference = await reference
    assert reference.duplicates() == 0 and reference.lost(workload) == 0
    assert {k: Decimal(str(v[0]["total"])) for k, v in reference.documents.items()} == workload.totals
    assert len(reference.entities) == workload.entities
    # Only the poison record is dead-lettered, with its reason.
    [(topic, _partition, key, _value, error, reason)] = reference.dlq
    assert (topic, key, error) == ("changes.odoo", b"contact/odoo/POISON", "DecodeError")
    assert "ChangeEvent" in reason
    tally.record("reference", entities=workload.entities, duplicates=0, lost=0)
