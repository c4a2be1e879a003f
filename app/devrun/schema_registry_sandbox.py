"""A strict stand-in for a Confluent Schema Registry: the calls app/schema_registry.py makes,
with the registry's answers, error codes and BACKWARD compatibility check.

- ``POST /subjects/{subject}/versions`` ``{"schema": "..."}`` -> ``{"id": N}``. The same schema
  gets the same id under any subject; a subject's new version must read data written with its
  latest one (409, ``error_code`` 409, otherwise); a schema Avro cannot parse, or another
  ``schemaType``, is 422 / 42201.
- ``GET /schemas/ids/{id}`` -> ``{"schema": "..."}``; 404 / 40403 for an unknown id.
- ``GET /subjects``, ``GET /subjects/{subject}/versions`` (404 / 40401 for an unknown subject).
- Optional HTTP basic auth (401); ``fail_next`` answers that many requests with 500 / 50001.

A blocking server in a thread (``http.server``): the engine's registry client is blocking too,
and calls it outside any event loop, so the sandbox must not share one. Binds 127.0.0.1.
"""
from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fastavro

from app.devrun.avro_compat import incompatibilities

__all__ = ["RegistrySandbox", "start_registry_sandbox"]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass
class RegistryState:
    auth: tuple[str, str] | None = None
    fail_next: int = 0
    schemas: dict[int, str] = field(default_factory=dict)  # id -> schema text as registered
    subjects: dict[str, list[int]] = field(default_factory=dict)  # subject -> ids by version
    lock: threading.Lock = field(default_factory=threading.Lock)

    def id_of(self, text: str) -> int | None:
        wanted = _canonical(text)
        return next((i for i, t in self.schemas.items() if _canonical(t) == wanted), None)


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


class _Handler(BaseHTTPRequestHandler):
    state: RegistryState

    def log_message(self, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: int, message: str) -> None:
        self._send(status, {"error_code": code, "message": message})

    def _refused(self) -> bool:
        state = self.state
        if state.auth is not None:
            expected = "Basic " + base64.b64encode(":".join(state.auth).encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._error(401, 401, "Unauthorized")
                return True
        with state.lock:
            if state.fail_next > 0:
                state.fail_next -= 1
                self._error(500, 50001, "Error in the backend datastore")
                return True
        return False

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self._refused():
            return
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        state = self.state
        with state.lock:
            if parts == ["subjects"]:
                return self._send(200, sorted(state.subjects))
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                text = state.schemas.get(int(parts[2]))
                if text is None:
                    return self._error(404, 40403, f"Schema {parts[2]} not found")
                return self._send(200, {"schema": text})
            if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
                if parts[1] not in state.subjects:
                    return self._error(404, 40401, f"Subject '{parts[1]}' not found.")
                return self._send(200, list(range(1, len(state.subjects[parts[1]]) + 1)))
        self._error(404, 404, "HTTP 404 Not Found")

    def do_POST(self) -> None:  # noqa: N802
        if self._refused():
            return
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if not (len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions"):
            return self._error(404, 404, "HTTP 404 Not Found")
        subject = parts[1]
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            text = body["schema"]
            if body.get("schemaType", "AVRO") != "AVRO":
                raise ValueError(f"schema type {body['schemaType']} is not supported here")
            schema = json.loads(text)
            fastavro.parse_schema(schema)
        except Exception as exc:  # a body or schema Avro cannot take: the registry's 422
            return self._error(422, 42201, f"Invalid schema: {exc}")
        state = self.state
        with state.lock:
            versions = state.subjects.get(subject, [])
            known = state.id_of(text)
            if known is not None and known in versions:
                return self._send(200, {"id": known})
            if versions:
                latest = json.loads(state.schemas[versions[-1]])
                problems = incompatibilities(schema, latest)
                if problems:
                    return self._error(409, 409, "Schema being registered is incompatible with "
                                       f"an earlier schema for subject \"{subject}\": "
                                       + "; ".join(problems))
            if known is None:
                known = max(state.schemas, default=0) + 1
                state.schemas[known] = text
            state.subjects.setdefault(subject, []).append(known)
        self._send(200, {"id": known})


@dataclass
class RegistrySandbox:
    url: str
    state: RegistryState
    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_registry_sandbox(port: int = 0, *, auth: tuple[str, str] | None = None
                           ) -> RegistrySandbox:
    """Serve on 127.0.0.1:``port`` (0: a free one) from a daemon thread until ``stop()``."""
    state = RegistryState(auth=auth)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, name="registry-sandbox", daemon=True)
    thread.start()
    return RegistrySandbox(f"http://127.0.0.1:{server.server_address[1]}", state, server, thread)
