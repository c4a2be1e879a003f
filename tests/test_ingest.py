from __future__ import annotations

import json

import pytest

from app.core.hashing import content_hash
from app.ingest import line_encoding, parse_lines

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
    assert errors[6].startswith("line 6: updated_at: ") and "RFC 3339" in errors[6]  # as the line names it


def test_delete_carries_no_payload():
    [(_, event, error)] = list(parse_lines([json.dumps(
        {"entity": "contact", "id": "C1", "updated_at": "2026-03-02T00:00:00Z", "op": "delete"})], "odoo"))
    assert error is None and event["op"] == "delete" and event["payload"] is None


CAFE = line(id="C-22", data={**CONTACT, "name": "Café"})
PLAIN = {**CONTACT, "name": "Ferreteria Sol SL"}  # ASCII: the same bytes in UTF-8 and cp1252


def mixed_file() -> list[bytes]:
    """A good line, a line as Excel or an ERP exports it in Windows-1252, a good line."""
    return [(line(id="C1", data=PLAIN) + "\n").encode(), (CAFE + "\n").encode("cp1252"),
            (line(id="C2", data=PLAIN) + "\n").encode()]


def test_a_line_that_is_not_utf8_is_reported_and_the_other_lines_kept():
    out = list(parse_lines(mixed_file(), "odoo"))
    assert [(n, ev["source_id"]) for n, ev, e in out if not e] == [(1, "C1"), (3, "C2")]
    [(n, _, error)] = [o for o in out if o[2]]
    assert n == 2
    assert str(error) == (f"line 2: not UTF-8 text (byte 0xe9 at column {CAFE.index('é') + 1}); "
                          "save the file as UTF-8 or pass --encoding cp1252")


def test_the_same_lines_decoded_as_cp1252_all_publish_with_their_accents():
    out = list(parse_lines(mixed_file(), "odoo", encoding="cp1252"))
    assert [e for _, _, e in out] == [None, None, None]
    assert out[1][1]["payload"]["name"] == "Café"


def test_the_column_of_a_bad_byte_counts_characters_and_names_the_encoding():
    raw = '{"name": "Gómez Caf'.encode() + b"\x81\n"  # 0x81 is undefined in cp1252 too
    [(_, _, utf8)] = parse_lines([raw], "odoo")
    assert "(byte 0x81 at column 20)" in str(utf8)
    [(_, _, cp1252)] = parse_lines([raw], "odoo", encoding="cp1252")
    assert "not cp1252 text (byte 0x81 at column 21); is cp1252 the file's encoding?" in str(cp1252)


def test_a_utf8_bom_opening_the_file_is_not_part_of_the_first_record():
    bom = b"\xef\xbb\xbf"
    [(n, event, error)] = parse_lines([bom + line().encode() + b"\r\n"], "odoo")
    assert (n, error) == (1, None) and event["entity_key"] == "contact/odoo/C1"
    assert [n for n, _, _ in parse_lines([bom + b"\n", line().encode()], "odoo")] == [2]
    [(_, _, later)] = parse_lines([b"\n", bom + line().encode()], "odoo")  # only the file's start
    assert "not valid JSON" in str(later)


@pytest.mark.parametrize("name, codec", [("utf-8", "utf-8"), ("CP1252", "cp1252"),
                                         ("latin-1", "iso8859-1"), ("utf-8-sig", "utf-8-sig")])
def test_an_ascii_compatible_encoding_is_accepted(name, codec):
    assert line_encoding(name) == codec


@pytest.mark.parametrize("name, reason", [("cp9999", "unknown encoding 'cp9999'"),
                                          ("base64", "unknown encoding 'base64'"),
                                          ("utf-16", "cannot be read line by line")])
def test_an_encoding_that_cannot_read_lines_is_refused(name, reason):
    with pytest.raises(ValueError, match=reason):
        line_encoding(name)


@pytest.mark.kafka
def test_ingest_publishes_the_good_lines_of_a_file_that_is_not_all_utf8(kafka, tmp_path):
    import asyncio

    from app.avro import codec
    from app.inspect import read_topic
    from app.ingest import ingest_file
    from app.topics import TopicNames, ensure_topics

    settings = kafka.settings(tmp_path)
    asyncio.run(ensure_topics(settings))
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(mixed_file()))
    report = asyncio.run(ingest_file(path, "odoo", settings))
    assert report.published == 2 and [e.line for e in report.errors] == [2]
    assert "not UTF-8 text (byte 0xe9" in str(report.errors[0])
    path.write_bytes(b"".join(mixed_file()))
    report = asyncio.run(ingest_file(path, "odoo", settings, encoding="cp1252"))
    assert report.published == 3 and report.errors == []
    change = codec("ChangeEvent")
    names = [change.loads(r.value)["payload"]["name"]
             for r in asyncio.run(read_topic(settings, TopicNames(settings).changes("odoo")))]
    assert sorted(names) == ["Café"] + ["Ferreteria Sol SL"] * 4


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


def test_a_payment_on_account_needs_its_customer():
    data = {"date": "2026-03-05", "amount": "300.00", "contact_key": "contact/odoo/C1"}
    pay = {"entity": "payment", "id": "P1", "updated_at": "2026-03-05T10:00:00Z"}
    lines = [json.dumps({**pay, "data": data}),
             json.dumps({**pay, "id": "P2", "data": {**data, "contact_key": None}})]
    (_, event, ok), (n, _, error) = parse_lines(lines, "odoo")
    assert ok is None and event["payload"]["invoice_key"] is None  # the default: on account
    assert event["payload"]["contact_key"] == "contact/odoo/C1"
    assert n == 2 and "needs invoice_key" in str(error) and "contact_key" in str(error)
