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


class NoServices:
    async def list(self, lane: str):
        return
        yield


async def test_a_scanned_product_and_its_variants_are_all_found() -> None:
    # All three skus name product "p": none of them is an old sku of a renamed product.
    lookup = HoldedLookup(SimpleNamespace(products=Products(), services=NoServices()))
    services, found = await lookup.catalogue_ids(["A", "A-RED", "A-BLUE"], "bulk")
    assert found == {"A": "p", "A-RED": "p", "A-BLUE": "p"} and services == {}


class Catalogue:
    """Holded's product and service lists, each listing counted."""

    def __init__(self, products: list[dict], services: list[dict]) -> None:
        self.rows = {"products": products, "services": services}
        self.listed: list[str] = []

    def lister(self, name: str):  # type: ignore[no-untyped-def]
        async def list_(lane: str):  # type: ignore[no-untyped-def]
            self.listed.append(name)
            for row in self.rows[name]:
                yield row
        return SimpleNamespace(list=list_)


def catalogue_lookup(catalogue: Catalogue) -> HoldedLookup:
    return HoldedLookup(SimpleNamespace(products=catalogue.lister("products"),
                                        services=catalogue.lister("services")))


async def test_document_skus_resolve_services_first_and_scan_only_for_unknown_skus() -> None:
    catalogue = Catalogue(
        products=[{"id": "p1", "sku": "SKU-1"}],
        services=[{"id": "s1", "desc": "Por horas\nhs-sku:CONS-H"},
                  {"id": "s2", "desc": "hecho a mano en Holded"}])
    lookup = catalogue_lookup(catalogue)
    assert await lookup.catalogue_ids(["CONS-H"], "realtime") == ({"CONS-H": "s1"}, {})
    assert catalogue.listed == ["services"]  # found there: the big products list is not read
    found = await lookup.catalogue_ids(["CONS-H", "SKU-1", "NOPE"], "realtime")
    assert found == ({"CONS-H": "s1"}, {"SKU-1": "p1"})
    assert catalogue.listed == ["services", "services", "products"]
    assert await lookup.catalogue_ids(["CONS-H", "SKU-1"], "realtime") == found
    assert catalogue.listed == ["services", "services", "products"]  # all cached: no call


async def test_a_service_remembered_under_a_new_sku_is_not_found_by_its_old_one() -> None:
    lookup = catalogue_lookup(Catalogue(products=[], services=[]))
    lookup.remember_service("OLD", "s1")
    lookup.remember_service("NEW", "s1")  # the sku renamed in the ERP, the service updated
    assert await lookup.service_id("NEW", "realtime") == "s1"
    assert await lookup.service_id("OLD", "realtime") is None
    lookup.forget_service("NEW")
    assert await lookup.service_id("NEW", "realtime") is None


async def test_only_a_variant_of_a_product_of_kind_variants_is_a_variant_to_write_stock_to() -> None:
    """The sink writes a variant's stock under its product; any other kind stays unwritten."""
    lookup = catalogue_lookup(Catalogue(products=[
        {"id": "shirt", "kind": "variants", "sku": "", "variants": [{"id": "m", "sku": "CAM-M"}]},
        {"id": "odd", "kind": "pack", "sku": "LOTE", "variants": [{"id": "x", "sku": "LOTE-X"}]},
        {"id": "p1", "kind": "simple", "sku": "SKU-1"}], services=[]))
    assert [await lookup.product_id(s, "bulk") for s in ("CAM-M", "LOTE-X", "LOTE", "SKU-1")] == [
        "m", "x", "odd", "p1"]
    assert [lookup.variant_of(i) for i in ("m", "x", "odd", "p1", "shirt")] == [
        "shirt", None, None, None, None]
    assert [lookup.not_simple(i) for i in ("x", "odd", "p1")] == [
        "variant x of product odd", "product odd of kind pack", None]
