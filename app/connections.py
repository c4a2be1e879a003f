"""Builds each configured system's client, sink and poller from the settings: the only place
where the worker meets connector constructors. A sink factory takes the ledger the sink agent
hands it, so each agent (lane) owns its sink object; sink and poller of one system share one
client, and so one rate limiter per credential.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from app.core.policy import Policy, default_policy
from app.live_mapping import LiveMapping
from app.metrics import METRICS
from app.system_health import HEALTH
from app.mapping import Mapping, Unmappable
from app.settings import HoldedSettings, Settings
from connectors.base.contracts import Ledger, Sink
from connectors.base.limiter import RateLimit, TokenBucket

__all__ = ["CREDENTIAL_SETTING", "NO_ANSWER_STATUSES", "IncompleteSettings", "Poller", "SinkFactory",
           "check_clients", "clients", "configured", "held_fields", "limiter_of", "pollers",
           "reported_view", "sink_factories", "stock_targets", "what_runs"]

SinkFactory = Callable[[Ledger], Sink]


# The status label of a call that got no HTTP answer (others carry the HTTP status code).
NO_ANSWER_STATUSES = ("timeout", "unreachable")


class _CountedFailures(httpx.AsyncBaseTransport):
    """Counts the calls that got no answer at all (status "timeout" or "unreachable"): without
    them a system that stopped answering showed no failed call, only lag."""

    def __init__(self, system: str, inner: httpx.AsyncBaseTransport) -> None:
        self.system, self.inner = system, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            timeout, unreachable = NO_ANSWER_STATUSES
            status = timeout if isinstance(exc, httpx.TimeoutException) else unreachable
            METRICS.api_calls.labels(system=self.system, status=status).inc()
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


def _http(system: str, timeout_s: float = 30.0,
          transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An HTTP client whose every call is counted and timed per system (/metrics)."""
    async def started(request: httpx.Request) -> None:
        request.extensions["holded_sync_t0"] = time.perf_counter()

    async def finished(response: httpx.Response) -> None:
        t0 = response.request.extensions.get("holded_sync_t0")
        if t0 is not None:
            METRICS.api_latency.labels(system=system).observe(time.perf_counter() - t0)
        METRICS.api_calls.labels(system=system, status=str(response.status_code)).inc()
        HEALTH.api_call(system, response.status_code)
        if response.status_code == 429:
            METRICS.api_rate_limited.labels(system=system).inc()

    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
                             transport=_CountedFailures(system, transport or httpx.AsyncHTTPTransport()),
                             event_hooks={"request": [started], "response": [finished]})


def _provider(live: LiveMapping) -> Callable[[], Mapping]:
    def current() -> Mapping:
        if live.version is None:  # parked, and re-driven when a mapping is published
            raise Unmappable(["no mapping has been published yet (holded-sync mappings publish FILE)"])
        return live.current
    return current


class Poller(Protocol):
    """One system's incremental source, with its state as JSON text (kept in a topic)."""

    system: str

    async def poll(self, state: str | None, now: dt.datetime) -> tuple[str, list[dict]]: ...


def holded_poll_config(holded: HoldedSettings) -> Any:
    """The Holded source's PollConfig, from the ``HOLDED_`` settings (docs/holded.md §4, §6)."""
    from connectors.holded.mapping import DOC_TYPES
    from connectors.holded.source import PollConfig

    return PollConfig(doc_types=tuple(DOC_TYPES[kind] for kind in holded.poll_documents),
                      document_overlap=holded.document_overlap,
                      payment_overlap=holded.payment_overlap, rescan_every=holded.rescan_every,
                      payments_on_account=holded.payments_on_account, read_stock=holded.read_stock)


@dataclass
class _HoldedPoller:
    client: Any
    mapping: Callable[[], Mapping]
    config: Any  # connectors.holded.source.PollConfig (holded_poll_config)
    system: str = "holded"

    async def poll(self, state: str | None, now: dt.datetime) -> tuple[str, list[dict]]:
        from connectors.holded.source import PollState, poll_once

        new, events = await poll_once(self.client, PollState.from_json(state), self.mapping(), now,
                                      config=self.config)
        return new.to_json(), events


@dataclass
class _OdooPoller:
    client: Any
    mapping: Callable[[], Mapping]
    system: str = "odoo"

    async def poll(self, state: str | None, now: dt.datetime) -> tuple[str, list[dict]]:
        from connectors.odoo.poll_state import OdooPollState
        from connectors.odoo.source import OdooSource

        source = OdooSource(self.client, self.mapping())
        new, events = await source.poll(OdooPollState.from_json(state), now)
        return new.to_json(), events


@dataclass
class _StreamsPoller:
    """Sources whose state is one PollState per entity set (Business Central, SAP B1, Shopify)."""

    system: str
    make_source: Callable[[], Any]

    async def poll(self, state: str | None, now: dt.datetime) -> tuple[str, list[dict]]:
        import json

        from connectors.base.polling import PollState

        streams = {name: PollState.from_json(text) for name, text in json.loads(state or "{}").items()}
        new, events = await self.make_source().poll(streams, now)
        return json.dumps({name: st.to_json() for name, st in new.items()}), events


class IncompleteSettings(ValueError):
    """A system's credential is set, but the rest of its settings do not make a client."""


# What each system's client reads (README, Configuration), for the error above.
SETTINGS_OF = {
    "holded": "HOLDED_API_URL, HOLDED_API_KEY, HOLDED_API_VERSION",
    "odoo": "ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY, ODOO_PROTOCOL",
    "business_central": "BC_TENANT, BC_ENVIRONMENT, BC_COMPANY_ID, BC_CLIENT_ID, BC_CLIENT_SECRET",
    "sap_b1": "SAP_B1_BASE_URL, SAP_B1_COMPANY_DB, SAP_B1_USERNAME, SAP_B1_PASSWORD",
    "prestashop": "PRESTASHOP_URL, PRESTASHOP_API_KEY",
    "shopify": "SHOPIFY_SHOP_URL, SHOPIFY_ACCESS_TOKEN, SHOPIFY_API_VERSION",
}
# The setting each system's client needs before it exists (see clients() below).
CREDENTIAL_SETTING = {"holded": "HOLDED_API_KEY", "odoo": "ODOO_API_KEY",
                      "business_central": "BC_CLIENT_SECRET", "sap_b1": "SAP_B1_PASSWORD",
                      "prestashop": "PRESTASHOP_API_KEY", "shopify": "SHOPIFY_ACCESS_TOKEN"}


class Clients(dict):
    """System -> API client. :meth:`aclose` closes the HTTP connections they hold: a client
    left open keeps its idle keep-alive sockets until the garbage collector finds them."""

    def __init__(self) -> None:
        super().__init__()
        self.http: list[httpx.AsyncClient] = []

    async def aclose(self) -> None:
        for http in self.http:
            await http.aclose()


def clients(settings: Settings) -> Clients:
    """One API client per configured system, shared by its sink and its poller (and so one
    limiter per credential). A system whose credential is set but whose other settings do not
    make a client raises IncompleteSettings, naming the settings it reads."""
    out = Clients()
    for system in settings.systems:
        try:
            client = _client(system, settings, out.http)
        except ValueError as exc:
            raise IncompleteSettings(f"{system} is not fully configured: {exc} (its settings: "
                                     f"{SETTINGS_OF[system]})") from exc
        if client is not None:
            out[system] = client
    return out


def _client(system: str, settings: Settings, opened: list[httpx.AsyncClient]) -> Any:
    """``system``'s API client, or None when its credential is not set; ``opened`` gets the
    HTTP client it is built on."""
    def http() -> httpx.AsyncClient:
        opened.append(_http(system, settings.api_timeout_s))
        return opened[-1]

    if system == "holded" and settings.holded.api_key:
        from connectors.holded.client import HoldedClient

        h = settings.holded
        # Window mode: each request holds a slot from its send to a window after its response,
        # which bounds every server window exactly (connectors/base/limiter.py), so the burst
        # may be the whole window and a 429 (a server counting otherwise than we think) cuts
        # the rate a little and briefly rather than halving it for a minute.
        per_window = max(1.0, h.requests_per_second * h.rate_window_s)
        bucket = TokenBucket(RateLimit(h.requests_per_second, per_window,
                                       window=h.rate_window_s, jitter=h.rate_jitter_s,
                                       shrink=0.8, recovery=20.0))
        return HoldedClient(http(), api_key=h.api_key,
                            base_url=h.api_url, version=h.api_version, limiter=bucket)
    if system == "odoo" and settings.odoo.api_key:
        from connectors.odoo.client import OdooClient

        o = settings.odoo
        return OdooClient(http(), base_url=o.url,
                          db=o.db, login=o.login, api_key=o.api_key, protocol=o.protocol)
    if system == "business_central" and settings.business_central.client_secret:
        from connectors.business_central.client import BusinessCentralClient

        b = settings.business_central
        return BusinessCentralClient(
            http(), tenant=b.tenant, environment=b.environment,
            company_id=b.company_id, client_id=b.client_id, client_secret=b.client_secret,
            api_url=b.api_url, token_url=b.token_url)
    if system == "sap_b1" and settings.sap_b1.password:
        from connectors.sap_b1.client import SapB1Client

        sap = settings.sap_b1
        return SapB1Client(http(), base_url=sap.base_url,
                           company_db=sap.company_db, username=sap.username,
                           password=sap.password)
    if system == "prestashop" and settings.prestashop.api_key:
        from connectors.prestashop.client import PrestaShopClient

        ps = settings.prestashop
        return PrestaShopClient(
            http(), base_url=ps.url, api_key=ps.api_key,
            limiter=TokenBucket(RateLimit(ps.requests_per_second, max(1.0, ps.requests_per_second))))
    if system == "shopify" and settings.shopify.access_token:
        from connectors.shopify.client import ShopifyClient

        sh = settings.shopify
        return ShopifyClient(http(), shop_url=sh.shop_url,
                             access_token=sh.access_token, api_version=sh.api_version)
    return None


def what_runs(settings: Settings, api: dict[str, Any]) -> list[tuple[int, str]]:
    """(log level, line) per configured system, said once at start: a system without
    credentials runs nothing, and without this line a worker gives no sign of it."""
    lines = []
    for system in settings.systems:
        if system not in CREDENTIAL_SETTING:  # "file" (settings.SYSTEMS): no connector
            lines.append((logging.INFO, f"{system}: no connector, so no poller and no sink run for "
                          f"it; its changes come from `holded-sync ingest FILE --system {system}`"))
            continue
        if system not in api:
            lines.append((logging.WARNING, f"{system}: no credentials ({CREDENTIAL_SETTING[system]} "
                          f"is not set), so no poller and no sink run for it; its commands wait "
                          f"in commands.{system}"))
        elif settings.run_sinks:
            lines.append((logging.INFO, f"{system}: its sink runs, and its poller on the leader"))
        else:
            lines.append((logging.INFO, f"{system}: no sink and no poller run: this worker only "
                          "decides (HOLDED_SYNC_RUN_SINKS=false, a replay's generation)"))
    return lines


def configured(settings: Settings, api: dict[str, Any]) -> dict[str, int]:
    """1 or 0 per connector system of HOLDED_SYNC_SYSTEMS: is its client built (credential set)?
    A 0 is what what_runs() warns about once; as a gauge it can page (HoldedSyncSystemNotConfigured)."""
    return {s: int(s in api) for s in settings.systems if s in CREDENTIAL_SETTING}


def limiter_of(client: Any) -> TokenBucket | None:
    """The token bucket a client's requests pass (on the client or on its transport)."""
    bucket = getattr(client, "limiter", None) or getattr(getattr(client, "transport", None),
                                                         "limiter", None)
    return bucket if isinstance(bucket, TokenBucket) else None


def pollers(settings: Settings, live: LiveMapping, api: dict[str, Any]) -> dict[str, Poller]:
    mapping = _provider(live)
    out: dict[str, Poller] = {}
    if "holded" in api:
        out["holded"] = _HoldedPoller(api["holded"], mapping, holded_poll_config(settings.holded))
    if "odoo" in api:
        out["odoo"] = _OdooPoller(api["odoo"], mapping)
    if "business_central" in api:
        from connectors.business_central.source import BusinessCentralSource

        out["business_central"] = _StreamsPoller("business_central", lambda: BusinessCentralSource(
            api["business_central"], mapping=mapping))
    if "sap_b1" in api:
        from connectors.sap_b1.source import SapB1Source

        out["sap_b1"] = _StreamsPoller("sap_b1", lambda: SapB1Source(
            api["sap_b1"], mapping=mapping, zone=settings.sap_b1.zone,
            direct_rate=settings.sap_b1.direct_rate,
            stock_interval=dt.timedelta(seconds=settings.sap_b1.stock_interval_s)))
    if "prestashop" in api:
        from connectors.prestashop.source import PrestaShopPoller

        out["prestashop"] = PrestaShopPoller(api["prestashop"], mapping,
                                             shop_timezone=settings.prestashop.shop_timezone,
                                             invoice_prefix=settings.prestashop.invoice_prefix)
    if "shopify" in api:
        from connectors.shopify.source import ShopifySource

        out["shopify"] = _StreamsPoller("shopify", lambda: ShopifySource(
            api["shopify"], mapping=mapping, order_documents=settings.shopify.order_documents,
            zone=settings.shopify.shop_timezone))
    return out


def sink_factories(settings: Settings, live: LiveMapping, api: dict[str, Any]) -> dict[str, SinkFactory]:
    factories: dict[str, SinkFactory] = {}
    mapping = _provider(live)
    if "holded" in api:
        from connectors.base.log_once import LogOnce
        from connectors.holded.lookup import HoldedLookup
        from connectors.holded.sink import ApprovalPolicy, DraftPayments, HoldedSink, SinkPolicy

        policy = SinkPolicy(settle_seconds=settings.holded.unknown_outcome_settle_s)
        approval = ApprovalPolicy(frozenset(settings.holded.approve_documents))
        drafts = DraftPayments(settings.holded.pay_drafts)  # one per worker: it logs once
        notices = LogOnce()  # likewise: a sink is built per command
        # One lookup per credential, not per command: the ids it found stay known, so an
        # invoice does not scan the whole catalogue and search its contact again.
        lookup = HoldedLookup(api["holded"])
        factories["holded"] = lambda ledger: HoldedSink(api["holded"], mapping, ledger,
                                                        policy=policy, lookup=lookup,
                                                        approval=approval, drafts=drafts,
                                                        notices=notices)
    if "odoo" in api:
        from connectors.odoo.sink import OdooSink

        factories["odoo"] = lambda ledger: OdooSink(api["odoo"], mapping(), ledger)
    if "business_central" in api:
        from connectors.business_central.sink import BusinessCentralSink

        factories["business_central"] = lambda ledger: BusinessCentralSink(
            api["business_central"], mapping=mapping, ledger=ledger)
    if "sap_b1" in api:
        from connectors.sap_b1.sink import SapB1Sink

        options = {"transfer_account": settings.sap_b1.transfer_account} \
            if settings.sap_b1.transfer_account else {}
        factories["sap_b1"] = lambda ledger: SapB1Sink(api["sap_b1"], mapping=mapping,
                                                       ledger=ledger, zone=settings.sap_b1.zone,
                                                       **options)
    if "prestashop" in api:
        from connectors.prestashop.sink import PrestaShopSink

        factories["prestashop"] = lambda ledger: PrestaShopSink(
            api["prestashop"], mapping, ledger, write_stock=settings.prestashop.write_stock,
            shop_timezone=settings.prestashop.shop_timezone)
    if "shopify" in api:
        from connectors.shopify.sink import ShopifySink

        factories["shopify"] = lambda ledger: ShopifySink(api["shopify"], mapping=mapping, ledger=ledger,
                                                          write_stock=settings.shopify.write_stock)
    return factories


def held_fields(settings: Settings) -> dict[str, dict[str, frozenset[str]]]:
    """What each configured system stores of a canonical record (its connector says)."""
    from importlib import import_module

    modules = {"holded": "connectors.holded.inbound", "odoo": "connectors.odoo.mapping",
               "business_central": "connectors.business_central.mapping",
               "sap_b1": "connectors.sap_b1.mapping",
               "prestashop": "connectors.prestashop.mapping",
               "shopify": "connectors.shopify.mapping"}
    out: dict[str, dict[str, frozenset[str]]] = {}
    for system in settings.systems:
        if system in modules:
            declared = import_module(modules[system]).HELD_FIELDS
            out[system] = {entity: frozenset(fields) for entity, fields in declared.items()}
    return out


def reported_view(settings: Settings, live: LiveMapping) -> Callable[[str, str, dict], dict | None]:
    """What a system will report back after we write a record, where its connector knows
    (Holded fills blanks with its own defaults, Odoo keeps no province); the engine expects
    its echo to match."""
    def view(system: str, entity: str, record: dict) -> dict | None:
        if system == "odoo":
            from connectors.odoo.mapping import as_reported

            return as_reported(entity, record)
        if system != "holded" or live.version is None:
            return None
        from connectors.holded.inbound import HELD_FIELDS, as_held

        if entity not in HELD_FIELDS:
            return None
        return as_held(entity, record, live.current)
    return view


def engine_policy(settings: Settings, live: LiveMapping) -> Policy:
    """The decision policy of this deployment: its ERPs, what each system holds, and what Holded
    reports back under the mapping in force (``live``). The agent and the bulk replay decide
    with the same one."""
    return default_policy(settings.erps, held_fields(settings), reported_view(settings, live),
                          settings.field_owners, stock_targets=stock_targets(settings))


def stock_targets(settings: Settings) -> tuple[str, ...]:
    """The shops products are routed to for their stock: Shopify with SHOPIFY_WRITE_STOCK,
    PrestaShop with PRESTASHOP_WRITE_STOCK, each only when connected. Their sinks write
    nothing of a product but its stock, and nothing at all of a product without levels."""
    wanted = {"shopify": settings.shopify.write_stock,
              "prestashop": settings.prestashop.write_stock}
    return tuple(s for s in settings.erps if wanted.get(s))


def check_clients(settings: Settings) -> None:
    """Raise IncompleteSettings as clients() would, before anything else starts: a worker with
    half a configuration stops at once, without waiting on Kafka first."""
    clients(settings)  # built only to be checked: none has sent a request
