"""HoldedLookup's caches: what one worker remembers of Holded for the life of the process."""
from __future__ import annotations

from types import SimpleNamespace

from connectors.holded.lookup import HoldedLookup


class Contacts:
    """Holded's contact search, counted: every entity key is found, as id-<key>."""

    def __init__(self) -> None:
        self.searches: list[str] = []

    async def find_by_custom_id(self, key: str, lane: str) -> dict:
        self.searches.append(key)
        return {"id": f"id-{key}"}


async def test_found_ids_are_remembered_up_to_a_bound_then_searched_again() -> None:
    contacts = Contacts()
    lookup = HoldedLookup(SimpleNamespace(contacts=contacts), remembered=2)
    for key in ("a", "b", "a", "b"):
        assert await lookup.contact_id(key, "realtime") == f"id-{key}"
    assert contacts.searches == ["a", "b"]  # found once, then remembered
    lookup.remember_contact("c", "id-c")  # written by the sink: "a", the oldest, is forgotten
    assert await lookup.contact_id("c", "realtime") == "id-c"
    assert await lookup.contact_id("b", "realtime") == "id-b"
    assert contacts.searches == ["a", "b"]
    assert await lookup.contact_id("a", "realtime") == "id-a"
    assert contacts.searches == ["a", "b", "a"]  # searched again, nothing wrong remembered


class Products:
    """Holded's product list: one product whose variants have no ids of their own."""

    async def list(self, lane: str):
        yield {"id": "p", "sku": "A", "variants": [{"sku": "A-RED"}, {"sku": "A-BLUE"}]}


async def test_a_scanned_product_and_its_variants_are_all_found() -> None:
    # All three skus name product "p": none of them is an old sku of a renamed product.
    lookup = HoldedLookup(SimpleNamespace(products=Products()))
    found = await lookup.product_ids(["A", "A-RED", "A-BLUE"], "bulk")
    assert found == {"A": "p", "A-RED": "p", "A-BLUE": "p"}
