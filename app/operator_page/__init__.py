"""The operator web page on the worker's port (``/operator``): conflicts with an override,
parked commands and dead letters with a re-drive, and each system's health and quota use."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import faust

    from app.settings import Settings

__all__ = ["register_operator_page"]


def register_operator_page(app: faust.App, settings: Settings) -> None:
    """Mount the page's routes as faust views (faust passes the aiohttp request through)."""
    import faust

    from app.operator_page.guard import OperatorGuard
    from app.operator_page.model import KafkaOperatorData, secret_values
    from app.operator_page.routes import OperatorRoutes

    routes = OperatorRoutes(KafkaOperatorData(settings), OperatorGuard(settings.operator_token),
                            secret_values(settings))
    by_path: dict[str, dict[str, object]] = {}
    for method, path, handler in routes.table():
        by_path.setdefault(path, {})[method.lower()] = handler
    for path, methods in by_path.items():
        def view_method(handler):
            async def call(self, request, **_kwargs):
                return await handler(request)
            return call
        attrs = {m: view_method(h) for m, h in methods.items()}
        app.page(path)(type(f"Operator{path.replace('/', '_')}", (faust.web.View,), attrs))
