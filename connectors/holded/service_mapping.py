"""Canonical Product of kind ``service`` -> a Holded service (``/invoicing/v1/services``).

Holded keeps services in their own catalogue, apart from products, and document lines
reference them by ``serviceId`` only (holded-api.md 2.3: "Catalogue items are matched only by
sku (products) or serviceId (services)"). The documented body is ``name, desc, tags[], tax,
subtotal, salesChannelId, cost`` (2.2): a service has **no sku** and its list has no
documented filter, so the sink cannot ask Holded for "the service of SKU X".

How a service is found again (a lost create response, a worker without cache) is therefore
ours to carry: the last line of ``desc`` is the marker ``hs-sku:<sku>``. Why there:

- the SKU, not the entity key: the canonical Product is "matched across systems by SKU"
  (schemas/Product.avsc), as Holded products are; two ERPs selling the same service code
  share one Holded service, and invoice lines, which all carry the SKU but not always the
  product key, resolve it the same way;
- ``desc``, not ``tags``: ``desc`` is free text, stored as sent for products and contacts;
  whether Holded normalises tags (case, separators) is undocumented, and a SKU is case
  sensitive. The sink reads every written service back and fails the command, with a
  Conflict, when the marker did not survive, so a Holded that changes ``desc`` is seen at
  once instead of turning into duplicates later;
- not the name: names change in the ERP and collide with services made by hand in Holded.

UNVERIFIED (no source shows it): whether Holded copies a service's ``desc`` onto a document
line whose own ``desc`` is empty (the marker would then print on invoices; the mapping sends
lines with an explicit ``desc: ""``), and the read shape of a service (the sandbox returns the
written fields with ``taxes`` keys, as products do).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from typing import Any

from app.mapping import Mapping, TaxKind
from app.mapping.resolve import Resolver
from connectors.holded.mapping import HoldedRequest, catalogue_vat

__all__ = ["MARKER_PREFIX", "expected_vat_keys", "is_service", "map_service", "service_marker",
           "sku_of_service"]

MARKER_PREFIX = "hs-sku:"


def is_service(product: MappingABC[str, Any]) -> bool:
    """A canonical Product the ERP calls a service (schemas/Product.avsc ``kind``)."""
    return product.get("kind") == "service"


def service_marker(sku: str) -> str:
    return f"{MARKER_PREFIX}{sku}"


def sku_of_service(service: MappingABC[str, Any]) -> str | None:
    """The SKU a Holded service carries in its ``desc`` marker, if it is one of ours.

    The text after the *last* marker prefix, stripped: a description that happens to quote a
    marker earlier cannot shadow the real one, which the mapping always writes last."""
    desc = str(service.get("desc") or "")
    head, prefix, sku = desc.rpartition(MARKER_PREFIX)
    if not prefix or (head and not head[-1].isspace()):
        return None
    return sku.strip() or None


def map_service(product: MappingABC[str, Any], *, mapping: Mapping) -> HoldedRequest:
    """``POST /services`` for a canonical service: the documented fields only.

    ``subtotal`` is the net unit price, ``tax`` the whole VAT rate (the documented field; no
    source documents a ``taxes`` key list for services, and Holded drops unknown fields).
    Raises Unmappable as :func:`map_product` does, for the same reasons.
    """
    r = Resolver(mapping, "holded")
    _, vat_rate = catalogue_vat(product, r)
    r.raise_if_any()
    description = (product.get("description") or "").rstrip()
    marker = service_marker(str(product["sku"]))
    body: dict[str, Any] = {
        "name": product["name"],
        "desc": f"{description}\n{marker}" if description else marker,
        "subtotal": product["price"],
    }
    if vat_rate is not None:
        body["tax"] = int(vat_rate)
    if product.get("cost") is not None:
        body["cost"] = product["cost"]
    return HoldedRequest("POST", "/services", body, mapping.version)


def expected_vat_keys(product: MappingABC[str, Any], *, mapping: Mapping) -> list[str]:
    """The Holded VAT key of the service, to compare with what Holded read back: only the VAT,
    since ``tax`` (the one documented tax field of a service) carries nothing else."""
    keys, _ = catalogue_vat(product, Resolver(mapping, "holded"))
    taxes = mapping.systems["holded"].taxes
    return [key for key in keys if (code := taxes.to_canonical(key)) is not None
            and (tax := mapping.taxes.get(code)) is not None and tax.kind is TaxKind.VAT]
