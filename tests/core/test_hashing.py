"""Content hashes are persisted (replica hashes, pending writes, command content hashes) and
compared across versions: echo suppression and duplicate detection depend on today's code
hashing a value exactly as the code that stored its hash did. These pins were computed before
the hot path was optimised; they must never change."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.core.hashing import Fingerprint, canonical_json, content_hash, field_hashes
from bench._common import contact

NULL = "74234e98afe7498f"
CONTACT = contact(7, 3)
INVOICE = {
    "number": "F-2026/0001", "date": dt.date(2026, 1, 31), "total": Decimal("121.50"),
    "issued_at": dt.datetime(2026, 1, 31, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    "lines": [{"product_key": "product/holded/P1", "qty": Decimal("2"), "price": Decimal("50.25"),
               "taxes": ["iva_21"]},
              {"product_key": None, "qty": Decimal("0"), "price": Decimal("-0.00"), "taxes": []}],
    "address": {"city": "Málaga", "zip": "29001", "country": "ES"}, "paid": True,
    "notes": "línea \"1\"\n\t€ \u2028", "count": -3}
VIEW = frozenset({"name", "total", "lines"})


@pytest.mark.parametrize("record, whole, fields, view", [
    (CONTACT, "e76a0b0b1670c00d90adefd9e10fe372a91f8fc696820844700f74547aa50c8e",
     {"kind": "2e11f7f6e11df49a", "name": "efc5a44a12f50a27", "trade_name": NULL,
      "tax_id": "75e7c111660a330b", "is_person": "fcbcf165908dd18a", "email": "de9af5e5b1284ab6",
      "phone": NULL, "mobile": NULL, "iban": NULL, "swift": NULL, "address": NULL,
      "tax_regime": "a6f2c6606092db76", "payment_method": NULL, "payment_due_days": "624b60c58c9d8bfb",
      "price_list": NULL, "currency": "87ef325635aa32dd", "language": "14ba00619711fab5",
      "sales_account": NULL, "purchases_account": NULL, "default_taxes": "d389f0e395ea8999",
      "withholding": NULL, "tags": "4f53cda18c2baa0c"},
     "40ab9b10aada067934d5f87324d03d7a7c87eb10b138d49c7136f6b7f18a4474"),
    (INVOICE, "a5731156b2ee38c303bd7c68a9dd1eac901430964187efe36e4b573df1cc0508",
     {"number": "ee17a202f4542160", "date": "68707bd90c3a137e", "total": "2728dc3cd6f949bc",
      "issued_at": "6ea961738a5b77be", "lines": "c5459a74b4aa5459", "address": "98f82ae642262247",
      "paid": "b5bea41b6c623f7c", "notes": "763e4d9e66a0d29e", "count": "615bdd17c2556f82"},
     "e563af48cb4efede5339fd559cb2cf1ea448e0c948b8a97cb59d302425a4a11e"),
    ({}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", {},
     "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
], ids=["contact", "invoice", "empty"])
def test_pinned_hashes(record: dict, whole: str, fields: dict, view: str) -> None:
    for _ in range(2):  # a second pass meets whatever the first one memoised
        assert content_hash(record) == whole
        assert field_hashes(record) == fields
        fingerprint = Fingerprint(record)
        assert fingerprint.view(VIEW).content_hash() == view
        assert fingerprint.content_hash() == whole
        assert fingerprint.field_hashes() == fields


def test_none_and_spelling() -> None:
    assert content_hash(None) == "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
    assert field_hashes(None) == {}
    assert content_hash({"a": Decimal("10.50")}) == content_hash({"a": Decimal("10.5")})
    assert content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1})
    assert canonical_json({"b": [1, None, True], "a": Decimal("0.00")}) == \
        '{"a":{"$dec":"0"},"b":[1,null,true]}'
    with pytest.raises(TypeError):
        canonical_json(1.5)


def test_derived_fingerprint_equals_a_fresh_one() -> None:
    source = dict(CONTACT)
    base = Fingerprint(source)
    merged = {**contact(1, 1), **{k: source[k] for k in ("email", "tags", "name")}, "extra": None}
    derived = base.derive(merged, source)
    fresh = Fingerprint(merged)
    assert derived.content_hash() == fresh.content_hash()
    assert derived.field_hashes() == fresh.field_hashes()
    assert base.derive(source, source).content_hash() == base.content_hash()
