"""The Holded sink's writer for canonical products of kind ``service``: Holded services.

Order, as for every record (design.md section 4): the link (``command["target_id"]`` or
``links["holded"]``) is updated; else the services catalogue is searched for the SKU marker
(:mod:`connectors.holded.service_mapping`); only then is a service created, through
``Writers.create_safely``, whose search after an unknown outcome is the same marker search.

Upgrade from versions that wrote services as Holded products of kind ``simple``: such an
item stays a product, and nothing is created twice. A service is treated as one of those
when its link is not a Holded service but is a Holded product, or, with no link (or a dead
one) and no marked service, when a Holded product has its SKU: the command then goes to the
product writer, as before, and its invoice lines keep matching it by ``sku``. Moving one to
Holded's services catalogue is an operator's act, described in docs/holded.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from connectors.base.limiter import Lane
from connectors.holded.errors import NotFound
from connectors.holded.service_mapping import expected_vat_keys, map_service
from connectors.holded.sink_verify import check_service

if TYPE_CHECKING:
    from connectors.holded.sink_writers import Writers, WriteContext, Written

__all__ = ["write_service"]

logger = logging.getLogger(__name__)


async def write_service(w: Writers, ctx: WriteContext) -> Written:
    """Update, find or create the Holded service of ``ctx``; hand legacy products over."""
    from connectors.holded.sink_writers import Written  # sink_writers imports this module

    request = map_service(ctx.payload, mapping=ctx.mapping)
    services, lane, sku = w.client.services, ctx.lane, str(ctx.payload["sku"])
    target, known = None, ctx.known_target
    if known is not None:
        try:
            await services.update(known, request.body, lane=lane)
            target = known
        except NotFound:
            if await _is_product(w, known, lane):
                return await w.simple_product(ctx)  # linked as a product by an older version
            logger.warning("%s: Holded item %s is gone; searching by its sku marker",
                           ctx.key, known)
            w.lookup.forget_service(sku)
            w.lookup.forget_product(sku)  # the legacy product an operator deleted, maybe
    if target is None:
        cached = known is None  # after a dead link, only Holded's answer counts
        target = await w.lookup.service_id(sku, lane, cached=cached)
        if target is not None:
            await services.update(target, request.body, lane=lane)
        elif await w.lookup.product_id(sku, lane, cached=cached) is not None:
            return await w.simple_product(ctx)  # written as a product by an older version
        else:
            target = await w.create_safely(lambda: services.create(request.body, lane=lane),
                                           lambda: w.lookup.service_id(sku, lane))
    w.lookup.remember_service(sku, target)
    stored = await services.get(target, lane=lane)
    vat = expected_vat_keys(ctx.payload, mapping=ctx.mapping)
    return Written(target, check_service(request, stored, sku=sku, vat_keys=vat))


async def _is_product(w: Writers, holded_id: str, lane: Lane) -> bool:
    try:
        await w.client.products.get(holded_id, lane=lane)
    except NotFound:
        return False
    return True
