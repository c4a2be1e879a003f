"""Web views on the worker's port: health, readiness and Prometheus metrics."""
from __future__ import annotations

import faust
from prometheus_client import generate_latest

from app.metrics import METRICS

__all__ = ["register_views"]

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"


def register_views(app: faust.App) -> None:
    @app.page("/healthz")
    async def healthz(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # Ready once partitions are assigned and table recovery is done.
        ready = bool(app.rebalancing is False and app.tables.recovery.completed.is_set())
        return web.json({"ready": ready}, status=200 if ready else 503)

    @app.page("/metrics")
    async def metrics(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # aiohttp refuses a charset inside content_type; the text exposition is UTF-8 anyway.
        return web.bytes(generate_latest(METRICS.registry), content_type=METRICS_CONTENT_TYPE)
