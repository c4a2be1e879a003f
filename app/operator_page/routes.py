"""HTTP side of the operator page: GET renders, POSTs act and redirect back (PRG).

Handlers are plain aiohttp handlers (faust's web driver hands views the aiohttp request), so
unit tests run them on a bare aiohttp application and the worker mounts them as faust views.
"""
from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from app.operator_page.guard import COOKIE, OperatorGuard
from app.operator_page.model import OperatorData, OperatorError, check_dead_letter_ref
from app.operator_page.render import render_login, render_message, render_page

__all__ = ["OperatorRoutes"]

log = logging.getLogger(__name__)
FLASH = "hs_operator_flash"
Handler = Callable[[web.Request], Awaitable[web.Response]]
HTML = "text/html"


def _html(body: str, status: int = 200) -> web.Response:
    resp = web.Response(text=body, status=status, content_type=HTML, charset="utf-8")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"  # no clickjacking of the action buttons
    resp.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; "
                                               "form-action 'self'; frame-ancestors 'none'")
    return resp


def _see_other() -> web.Response:
    """303 back to the page: a reload after an action does not post it again."""
    return web.Response(status=303, headers={"Location": "/operator", "Cache-Control": "no-store"})


def _flash_cookie(text: str) -> str:
    # base64: an outcome quotes external values (any Unicode), a cookie carries ASCII only.
    return base64.urlsafe_b64encode(text[:1000].encode()).decode()


def _flash_text(cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        return base64.urlsafe_b64decode(cookie.encode()).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


class OperatorRoutes:
    def __init__(self, data: OperatorData, guard: OperatorGuard, secrets: Iterable[str] = ()) -> None:
        self.data, self.guard, self.secrets = data, guard, list(secrets)

    def table(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) of every route."""
        return [("GET", "/operator", self.page),
                ("POST", "/operator/login", self.login),
                ("POST", "/operator/conflicts/override", self.override),
                ("POST", "/operator/dlq/redrive", self.redrive_dead_letter),
                ("POST", "/operator/parked/redrive", self.redrive_parked)]

    def aiohttp_app(self) -> web.Application:
        app = web.Application()
        for method, path, handler in self.table():
            app.router.add_route(method, path, handler)
        return app

    def _error(self, title: str, message: str, status: int) -> web.Response:
        return _html(render_message(title, message, self.secrets), status)

    async def page(self, request: web.Request) -> web.Response:
        why = self.guard.may_view(request)
        if why == "sign in":
            return _html(render_login())
        if why:
            return self._error("Not available", why, 403)
        try:
            snap = await self.data.snapshot()
        except Exception as exc:  # Kafka down: say so on the page instead of a bare 500
            log.warning("operator page: cannot read Kafka: %s", exc)
            return self._error("Kafka unreachable", f"cannot read the topics: {exc}", 503)
        token = self.guard.form_token() if self.guard.enabled else None
        read_only = None if self.guard.enabled else (
            "set HOLDED_SYNC_OPERATOR_TOKEN on the worker to enable overrides and re-drives")
        resp = _html(render_page(snap, form_token=token, flash=_flash_text(request.cookies.get(FLASH)),
                                 secrets=self.secrets, read_only_reason=read_only))
        if FLASH in request.cookies:
            resp.del_cookie(FLASH, path="/operator")
        return resp

    async def login(self, request: web.Request) -> web.Response:
        if not self.guard.enabled:
            return self._error("Forbidden", "operator sign-in is disabled: set "
                               "HOLDED_SYNC_OPERATOR_TOKEN on the worker", 403)
        why = self.guard.cross_origin(request)
        form = await request.post()
        if why or not self.guard.token_matches(str(form.get("token", ""))):
            return _html(render_login(f"cross-site sign-in refused: {why}" if why
                                      else "wrong operator token"), 403)
        resp = _see_other()
        resp.set_cookie(COOKIE, self.guard.session_value(), path="/operator", httponly=True,
                        samesite="Strict")
        return resp

    async def _act(self, request: web.Request, required: tuple[str, ...],
                   action: Callable[..., Awaitable[str]]) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        refused = self.guard.refuse_action(request, form)
        if refused:
            return self._error("Forbidden", refused, 403)
        missing = [name for name in required if not form.get(name, "").strip()]
        if missing:
            return self._error("Bad request", f"missing form field(s): {', '.join(missing)}", 400)
        try:
            outcome = await action(*(form[name].strip() for name in required))
        except OperatorError as exc:
            return self._error("Not done", exc.message, 404 if exc.code == 1 else 400)
        except Exception as exc:
            log.warning("operator action failed: %s", exc)
            return self._error("Not done", f"the action failed: {exc}", 503)
        log.info("operator action: %s", outcome)
        resp = _see_other()
        resp.set_cookie(FLASH, _flash_cookie(outcome), path="/operator", httponly=True, samesite="Strict")
        return resp

    async def override(self, request: web.Request) -> web.Response:
        return await self._act(request, ("conflict_id", "take"), self.data.override)

    async def redrive_dead_letter(self, request: web.Request) -> web.Response:
        async def redrive(ref: str) -> str:
            check_dead_letter_ref(ref)  # garbage is a 400, an unknown partition:offset a 404
            return await self.data.redrive_dead_letter(ref)
        return await self._act(request, ("ref",), redrive)

    async def redrive_parked(self, request: web.Request) -> web.Response:
        return await self._act(request, ("system", "command_id"), self.data.redrive_parked)
