from __future__ import annotations

from connectors.base.verify import diff_fields, missing_keys, same_value, zero_priced_lines


def test_diff_fields_names_what_was_dropped_or_changed() -> None:
    sent = {"name": "A", "desc": "new", "bogus": 1, "ignored": "x", "CustomId": "k"}
    got = {"name": "A", "desc": "old", "customId": "k"}
    assert diff_fields(sent, got, aliases={"CustomId": "customId"}, ignore={"ignored"}) == [
        "desc", "bogus"]


def test_same_value_rules() -> None:
    assert same_value(21, "21.0")  # Holded returns some numbers as strings
    assert not same_value(21, "abc")
    assert same_value({"city": "Bilbao"}, {"city": "Bilbao", "countryCode": "ES"})
    assert not same_value({"city": "Bilbao"}, {"city": "Getxo"})
    assert same_value([{"a": 1}], [{"a": 1, "id": "x"}])
    assert not same_value([1, 2], [1])
    assert not same_value(True, 1)
    assert not same_value("EUR", "eur")


def test_missing_keys() -> None:
    lines = [{"sku": "A"}, {"sku": "B"}, {"name": "free"}]
    assert missing_keys(lines, "sku", {"A"}) == ["B"]
    assert missing_keys(lines, "sku", {"A", "B"}) == []


def test_zero_priced_lines() -> None:
    sent = [{"sku": "A", "subtotal": 10}, {"name": "free", "subtotal": 0}, {"sku": "C", "price": 3}]
    assert zero_priced_lines(sent, [{"price": 10}, {"price": 0}, {"price": 3}]) == []
    problems = zero_priced_lines(sent, [{"price": 10}, {"price": 0}, {"price": "0"}])
    assert problems == ["line 3 (C) sent at 3.0, stored at 0"]
    assert zero_priced_lines(sent, [{"price": 10}]) != []
