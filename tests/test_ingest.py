from __future__ import annotations

import json

import pytest

from app.core.hashing import content_hash
from app.ingest import parse_lines

CONTACT = {"kind": "customer", "name": "Talleres Gómez SL", "tax_id": "B12345678"}


def line(**fields) -> str:
    base = {"entity": "contact", "id": "C1", "updated_at": "2026-03-01T10:00:00Z", "data": CONTACT}
    base.update(fields)
    return json.dumps(base, ensure_ascii=False)


def test_valid_line_becomes_a_change_event_keyed_by_entity_key():
    [(n, event, error)] = list(parse_lines([line()], "odoo"))
    assert n == 1 and error is None
    assert event["entity_key"] == "contact/odoo/C1" and event["source_system"] == "odoo"
    assert event["content_hash"] == content_hash(event["payload"])
    assert event["payload"]["currency"] == "EUR"  # default filled


def test_event_id_is_stable_across_ingests_and_changes_with_content():
    a = next(parse_lines([line()], "odoo"))[1]["event_id"]
    b = next(parse_lines([line()], "odoo"))[1]["event_id"]
    c = next(parse_lines([line(data={**CONTACT, "name": "Otro"})], "odoo"))[1]["event_id"]
    assert a == b != c


def test_explicit_key_resolves_an_event_to_another_systems_entity():
    [(_, event, _)] = list(parse_lines([line(key="contact/odoo/C1")], "holded"))
    assert event["entity_key"] == "contact/odoo/C1" and event["source_system"] == "holded"


def test_invalid_lines_are_reported_with_number_and_reason_and_valid_ones_kept():
    lines = [line(), "", "not json", line(entity="order"), line(data={"kind": "customer"}),
             line(updated_at="yesterday"), line(id="C2")]
    out = list(parse_lines(lines, "odoo"))
    errors = {n: str(e) for n, _, e in out if e}
    assert [ev["entity_key"] for _, ev, e in out if not e] == ["contact/odoo/C1", "contact/odoo/C2"]
    assert set(errors) == {3, 4, 5, 6}
    assert errors[3] == "line 3: not valid JSON: Expecting value: line 1 column 1 (char 0)"
    assert "entity must be one of" in errors[4]
    assert "data.name: required field is missing" in errors[5]
    assert "RFC 3339" in errors[6]


def test_delete_carries_no_payload():
    [(_, event, error)] = list(parse_lines([json.dumps(
        {"entity": "contact", "id": "C1", "updated_at": "2026-03-02T00:00:00Z", "op": "delete"})], "odoo"))
    assert error is None and event["op"] == "delete" and event["payload"] is None


@pytest.mark.kafka
def test_ingest_reports_each_line_it_reads_for_a_progress_bar(kafka, tmp_path):
    import asyncio

    from app.ingest import ingest_file
    from app.topics import ensure_topics

    settings = kafka.settings(tmp_path)
    asyncio.run(ensure_topics(settings))
    path = tmp_path / "five.jsonl"
    path.write_text("\n".join([line(id="C1"), line(id="C2"), "", "not json", line(id="C3")]) + "\n")
    seen: list[int] = []
    report = asyncio.run(ingest_file(path, "odoo", settings, progress=seen.append))
    assert seen == [1, 2, 4, 5]  # the blank line 3 is not a record; the bad line 4 is read
    assert report.published == 3 and [e.line for e in report.errors] == [4]
