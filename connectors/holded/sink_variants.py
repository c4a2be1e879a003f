"""An ERP's product whose SKU Holded keeps on a variant: only its stock is written.

A clothing company keeps each size as an item of its own in the ERP (an Odoo
``product.product``, an SAP B1 item) and as a variant of one product of kind ``variants`` in
Holded. The ERP's levels belong on that variant. Holded documents no variant update (its
product create and update bodies carry no variants), so its name, price and taxes stay
Holded's, and the result's note says so; its levels are written by the stock writer, keyed
by the variant's id under its product's path (docs/holded.md sections 8 and 9).

The target is ``<productId>.<variantId>``, as the Holded poller keys the variant
(``product/holded/<productId>.<variantId>``): a dot is in no Holded id, so a link of this
shape is a variant's, and a later command writes to it with no catalogue scan. A link is
trusted only while the variant still holds the command's SKU: Holded's SKU cannot be
written here, so a variant that lost it (renamed in Holded, removed) sends the command back
to the search by SKU.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.base.errors import ConnectorError, Fault
from connectors.holded.errors import NotFound
from connectors.holded.sink_stock import StockItem, StockLevel, write_stock

if TYPE_CHECKING:
    from connectors.holded.sink_writers import Writers, WriteContext, Written

__all__ = ["VariantMoved", "VariantRef", "variant_note", "write_variant"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VariantRef:
    product_id: str
    variant_id: str

    @property
    def target(self) -> str:
        """The link recorded for the command: the product and the variant, as the poller's
        key names them."""
        return f"{self.product_id}.{self.variant_id}"

    @classmethod
    def parse(cls, target: str) -> VariantRef | None:
        product_id, dot, variant_id = target.partition(".")
        if not dot or not product_id or not variant_id or "." in variant_id:
            return None
        return cls(product_id, variant_id)


class VariantMoved(ConnectorError):
    """The variant a fresh search found lost the SKU before it was written (edited in Holded
    meanwhile): nothing is written, and a later run searches again."""

    default_fault = Fault.REMOTE


def variant_note(sku: str, ref: VariantRef) -> str:
    return (f"Holded holds sku {sku!r} as variant {ref.variant_id} of product "
            f"{ref.product_id}: only its stock is written; its name, price and taxes are "
            "Holded's (no documented variant update)")


async def write_variant(w: Writers, ctx: WriteContext, sku: str, ref: VariantRef,
                        levels: list[StockLevel]) -> Written | None:
    """Write ``levels`` to the variant. None, with nothing written, when Holded no longer
    holds ``sku`` on that variant (product gone, variant gone or renamed): the caller
    searches by SKU again."""
    from connectors.holded.sink_writers import Written  # sink_writers imports this module

    try:
        product = await w.client.products.get(ref.product_id, lane=ctx.lane)
    except NotFound:
        return None
    if not _holds(product, ref.variant_id, sku):
        return None
    w.lookup.remember_variant(sku, ref.product_id, ref.variant_id)
    mismatches, _ = await write_stock(w.stock_writer(), StockItem(ref.product_id, ref.variant_id),
                                      levels, ctx.lane)
    return Written(ref.target, mismatches, variant_note(sku, ref))


def _holds(product: MappingABC[str, Any], variant_id: str, sku: str) -> bool:
    if product.get("kind") != "variants":
        return False
    return any(isinstance(v, MappingABC) and str(v.get("id")) == variant_id
               and str(v.get("sku") or "") == sku for v in product.get("variants") or [])
