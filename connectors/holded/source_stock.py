"""The stock half of a Holded poll run (``read_stock``): every warehouse's levels, read once.

API cost per run: ``GET /warehouses`` once, then ``GET /warehouses/{id}/stock`` once per
warehouse, whatever the number of products (never one stock read per product); every request
goes through the client's rate limiter like the rest of the run. Warehouses the mapping does
not name are read too: their levels are needed to check each product's levels against its own
``stock`` total (connectors.holded.inbound_products), though they are not reported. They are
named in one log line per run, so a warehouse someone forgot to map shows up in the logs.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from app.mapping import Mapping
from connectors.base.limiter import Lane
from connectors.holded.inbound import SYSTEM

__all__ = ["read_stock_table"]

logger = logging.getLogger(__name__)


async def read_stock_table(client: Any, mapping: Mapping, lane: Lane
                           ) -> dict[str, dict[str, Decimal]]:
    """Holded warehouse id -> item id -> units, for every warehouse Holded lists."""
    system = mapping.system(SYSTEM)
    table: dict[str, dict[str, Decimal]] = {}
    unmapped: list[str] = []
    async for warehouse in client.warehouses.list(lane=lane):
        warehouse_id = str(warehouse["id"])
        table[warehouse_id] = await client.warehouses.levels(warehouse_id, lane=lane)
        if system is None or system.warehouses.to_canonical(warehouse_id) is None:
            unmapped.append(f"{warehouse_id} ({warehouse.get('name') or 'no name'})")
    if unmapped:
        logger.info("holded warehouse(s) not in systems.holded.warehouses of mapping v%s, "
                    "read only to check product totals, their stock not reported: %s",
                    mapping.version, ", ".join(unmapped))
    return table
