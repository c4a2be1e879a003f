"""`holded-sync backfill SYSTEM`: one scan of a system, published as bulk-lane changes.

``--since TIME`` reads only what changed since TIME where the system's API can filter on a
change time: the poller starts from a state whose watermark is TIME (no look-back overlap:
the operator's time is the boundary). Per system (see docs/operations.md):

- odoo: ``write_date >= TIME`` on every model.
- business_central: ``$filter=lastModifiedDateTime ge TIME``.
- sap_b1: ``UpdateDate``/``UpdateTime`` (server-local) on business partners, items and
  invoices; IncomingPayments has no change time and is read whole (its id high-water mark).
- prestashop: ``filter[date_upd]=[TIME,now]`` on customers, addresses, products and orders;
  order invoices and payments have no update date and are read whole.
- shopify: search query ``updated_at:>'TIME'``.
- holded: none (contacts have no change-time filter; documents filter on their own date,
  not on when they changed), so the scan is full and a warning says so.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Awaitable
from typing import TypeVar

import click
from aiokafka import AIOKafkaProducer

from app.avro import codec
from app.connections import Clients, clients, pollers
from app.inspect import read_topic
from app.live_mapping import LiveMapping
from app.metrics import METRICS, system_total
from app.settings import Settings
from app.topics import TopicNames, ensure_topics, kafka_client_options

__all__ = ["failure", "read_scope", "run_backfill", "scan_with_progress", "since_state",
           "unusable_system"]

T = TypeVar("T")

# The setting holding each system's address, named when the address cannot be used.
URL_SETTING = {"holded": "HOLDED_API_URL", "odoo": "ODOO_URL",
               "business_central": "BC_API_URL or BC_TOKEN_URL", "sap_b1": "SAP_B1_BASE_URL",
               "prestashop": "PRESTASHOP_URL", "shopify": "SHOPIFY_SHOP_URL"}
RERUN_SAFE = ("the engine drops changes whose content it already holds, so re-running the "
              "backfill is safe")


def _time_streams(system: str) -> tuple[list[str], list[str]] | None:
    """(streams filterable by change time, streams read whole) of a system's poller; None when
    the system has no change-time filter at all."""
    if system == "odoo":
        from connectors.odoo.walks import ENTITIES
        return list(ENTITIES), []
    if system == "business_central":
        from connectors.business_central.source import STREAMS as BC
        return list(BC), []
    if system == "sap_b1":
        from connectors.sap_b1.source import STREAMS as SAP
        return ([n for n, s in SAP.items() if s.by != "id"], [n for n, s in SAP.items() if s.by == "id"])
    if system == "prestashop":
        from connectors.prestashop.source import STREAMS as PS
        return [n for n, by in PS.items() if by == "modified"], [n for n, by in PS.items() if by == "id"]
    if system == "shopify":
        from connectors.shopify.source import STREAMS as SHOP
        return list(SHOP), []
    return None


def since_state(system: str, since: dt.datetime) -> tuple[str | None, str | None]:
    """(poller state that reads only records changed at or after ``since``, warning). The
    state is None (a full scan) when the system cannot filter on a change time."""
    from connectors.base.polling import PollState

    streams = _time_streams(system)
    if streams is None:
        return None, (f"{system} has no changed-since filter in its API: reading everything "
                      "(the engine drops what it already knows)")
    filtered, whole = streams
    state = PollState(watermark=since, overlap_seconds=0.0).to_json()
    warning = (f"{system}: {', '.join(whole)} cannot be filtered by change time and are read whole"
               if whole else None)
    return json.dumps({name: state for name in filtered}), warning


def unusable_system(system: str, configured: list[str]) -> str | None:
    """Why ``system`` cannot be backfilled (unknown, or not in HOLDED_SYNC_SYSTEMS), or None."""
    from app.connections import SETTINGS_OF

    if system in configured:
        return None
    if system not in SETTINGS_OF:
        return (f"unknown system {system!r}: the systems are {', '.join(sorted(SETTINGS_OF))} "
                f"(configured here: {', '.join(configured) or 'none'})")
    return (f"system {system!r} is not configured: it is not in HOLDED_SYNC_SYSTEMS="
            f"{','.join(configured)} (add it, with its settings, to backfill it)")


def read_scope(system: str, since: dt.datetime | None) -> str:
    """What a backfill of ``system`` from ``since`` really reads, for the summary line."""
    if since is None:
        return "everything"
    state, _ = since_state(system, since)
    if state is None:
        return f"everything ({system} cannot filter by change time)"
    _, whole = _time_streams(system) or ([], [])
    extra = f"; {', '.join(whole)} read whole" if whole else ""
    return f"changed since {since.isoformat(timespec='seconds')}{extra}"


def failure(system: str, error: Exception) -> tuple[str, int]:
    """(one ``error:`` line, exit code) for a connector error that stopped a backfill: 3 when
    the environment or configuration is at fault (credentials refused, host unreachable, the
    company or database not found, a bad URL), 1 otherwise. A transient error says to re-run."""
    import httpx

    from connectors.base.errors import Fault, RetryableError, SkipRecord

    status = error.context.status if getattr(error, "context", None) is not None else None
    unreachable = isinstance(error.__cause__, httpx.TransportError)
    config = (getattr(error, "fault", None) == Fault.CONFIG or unreachable
              or (isinstance(error, SkipRecord) and status == 404))
    line = f"error: {system}: {error}"
    line = line.replace("the system's URL setting", URL_SETTING.get(system, "its URL setting"))
    if isinstance(error, RetryableError):
        line += (f"; this may be transient: nothing was published, re-run the backfill when "
                 f"{system} answers again")
    return line, 3 if config else 1


async def scan_with_progress(scan: Awaitable[T], system: str, *, every: float = 0.5,
                             log_every: float = 15.0) -> T:
    """Await ``scan`` (a poll, which publishes nothing until it has read everything), saying
    meanwhile how many API calls it has made: on a terminal a line rewritten in place, in a
    log a line every ``log_every`` seconds. A first scan of a big ERP takes minutes."""
    stream = click.get_text_stream("stderr")
    tty, started, logged = stream.isatty(), time.monotonic(), 0.0
    task = asyncio.ensure_future(scan)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=every)
            took = time.monotonic() - started
            if task.done():
                break
            line = f"scanning {system}: {system_total(METRICS.api_calls, system)} API call(s), {took:.0f}s"
            if tty:
                click.echo(f"\r{line}", nl=False, err=True)
            elif took - logged >= log_every:
                click.echo(line, err=True)
                logged = took
    finally:
        if tty:
            click.echo("\r\033[K", nl=False, err=True)
        if not task.done():
            task.cancel()
    return task.result()


async def run_backfill(settings: Settings, system: str, entities: set[str] | None,
                       since: dt.datetime | None = None) -> Counter:
    """Poll ``system`` from an empty state (everything it holds), or from ``since`` where its
    API can filter on change time, and publish each record with ``lane=bulk``; returns counts
    per entity. Raises LookupError when the system cannot be read (no credentials) or no
    mapping is published."""
    api = clients(settings)  # settings first (IncompleteSettings): a half-configured system
    if system not in api:    # is refused before anything connects to Kafka
        raise LookupError(f"{system} has no credentials configured (see README, Configuration)")
    try:
        return await _backfill(settings, system, api, entities, since)
    finally:
        await api.aclose()


async def _backfill(settings: Settings, system: str, api: Clients, entities: set[str] | None,
                    since: dt.datetime | None) -> Counter:
    await ensure_topics(settings)
    live = LiveMapping()
    for rec in await read_topic(settings, TopicNames(settings).mappings):
        if rec.value is not None:
            live.offer(rec.value)
    if live.version is None:
        raise LookupError("no mapping published yet: run `holded-sync mappings publish FILE` first")
    poller = pollers(settings, live, api).get(system)
    if poller is None:
        raise LookupError(f"{system} has no credentials configured (see README, Configuration)")
    state = None
    if since is not None:
        state, warning = since_state(system, since)
        if warning:
            click.echo(f"warning: {warning}", err=True)
    click.echo(f"scanning {system}, {read_scope(system, since)} (mapping v{live.version})...",
               err=True)
    _, events = await scan_with_progress(poller.poll(state, dt.datetime.now(dt.timezone.utc)), system)
    chosen = [e for e in events if entities is None or e["entity"] in entities]
    change = codec("ChangeEvent")
    topic = TopicNames(settings).changes(system)
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all", enable_idempotence=True,
                                linger_ms=10)
    counts: Counter = Counter()
    try:
        await producer.start()  # in the try: a failed start is stopped too
        pending = []
        with click.progressbar(chosen, label="publishing", file=click.get_text_stream("stderr")) as bar:
            for event in bar:
                event = {**event, "lane": "bulk"}
                pending.append(await producer.send(topic, key=event["entity_key"].encode(),
                                                   value=change.dumps(event)))
                counts[event["entity"]] += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return counts
