"""The Entra ID token endpoint of the BC sandbox (``client_credentials`` only).

Errors take Entra ID's shape: ``{"error", "error_description", "error_codes", ...}``; a
wrong secret is a 401 ``invalid_client`` (AADSTS7000215), an unknown app a 400
``unauthorized_client`` (AADSTS700016), a scope other than BC's ``.default`` a 400
``invalid_scope`` (AADSTS70011).
"""
from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["SCOPE", "TokenIssuer", "aad_error"]

SCOPE = "https://api.businesscentral.dynamics.com/.default"


def aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    return web.json_response({
        "error": error,
        "error_description": f"AADSTS{code}: {description}\r\nTrace ID: 00000000-0000-0000-0000-"
                             "000000000000\r\nCorrelation ID: 00000000-0000-0000-0000-000000000000",
        "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }, status=status)


@dataclass
class TokenIssuer:
    clients: Mapping[str, str]       # client id -> secret
    ttl: int = 3599
    issued: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (client, exp)
    count: int = 0

    def revoke_all(self) -> None:
        """Every issued token stops working (the API answers 401)."""
        self.issued.clear()

    def client_of(self, token: str, now: float) -> str | None:
        entry = self.issued.get(token)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: "
                             "'grant_type'.")
        try:
            form = await request.post()
        except (UnicodeDecodeError, LookupError):  # bytes not in its charset, or no such charset
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: "
                             "'grant_type'.")
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return aad_error(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant}'.")
        client_id = str(form.get("client_id") or "")
        if client_id not in self.clients:
            return aad_error(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the "
                             "directory.")
        if not pysecrets.compare_digest(str(form.get("client_secret") or ""),
                                        self.clients[client_id]):
            return aad_error(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in "
                             "the request is the client secret value, not the client secret ID.")
        if form.get("scope") != SCOPE:
            return aad_error(400, "invalid_scope", 70011,
                             f"The provided value for the input parameter 'scope' is not valid. "
                             f"The scope {form.get('scope')} is not valid.")
        token = "bc-" + pysecrets.token_urlsafe(24)
        self.issued[token] = (client_id, time.monotonic() + self.ttl)
        self.count += 1
        return web.json_response({"token_type": "Bearer", "expires_in": self.ttl,
                                  "ext_expires_in": self.ttl, "access_token": token})
