"""Pollers: each system's incremental source, run on the cluster's leader worker.

A poll run returns change events and its new state (a watermark, content hashes); the events
are published to ``changes.<system>`` and only then is the new state written to the compacted
``poller-state`` topic. A failed run publishes nothing and keeps the old state, so the
watermark never passes a failure; a crash between the two writes repeats a run, whose events
the canonical agent drops as duplicates. A new leader reads the state and resumes.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import faust

from app.avro import codec
from app.connections import Poller
from app.inspect import read_topic
from app.metrics import METRICS
from app.system_health import HEALTH
from app.settings import Settings
from app.topics import TopicNames

__all__ = ["register_pollers", "register_subscriptions"]

log = logging.getLogger(__name__)
CHANGE = codec("ChangeEvent")


def register_subscriptions(app: faust.App, settings: Settings, api: Mapping[str, Any]) -> None:
    """Business Central pushes changes only to live subscriptions: the leader creates them
    and renews them before BC's 3-day expiry (checked every ``subscription_check_s``)."""
    bc = settings.business_central
    if "business_central" not in api or not (bc.notification_url and bc.client_state):
        return
    from connectors.business_central.source import SubscriptionKeeper

    keeper = SubscriptionKeeper(api["business_central"], bc.notification_url,
                                bc.client_state.get_secret_value())

    @app.timer(bc.subscription_check_s, on_leader=True)
    async def keep_subscriptions() -> None:
        try:
            done = await keeper.ensure(dt.datetime.now(dt.timezone.utc))
        except Exception as exc:  # retried at the next tick; polling covers the gap
            log.warning("business_central subscriptions not ensured: %s", exc)
            return
        if done:
            log.info("business_central subscriptions: %s", ", ".join(done))


def register_pollers(app: faust.App, settings: Settings, pollers: Mapping[str, Poller]) -> None:
    if not pollers:
        return
    names = TopicNames(settings)
    state_topic = app.topic(names.poller_state, key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw", partitions=1)
    changes = {s: app.topic(names.changes(s), key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw",
                            partitions=settings.partitions) for s in pollers}
    states: dict[str, str | None] = {}

    async def saved_states() -> dict[str, str | None]:
        if not states:
            for rec in await read_topic(settings, names.poller_state):
                states[rec.key] = rec.value.decode() if rec.value is not None else None
            for system in pollers:
                states.setdefault(system, None)
        return states

    @app.timer(settings.poll_interval_s, on_leader=True)
    async def poll_all() -> None:
        current = await saved_states()
        for system, poller in pollers.items():
            try:
                new_state, events = await poller.poll(current[system], dt.datetime.now(dt.timezone.utc))
            except Exception as exc:  # a failed run keeps its state: the next run retries it
                log.warning("%s poll failed, will retry: %s", system, exc)
                HEALTH.poll(system, error=f"{type(exc).__name__}: {exc}"[:300])
                continue
            for event in events:
                await changes[system].send(key=event["entity_key"].encode(), value=CHANGE.dumps(event))
            METRICS.events.labels(topic=f"changes.{system}", direction="out").inc(len(events))
            await state_topic.send(key=system.encode(), value=new_state.encode())
            current[system] = new_state
            HEALTH.poll(system, events=len(events))
            if events:
                log.info("%s poll: %d change(s)", system, len(events))
