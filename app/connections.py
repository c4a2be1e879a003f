"""Builds each configured system's sink from the settings: the only place where the worker
meets connector constructors. A factory takes the ledger the sink agent hands it, so each
agent (lane) owns its sink object.
"""
from __future__ import annotations

from collections.abc import Callable

import httpx

from app.live_mapping import LiveMapping
from app.mapping import Mapping, Unmappable
from app.settings import Settings
from connectors.base.contracts import Ledger, Sink
from connectors.base.limiter import RateLimit, TokenBucket

__all__ = ["SinkFactory", "held_fields", "sink_factories"]

SinkFactory = Callable[[Ledger], Sink]
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _provider(live: LiveMapping) -> Callable[[], Mapping]:
    def current() -> Mapping:
        if live.version is None:  # parked, and re-driven when a mapping is published
            raise Unmappable(["no mapping has been published yet (holded-sync mappings publish FILE)"])
        return live.current
    return current


def sink_factories(settings: Settings, live: LiveMapping) -> dict[str, SinkFactory]:
    factories: dict[str, SinkFactory] = {}
    mapping = _provider(live)
    if "holded" in settings.systems and settings.holded.api_key:
        from connectors.holded.client import HoldedClient
        from connectors.holded.sink import HoldedSink

        h = settings.holded
        bucket = TokenBucket(RateLimit(h.requests_per_second, max(1.0, h.requests_per_second)))
        client = HoldedClient(httpx.AsyncClient(timeout=HTTP_TIMEOUT), api_key=h.api_key,
                              base_url=h.api_url, version=h.api_version, limiter=bucket)
        factories["holded"] = lambda ledger: HoldedSink(client, mapping, ledger)
    if "odoo" in settings.systems and settings.odoo.api_key:
        from connectors.odoo.client import OdooClient
        from connectors.odoo.sink import OdooSink

        o = settings.odoo
        odoo = OdooClient(httpx.AsyncClient(timeout=HTTP_TIMEOUT), base_url=o.url, db=o.db,
                          login=o.login, api_key=o.api_key, protocol=o.protocol)
        factories["odoo"] = lambda ledger: OdooSink(odoo, mapping(), ledger)
    if "business_central" in settings.systems and settings.business_central.client_secret:
        from connectors.business_central.client import BusinessCentralClient
        from connectors.business_central.sink import BusinessCentralSink

        b = settings.business_central
        bc = BusinessCentralClient(httpx.AsyncClient(timeout=HTTP_TIMEOUT), tenant=b.tenant,
                                   environment=b.environment, company_id=b.company_id,
                                   client_id=b.client_id, client_secret=b.client_secret,
                                   api_url=b.api_url, token_url=b.token_url)
        factories["business_central"] = lambda ledger: BusinessCentralSink(
            bc, mapping=mapping, ledger=ledger)
    return factories


def held_fields(settings: Settings) -> dict[str, dict[str, frozenset[str]]]:
    """What each configured system stores of a canonical record (its connector says)."""
    from importlib import import_module

    modules = {"holded": "connectors.holded.inbound", "odoo": "connectors.odoo.mapping",
               "business_central": "connectors.business_central.mapping"}
    out: dict[str, dict[str, frozenset[str]]] = {}
    for system in settings.systems:
        if system in modules:
            declared = import_module(modules[system]).HELD_FIELDS
            out[system] = {entity: frozenset(fields) for entity, fields in declared.items()}
    return out
