"""A Confluent-compatible Schema Registry, for users whose other Kafka tools read records by
schema id (Kafka Connect, ksqlDB, the Confluent deserializers).

With ``HOLDED_SYNC_SCHEMA_REGISTRY_URL`` set, every record this process writes is framed in
the Confluent wire format: byte ``0``, the schema's registry id (4 bytes, big-endian), then
the Avro body (app/avro.py). Schemas are registered under their full record name
(``holdedsync.ChangeEvent``: Confluent's RecordNameStrategy), because ``inbox`` and the DLQ
carry more than one record type and the default topic-named subject would hold only one.

All of it happens before the worker's event loop runs: :func:`connect` registers every current
schema once, at start-up, so writing never waits on the registry. Reading a record written
with a schema this process did not register (an older version, written by an older
deployment) fetches that schema by id, once.
"""
from __future__ import annotations

import json
from typing import Any

import httpx

from app.avro import self_contained
from app.settings import Settings

__all__ = ["Registry", "RegistryError", "connect", "self_contained"]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(RuntimeError):
    """The registry refused or could not be reached (its own message included); ``status``
    is its HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Registry:
    """The few calls of the Schema Registry REST API this engine needs; blocking on purpose
    (see the module docstring), with every id it learns cached."""

    def __init__(self, url: str, *, auth: tuple[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, auth=auth, timeout=timeout,
                                  headers={"Accept": CONTENT_TYPE})
        self._schemas: dict[int, str] = {}

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryError(f"schema registry {self.url} unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = f"{body.get('error_code')}: {body.get('message')}"
            except ValueError:
                detail = response.text[:200]
            raise RegistryError(f"schema registry {method} {path} -> {response.status_code} "
                                f"({detail})", response.status_code)
        return response.json()

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """The id of ``schema`` under ``subject``, registering it if new (the registry checks
        it is compatible with the subject's earlier versions)."""
        text = json.dumps(schema, separators=(",", ":"))
        body = self._call("POST", f"/subjects/{subject}/versions",
                          json={"schema": text}, headers={"Content-Type": CONTENT_TYPE})
        self._schemas[int(body["id"])] = text
        return int(body["id"])

    def schema(self, schema_id: int) -> dict[str, Any]:
        """The schema registered under ``schema_id`` (JSON), fetched once."""
        if schema_id not in self._schemas:
            body = self._call("GET", f"/schemas/ids/{schema_id}")
            if body.get("schemaType", "AVRO") != "AVRO":
                raise RegistryError(f"schema {schema_id} is {body['schemaType']}, not Avro")
            self._schemas[schema_id] = body["schema"]
        return json.loads(self._schemas[schema_id])

    def subjects(self) -> list[str]:
        return list(self._call("GET", "/subjects"))


def connect(settings: Settings) -> Registry | None:
    """Write this process's records with ``settings``' registry, if one is set: every current
    schema is registered now (app.avro.use_registry). None when no registry is set."""
    from app.avro import use_registry

    if not settings.schema_registry_url:
        return None
    password = settings.schema_registry_password
    auth = (settings.schema_registry_username, password.get_secret_value()) \
        if settings.schema_registry_username and password else None
    registry = Registry(settings.schema_registry_url, auth=auth)
    use_registry(registry)
    return registry
