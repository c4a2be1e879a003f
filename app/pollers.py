"""Pollers: each system's incremental source, run on the cluster's leader worker.

A poll run returns change events and its new state (a watermark, content hashes); the events
are published to ``changes.<system>`` and only then is the new state written to the compacted
``poller-state`` topic. A failed run publishes nothing and keeps the old state, so the
watermark never passes a failure; a crash between the two writes repeats a run, whose events
the canonical agent drops as duplicates. A new leader reads the state and resumes.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust

from app.avro import codec
from app.connections import Poller
from app.inspect import read_topic
from app.metrics import METRICS
from app.system_health import HEALTH
from app.settings import Settings
from app.topics import TopicNames

__all__ = ["Polls", "register_pollers", "register_subscriptions"]

log = logging.getLogger(__name__)
CHANGE = codec("ChangeEvent")
FIRST_CHECK_S = 15.0  # a new leader's first look at its Business Central subscriptions


def register_subscriptions(app: faust.App, settings: Settings, api: Mapping[str, Any]) -> None:
    """Business Central pushes changes only to live subscriptions: the leader creates them
    and renews them before BC's 3-day expiry (checked every ``subscription_check_s``)."""
    bc = settings.business_central
    if "business_central" not in api or not (bc.notification_url and bc.client_state):
        return
    from connectors.business_central.source import SubscriptionKeeper

    keeper = SubscriptionKeeper(api["business_central"], bc.notification_url,
                                bc.client_state.get_secret_value())
    # faust's timers first fire one interval after start: with the check's own interval (10
    # minutes) a new leader would go that long without subscriptions. The timer ticks at most
    # every FIRST_CHECK_S and checks when due: at the first tick, then every interval.
    due = 0.0

    @app.timer(min(bc.subscription_check_s, FIRST_CHECK_S), on_leader=True)
    async def keep_subscriptions() -> None:
        nonlocal due
        if time.monotonic() < due:
            return
        try:
            done = await keeper.ensure(dt.datetime.now(dt.timezone.utc))
        except Exception as exc:  # retried at the next tick; polling covers the gap
            log.warning("business_central subscriptions not ensured: %s", exc)
            return
        due = time.monotonic() + bc.subscription_check_s
        if done:
            log.info("business_central subscriptions: %s", ", ".join(done))


class Polls:
    """The pollers' runs, one system at a time each, and their saved states.

    Each system has its own timer (:func:`register_pollers`): a slow or failing system (a
    Holded timing out for a minute) does not hold back the others' polls, as one timer polling
    every system in turn did."""

    def __init__(self, settings: Settings, pollers: Mapping[str, Poller],
                 send_change: Callable[[str, bytes, bytes], Awaitable[Any]],
                 send_state: Callable[[str, str], Awaitable[Any]]) -> None:
        self.settings, self.pollers = settings, pollers
        self._send_change, self._send_state = send_change, send_state
        self._states: dict[str, str | None] | None = None
        self._loading = asyncio.Lock()

    async def states(self) -> dict[str, str | None]:
        """The states the last runs saved (read once from the poller-state topic)."""
        async with self._loading:
            if self._states is None:
                states: dict[str, str | None] = {}
                for rec in await read_topic(self.settings, TopicNames(self.settings).poller_state):
                    states[rec.key] = rec.value.decode() if rec.value is not None else None
                self._states = {system: states.get(system) for system in self.pollers}
        return self._states

    async def run(self, system: str) -> None:
        """One poll of ``system``: publish its changes, then save its new state."""
        current = await self.states()
        try:
            new_state, events = await self.pollers[system].poll(current[system],
                                                                dt.datetime.now(dt.timezone.utc))
        except Exception as exc:  # a failed run keeps its state: the next run retries it
            log.warning("%s poll failed, will retry: %s", system, exc)
            HEALTH.poll(system, error=f"{type(exc).__name__}: {exc}"[:300])
            return
        for event in events:
            await self._send_change(system, event["entity_key"].encode(), CHANGE.dumps(event))
        METRICS.events.labels(topic=f"changes.{system}", direction="out").inc(len(events))
        await self._send_state(system, new_state)
        current[system] = new_state
        HEALTH.poll(system, events=len(events))
        if events:
            log.info("%s poll: %d change(s)", system, len(events))


def register_pollers(app: faust.App, settings: Settings, pollers: Mapping[str, Poller]) -> None:
    if not pollers:
        return
    names = TopicNames(settings)
    state_topic = app.topic(names.poller_state, key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw", partitions=1)
    changes = {s: app.topic(names.changes(s), key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw",
                            partitions=settings.partitions) for s in pollers}

    async def send_change(system: str, key: bytes, value: bytes) -> None:
        await changes[system].send(key=key, value=value)

    async def send_state(system: str, state: str) -> None:
        await state_topic.send(key=system.encode(), value=state.encode())

    polls = Polls(settings, pollers, send_change, send_state)

    def timer_of(system: str) -> Callable[[], Awaitable[None]]:
        async def poll() -> None:  # no parameter: faust passes the app to a timer taking one
            await polls.run(system)
        return poll

    for system in pollers:
        app.timer(settings.poll_interval_s, on_leader=True, name=f"poll-{system}")(timer_of(system))
