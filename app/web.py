"""Web views on the worker's port: health, readiness and Prometheus metrics."""
from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import TYPE_CHECKING

import faust
from prometheus_client import generate_latest

from app.metrics import METRICS

if TYPE_CHECKING:
    from app.settings import Settings
    from app.webhooks import Receiver

__all__ = ["register_views", "register_webhooks"]

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


def register_webhooks(app: faust.App, settings: Settings, receivers: Mapping[str, Receiver]) -> None:
    """``POST /webhooks/<system>`` (and BC's GET/POST validation handshake)."""
    from app.avro import codec
    from app.topics import TopicNames
    from app.webhooks import deliver

    names = TopicNames(settings)
    change = codec("ChangeEvent")
    topics = {s: app.topic(names.changes(s), key_type=bytes, value_type=bytes, key_serializer="raw",
                           value_serializer="raw", partitions=settings.partitions) for s in receivers}

    @app.page("/webhooks/{system}")
    class Webhooks(faust.web.View):
        async def get(self, request: faust.web.Request, system: str) -> faust.web.Response:
            return await self._handle(request, system, b"")

        async def post(self, request: faust.web.Request, system: str) -> faust.web.Response:
            # The body is read by deliver(), up to this system's own limit (Shopify's is 512
            # KiB, Holded's a setting), and a bigger one is counted as toolarge.
            return await self._handle(request, system, request.content.iter_chunked(64 * 1024))

        async def _handle(self, request: faust.web.Request, system: str,
                          body: AsyncIterable[bytes] | bytes) -> faust.web.Response:
            receiver = receivers.get(system)
            if receiver is None:
                return self.text(f"no webhook receiver for {system!r}", status=404)

            async def publish(event: dict) -> None:
                await topics[system].send(key=event["entity_key"].encode(), value=change.dumps(event))
                METRICS.events.labels(topic=f"changes.{system}", direction="out").inc()
            status, text = await deliver(system, receiver, dict(request.headers),
                                         dict(request.query), request.content_length, body, publish)
            return self.text(text, status=status)
