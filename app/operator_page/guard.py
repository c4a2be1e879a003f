"""Who may act on the operator page: one shared operator token, a session cookie derived
from it, a form token against cross-site requests, and a same-origin check.

The worker's port also serves webhooks, so it may well be reachable from outside: without
``HOLDED_SYNC_OPERATOR_TOKEN`` the page is read-only and shown to loopback clients only;
with it, seeing and acting both need the token (typed once into the page's sign-in form).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import SecretStr

__all__ = ["COOKIE", "OperatorGuard"]

COOKIE = "hs_operator"


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class OperatorGuard:
    def __init__(self, token: SecretStr | None) -> None:
        secret = token.get_secret_value() if token is not None else ""
        self._key = secret.encode() if secret else None

    @property
    def enabled(self) -> bool:
        """True when operator actions are allowed at all (a token is configured)."""
        return self._key is not None

    def _derive(self, purpose: bytes) -> str:
        assert self._key is not None
        return hmac.new(self._key, purpose, hashlib.sha256).hexdigest()

    def session_value(self) -> str:
        """The cookie value of a signed-in browser (rotating the token signs everyone out)."""
        return self._derive(b"holded-sync operator session")

    def form_token(self) -> str:
        """The hidden field every action form carries (a cross-site form cannot know it)."""
        return self._derive(b"holded-sync operator form")

    def token_matches(self, typed: str) -> bool:
        return self._key is not None and hmac.compare_digest(typed.encode(), self._key)

    def signed_in(self, request: web.Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return self._key is not None and hmac.compare_digest(cookie, self.session_value())

    def may_view(self, request: web.Request) -> str | None:
        """None when the page may be shown; else why not (the caller shows sign-in or 403)."""
        if self.enabled:
            return None if self.signed_in(request) else "sign in"
        if _is_loopback(request.remote):
            return None
        return ("the operator page is served to localhost only while HOLDED_SYNC_OPERATOR_TOKEN "
                "is unset")

    @staticmethod
    def cross_origin(request: web.Request) -> str | None:
        """Why a POST looks cross-site (Origin, else Referer, names another host), or None."""
        for header in ("Origin", "Referer"):
            value = request.headers.get(header)
            if value:
                host = urlsplit(value).netloc
                if host != request.host:
                    return f"{header} {value!r} is not this page's host {request.host!r}"
                return None
        return None  # not a browser form post (browsers send Origin on every POST)

    def refuse_action(self, request: web.Request, form: Mapping[str, str]) -> str | None:
        """None when this POST may act; else the message of the 403."""
        if not self.enabled:
            return ("operator actions are disabled: set HOLDED_SYNC_OPERATOR_TOKEN on the worker "
                    "to enable them")
        why = self.cross_origin(request)
        if why:
            return f"cross-site form refused: {why}"
        if not self.signed_in(request):
            return "not signed in: open /operator and enter the operator token"
        if not hmac.compare_digest(form.get("form_token", ""), self.form_token()):
            return "the form token is missing or wrong: reload /operator and try again"
        return None
