"""Find records the engine wrote to Holded by their external id (design.md section 4, check 3).

Holded has no idempotency keys and no search on external ids except ``customId`` on contacts,
so each kind of record is found its own way:

- contacts: ``GET /contacts?customId[]=<entity key>`` (the mapping writes ``CustomId``);
- products: by ``sku``, which cannot be filtered on the server: a full catalogue scan;
- services: by the ``hs-sku:<sku>`` marker in ``desc`` (services have no sku and no
  documented list filter; see :mod:`connectors.holded.service_mapping`): a full scan of the
  services catalogue, kept whole like the products one;
- documents: the list of the document's date window (``starttmp``/``endtmp``, ``contactid``)
  filtered on the custom field ``holded_sync_key`` = entity key;
- payments: the payments of the payment's date window whose ``desc`` carries the marker
  ``hs:<entity key>``.

Only **positive** answers are cached (an id found or written stays valid); a "not found"
always comes from a request that started after the question was asked, so a create whose
response was lost is seen on the next attempt. One lookup serves a credential for the life
of the worker, so the contact and document caches keep only the most recently written
``REMEMBERED`` ids each (a forgotten one is searched again); the catalogue is kept whole, as
a scan reads it whole anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.core.keys import EntityKey, KeyError_
from connectors.base.limiter import Lane
from connectors.holded.client import HoldedClient
from connectors.holded.errors import SYSTEM
from connectors.holded.mapping import SYNC_KEY_FIELD, payment_marker
from connectors.holded.service_mapping import sku_of_service

__all__ = ["DAY", "DocumentRef", "HoldedLookup", "SingleFlight", "sync_key_of"]

logger = logging.getLogger(__name__)

DAY = 86_400
REMEMBERED = 50_000  # ids per cache: about 12 MB each when full


class _Recent(dict):
    """A dict of at most ``size`` keys; the least recently written goes first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: Any, value: Any) -> None:
        self.pop(key, None)
        super().__setitem__(key, value)
        if len(self) > self.size:
            del self[next(iter(self))]


@dataclass(frozen=True, slots=True)
class DocumentRef:
    doc_type: str
    document_id: str


def _born_in_holded(entity_key: str) -> str | None:
    try:
        return EntityKey.parse(entity_key).id_in(SYSTEM)
    except KeyError_:
        return None


def sync_key_of(document: dict[str, Any]) -> str | None:
    """The entity key a document carries in its ``holded_sync_key`` custom field."""
    for entry in document.get("customFields") or []:
        if isinstance(entry, dict) and entry.get("field") == SYNC_KEY_FIELD:
            return str(entry.get("value"))
    return None


class SingleFlight:
    """One scan at a time, shared by every caller whose question predates the scan's start.

    ``await run_after()`` returns once a scan that *started after the call* has finished:
    callers that arrive while a scan runs wait for it and then share the next one.
    """

    def __init__(self, scan: Callable[[Lane], Awaitable[None]]) -> None:
        self._scan = scan
        self._started = 0
        self._task: asyncio.Task[None] | None = None
        self._task_no = 0

    @property
    def scans(self) -> int:
        return self._started

    async def run_after(self, lane: Lane) -> None:
        needed = self._started + 1
        while True:
            if self._task is None or self._task.done():
                self._started += 1
                self._task_no = self._started
                self._task = asyncio.get_running_loop().create_task(self._scan(lane))
            task, number = self._task, self._task_no
            await asyncio.shield(task)
            if number >= needed:
                return


class HoldedLookup:
    """Holded ids by entity key or sku, for one Holded credential."""

    def __init__(self, client: HoldedClient, remembered: int = REMEMBERED) -> None:
        self._client = client
        self._contacts: dict[str, str] = _Recent(remembered)
        self._skus = _SkuIndex()
        self._not_simple: dict[str, str] = {}  # item id -> what it is, when no simple product
        self._variants: dict[str, str] = {}  # variant id -> its product of kind variants
        self._documents: dict[str, DocumentRef] = _Recent(remembered)
        self._catalogue = SingleFlight(self._scan_products)
        self._services = _SkuIndex()
        self._service_catalogue = SingleFlight(self._scan_services)

    @property
    def catalogue_scans(self) -> int:
        return self._catalogue.scans

    @property
    def service_scans(self) -> int:
        return self._service_catalogue.scans

    # -- remember what was written or found ---------------------------------------------
    def remember_contact(self, entity_key: str, contact_id: str) -> None:
        self._contacts[entity_key] = contact_id

    def remember_product(self, sku: str, product_id: str) -> None:
        """``sku`` is now the sku of ``product_id``: any other sku cached for that id is its
        old one (renamed in the ERP), and must not find this product again."""
        self._skus.remember(sku, product_id)

    def remember_variant(self, sku: str, product_id: str, variant_id: str) -> None:
        """``sku`` is held by variant ``variant_id`` of ``product_id`` (read from it, as a
        link names it): a later command of the sku finds the variant without a scan."""
        self._skus.remember(sku, variant_id)
        self._variants[variant_id] = product_id
        self._not_simple[variant_id] = f"variant {variant_id} of product {product_id}"

    def remember_document(self, entity_key: str, ref: DocumentRef) -> None:
        self._documents[entity_key] = ref

    def remember_service(self, sku: str, service_id: str) -> None:
        self._services.remember(sku, service_id)

    def forget_product(self, sku: str) -> None:
        self._skus.forget(sku)

    def forget_service(self, sku: str) -> None:
        self._services.forget(sku)

    def forget_contact(self, entity_key: str) -> None:
        self._contacts.pop(entity_key, None)

    def forget_document(self, entity_key: str) -> None:
        self._documents.pop(entity_key, None)

    # -- searches -----------------------------------------------------------------------
    async def contact_id(self, entity_key: str, lane: Lane, *, cached: bool = True) -> str | None:
        """The Holded id of the contact ``entity_key`` names. A contact born in Holded is its id
        (``contact/holded/<id>``): it has no ``customId`` to search, since only contacts our
        sink created carry their key there, so an ERP invoice of such a customer would wait
        for it forever."""
        born = _born_in_holded(entity_key)
        if born is not None:
            return born
        if cached and entity_key in self._contacts:
            return self._contacts[entity_key]
        contact = await self._client.contacts.find_by_custom_id(entity_key, lane=lane)
        if contact is None:
            return None
        self._contacts[entity_key] = found = str(contact["id"])
        return found

    def not_simple(self, item_id: str) -> str | None:
        """What the catalogue scan found ``item_id`` to be when it is no product of kind
        ``simple`` (``variant V of product P``, ``product P of kind pack``), else None. The
        product writer updates simple products only: its update body would make such an item
        simple, or name a variant as a product (a variant of a product of kind ``variants``
        gets its stock alone written: :meth:`variant_of`)."""
        return self._not_simple.get(item_id)

    def variant_of(self, item_id: str) -> str | None:
        """The product of kind ``variants`` whose variant ``item_id`` is, as last read (the
        catalogue scan, or :meth:`remember_variant`); None for any other item."""
        return self._variants.get(item_id)

    async def product_id(self, sku: str, lane: Lane, *, cached: bool = True) -> str | None:
        if cached and sku in self._skus:
            return self._skus[sku]
        await self._catalogue.run_after(lane)
        return self._skus.get(sku)

    async def service_id(self, sku: str, lane: Lane, *, cached: bool = True) -> str | None:
        """The Holded service whose ``desc`` marker names ``sku``."""
        if cached and sku in self._services:
            return self._services[sku]
        await self._service_catalogue.run_after(lane)
        return self._services.get(sku)

    async def catalogue_ids(self, skus: list[str], lane: Lane
                            ) -> tuple[dict[str, str], dict[str, str]]:
        """(services, products) by sku for a document's lines: what is cached first, then one
        services scan, then one products scan, each only for skus still unknown. Services go
        first because their catalogue is the small one, and a service's sku is never in the
        products catalogue: scanning products for it would read them all on every document."""
        def known() -> tuple[dict[str, str], dict[str, str]]:
            services = {s: self._services[s] for s in skus if s in self._services}
            products = {s: self._skus[s] for s in skus if s in self._skus and s not in services}
            return services, products

        services, products = known()
        if len(services) + len(products) < len(skus):
            await self._service_catalogue.run_after(lane)
            services, products = known()
        if len(services) + len(products) < len(skus):
            await self._catalogue.run_after(lane)
            services, products = known()
        return services, products

    async def document(self, doc_type: str, entity_key: str, date: int, contact_id: str | None,
                       lane: Lane, *, cached: bool = True) -> DocumentRef | None:
        """The document of ``entity_key`` dated within a day of ``date`` (epoch seconds)."""
        if cached and entity_key in self._documents:
            return self._documents[entity_key]
        filters = {"starttmp": date - DAY, "endtmp": date + DAY, "contactid": contact_id}
        async for document in self._client.documents(doc_type).list(lane=lane, **filters):
            if sync_key_of(document) == entity_key:
                ref = DocumentRef(doc_type, str(document["id"]))
                self._documents[entity_key] = ref
                return ref
        return None

    async def document_anywhere(self, entity_key: str, doc_types: tuple[str, ...],
                                lane: Lane) -> DocumentRef | None:
        """A document by its sync key alone (no date known): newest first, every page.

        Every document seen on the way is remembered, so a run of payments costs one scan.
        """
        if entity_key in self._documents:
            return self._documents[entity_key]
        for doc_type in doc_types:
            async for document in self._client.documents(doc_type).list(
                    lane=lane, sort="created-desc"):
                key = sync_key_of(document)
                if key is None:
                    continue
                ref = DocumentRef(doc_type, str(document["id"]))
                if key not in self._documents:  # newest first: the first one seen is kept
                    self._documents[key] = ref
                if key == entity_key:
                    return ref
        return None

    async def payment_id(self, entity_key: str, date: int, lane: Lane) -> str | None:
        """The payment whose ``desc`` carries this entity's marker, dated within a day."""
        marker = payment_marker(entity_key)
        async for payment in self._client.payments.list(
                lane=lane, starttmp=date - DAY, endtmp=date + DAY):
            if marker in str(payment.get("desc") or "").split():
                return str(payment["id"])
        return None

    async def _scan_products(self, lane: Lane) -> None:
        seen: dict[str, str] = {}
        not_simple: dict[str, str] = {}
        variants: dict[str, str] = {}
        async for product in self._client.products.list(lane=lane):
            product_id, kind = str(product["id"]), str(product.get("kind") or "simple")
            if kind != "simple":
                not_simple[product_id] = f"product {product_id} of kind {kind}"
            for item in [product, *(product.get("variants") or [])]:
                if item is not product and item.get("id"):
                    not_simple[str(item["id"])] = f"variant {item['id']} of product {product_id}"
                    if kind == "variants":
                        variants[str(item["id"])] = product_id
                if item.get("sku"):
                    seen.setdefault(str(item["sku"]), str(item.get("id") or product_id))
        self._not_simple, self._variants = not_simple, variants
        skus_per_id = Counter(seen.values())
        for sku, product_id in seen.items():
            if skus_per_id[product_id] == 1:
                self.remember_product(sku, product_id)  # drops a renamed product's old sku
            else:  # a product and its variants without ids of their own: every sku is current
                self._skus[sku] = product_id
        logger.debug("catalogue scan: %d skus", len(seen))

    async def _scan_services(self, lane: Lane) -> None:
        seen: dict[str, str] = {}
        async for service in self._client.services.list(lane=lane):
            sku = sku_of_service(service)
            if sku is not None:  # services made by hand in Holded carry no marker
                seen.setdefault(sku, str(service["id"]))
        for sku, service_id in seen.items():
            self._services.remember(sku, service_id)
        logger.debug("services scan: %d marked services", len(seen))


class _SkuIndex(dict):
    """sku -> Holded id (a product's or a service's), where an id re-remembered under a new sku
    drops its old one (a sku renamed in the ERP must not find the item again under the old
    sku). Setting an entry directly records no sku for its id: a product and its variants
    without ids of their own share one id under every sku."""

    def __init__(self) -> None:
        super().__init__()
        self._sku_of: dict[str, str] = {}

    def remember(self, sku: str, item_id: str) -> None:
        stale = self._sku_of.get(item_id)
        if stale is not None and stale != sku and self.get(stale) == item_id:
            del self[stale]
        self[sku] = item_id
        self._sku_of[item_id] = sku

    def forget(self, sku: str) -> None:
        self.pop(sku, None)
