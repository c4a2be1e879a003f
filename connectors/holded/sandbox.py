"""A strict Holded API sandbox: v1 and v2 contracts over one SQLite store, with fault switches.

Start it in a test::

    server = await start_sandbox(port=0, rate_limit=RateLimit(requests=10, per_seconds=1))
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.get("/invoicing/v1/contacts", headers={"key": "sandbox-key"})
    server.faults.lose_next_writes = 1        # next write commits, its response is lost
    assert await server.count("documents", doc_type="invoice") == 0
    await server.stop()

``server.url`` is the API root (``http://127.0.0.1:PORT/api``); v1 modules hang under
``/invoicing/v1``, ``/accounting/v1``, ``/crm/v1`` and v2 under ``/v2``. It binds
127.0.0.1 only. The sandbox is never more lenient than the reference contract
(shared/reference/holded-api.md); where the reference is unsure it takes the
stricter reading.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from connectors.base.sandbox_serving import HOST, RunningSandbox, listen, run_until_signal
from connectors.holded.sandbox_documents import apply_payments, assign_number
from connectors.holded.sandbox_faults import Faults, RateLimit, RequestRecord, SlidingWindowLimiter
from connectors.holded.sandbox_http import STATE, SandboxState
from connectors.holded.sandbox_middleware import key_id_of, sandbox_middleware
from connectors.holded.sandbox_routes_documents import add_document_routes
from connectors.holded.sandbox_routes_v1 import add_catalogue_routes
from connectors.holded.sandbox_routes_v1_misc import add_misc_routes
from connectors.holded.sandbox_routes_v2 import add_v2_routes
from connectors.holded.sandbox_seed import seed_store
from connectors.holded.sandbox_store import SandboxStore

__all__ = ["Faults", "RateLimit", "RequestRecord", "SandboxServer", "start_sandbox", "serve", "build_app"]

logger = logging.getLogger(__name__)


def build_app(state: SandboxState) -> web.Application:
    app = web.Application(middlewares=[sandbox_middleware])
    app[STATE] = state
    add_catalogue_routes(app)
    add_document_routes(app)
    add_misc_routes(app)
    add_v2_routes(app)
    return app


@dataclass
class SandboxServer(RunningSandbox):
    """The running Holded sandbox."""

    @property
    def v1_url(self) -> str:
        """Base of the v1 invoicing module (``.../api/invoicing/v1``)."""
        return f"{self.url}/invoicing/v1"

    @property
    def v2_url(self) -> str:
        return f"{self.url}/v2"

    @staticmethod
    def key_id(key: str) -> str:
        """The id under which ``requests`` records a key (the key itself is never recorded)."""
        return key_id_of(key)

    async def count(self, collection: str, **fields: Any) -> int:
        """Records of a collection whose fields equal ``fields`` (``doc_type="invoice"``)."""
        return len(await self.state.store.find(collection, **fields))

    async def all(self, collection: str, **fields: Any) -> list[dict[str, Any]]:
        """Stored records (store shape, internal ``_`` fields included), in creation order."""
        return await self.state.store.find(collection, **fields)

    async def get(self, collection: str, record_id: str) -> dict[str, Any] | None:
        return await self.state.store.get(collection, record_id)

    async def insert(self, collection: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Bulk-load records straight into the store (store shape: contacts use ``customId``)."""
        return await self.state.store.insert_many(collection, records)

    async def approve(self, document_id: str) -> dict[str, Any]:
        """What a person approving a draft in Holded's app does (the API has no approve call):
        the document takes its series' next number and is locked. Returns the stored record."""
        async with self.state.store.lock:
            doc = await self.state.store.get("documents", document_id)
            if doc is None or not doc.get("draft"):
                raise ValueError(f"no draft document {document_id}")
            await assign_number(self.state, doc, {})
            apply_payments(doc)
            await self.state.store.put("documents", doc)
        return doc


async def start_sandbox(
    *,
    port: int = 0,
    db_path: str | os.PathLike[str] = ":memory:",
    api_keys: tuple[str, ...] | list[str] = ("sandbox-key",),
    rate_limit: RateLimit | None = RateLimit(requests=100, per_seconds=1.0),
    faults: Faults | None = None,
    seed: bool = True,
    rng_seed: int = 0,
) -> SandboxServer:
    """Start the sandbox on 127.0.0.1:``port`` (0 = a free port). ``rate_limit=None`` disables it.

    The same keys work as v1 ``key`` headers and v2 Bearer tokens (one tenant, two APIs).
    ``rng_seed`` seeds generated ids; ``faults.seed`` seeds the fault draws.
    """
    store = await SandboxStore.open(db_path, seed=rng_seed)
    if seed:
        await seed_store(store)
    state = SandboxState(
        store=store,
        faults=faults if faults is not None else Faults(),
        limiter=SlidingWindowLimiter(rate_limit) if rate_limit is not None else None,
        api_keys={key: key_id_of(key) for key in api_keys},
    )
    runner, bound = await listen(build_app(state), port)
    logger.info("holded sandbox listening on http://%s:%d/api", HOST, bound)
    return SandboxServer(url=f"http://{HOST}:{bound}/api", port=bound, state=state, _runner=runner)


def serve(port: int = 8790, **options: Any) -> None:
    """Run a sandbox until SIGINT/SIGTERM (used by ``holded-sync sandbox holded``)."""

    async def main() -> None:
        server = await start_sandbox(port=port, **options)
        await run_until_signal(
            f"Holded sandbox at {server.url}  (v1: {server.v1_url}, v2: {server.v2_url})\n"
            f"  a worker uses it with HOLDED_API_URL={server.url} "
            f"HOLDED_API_KEY={next(iter(options.get('api_keys') or ('sandbox-key',)))}",
            server.stop)

    asyncio.run(main())
