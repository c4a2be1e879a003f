from __future__ import annotations

import pytest

from connectors.base.identifiers import iban, tax_id


@pytest.mark.parametrize(("raw", "canonical"), [
    ("ES91 2100 0418 4502 0005 1332", "ES9121000418450200051332"),
    (" es9121000418450200051332 ", "ES9121000418450200051332"),
    ("ES91\t2100", "ES912100"), ("", None), ("   ", None), (None, None), (False, None),
])
def test_iban_has_one_spelling(raw, canonical) -> None:
    assert iban(raw) == canonical


@pytest.mark.parametrize(("raw", "canonical"), [
    ("b-12345674", "B12345674"), ("B 12.345.674", "B12345674"), ("ESB12345674", "ESB12345674"),
    ("12345678z", "12345678Z"), ("", None), (" - ", None), (None, None), (False, None),
])
def test_tax_id_has_one_spelling(raw, canonical) -> None:
    assert tax_id(raw) == canonical
