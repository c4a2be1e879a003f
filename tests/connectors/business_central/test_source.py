"""BusinessCentralSource against the sandbox: polling windows, webhooks, subscriptions."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from app.avro import codec
from app.core.hashing import content_hash
from connectors.business_central.client import BusinessCentralClient
from connectors.business_central.sandbox import BCSandbox
from connectors.business_central.source import (
    BadNotification, BusinessCentralSource, WrongClientState, SubscriptionKeeper, change_event, handshake,
    needs_renewal, parse_notifications,
)
from tests.connectors.business_central.support import MAPPING, customer

SECRET = "client-state-7f3a"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_poll_reports_every_entity_then_only_changes(sandbox: BCSandbox,
                                                           bc: BusinessCentralClient) -> None:
    source = BusinessCentralSource(bc, mapping=MAPPING, batch=2)
    state, events = await source.poll(None, now())
    kinds = sorted({e["entity"] for e in events})
    assert kinds == ["contact", "invoice", "product"]
    assert len([e for e in events if e["entity"] == "invoice"]) == 3
    for event in events:
        codec("ChangeEvent").dumps(event)
        assert event["content_hash"] == content_hash(event["payload"])
        assert event["source_ts"].tzinfo is not None
    state, quiet = await source.poll(state, now())
    assert quiet == []
    ferreteria = await customer(sandbox)
    current = await bc.get("customers", ferreteria["id"])
    await bc.update("customers", ferreteria["id"], {"email": "nuevo@ferreteria.es"},
                    etag=current["@odata.etag"])
    state, changed = await source.poll(state, now())
    assert [(e["entity_key"], e["payload"]["email"]) for e in changed] == [
        (f"contact/business_central/{ferreteria['id']}", "nuevo@ferreteria.es")]
    assert json.loads(state["customers"].to_json())["watermark"]


async def test_poll_never_reads_past_its_signpost(sandbox: BCSandbox,
                                                  bc: BusinessCentralClient) -> None:
    source = BusinessCentralSource(bc, mapping=MAPPING, streams=["customers"])
    past = now() - dt.timedelta(days=1)
    state, events = await source.poll(None, past)  # everything was modified after "past"
    assert events == []
    _, events = await source.poll(state, now())
    assert len(events) == 3
    filters = [r.query.get("$filter", [""])[0] for r in sandbox.requests if r.path.endswith("/customers")]
    assert all("lastModifiedDateTime le" in f for f in filters)


async def test_unmappable_records_are_parked_not_emitted(sandbox: BCSandbox,
                                                         bc: BusinessCentralClient) -> None:
    await sandbox.insert("paymentMethods", [{"code": "PAGARE", "displayName": "Pagaré"}])
    pagare = (await sandbox.all("paymentMethods", code="PAGARE"))[0]
    ferreteria = await customer(sandbox)
    current = await bc.get("customers", ferreteria["id"])
    await bc.update("customers", ferreteria["id"], {"paymentMethodId": pagare["id"]},
                    etag=current["@odata.etag"])
    source = BusinessCentralSource(bc, mapping=MAPPING, streams=["customers"])
    _, events = await source.poll(None, now())
    assert len(events) == 2
    assert [p.entity_key for p in source.parked] == [f"contact/business_central/{ferreteria['id']}"]
    assert "'PAGARE'" in source.parked[0].reasons[0]


def test_event_ids_are_stable_and_change_with_content_or_time() -> None:
    at = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    a = change_event("contact", "c1", at, {"name": "A"})
    assert a["event_id"] == change_event("contact", "c1", at, {"name": "A"})["event_id"]
    assert a["event_id"] != change_event("contact", "c1", at, {"name": "B"})["event_id"]
    later = at + dt.timedelta(milliseconds=1)
    assert a["event_id"] != change_event("contact", "c1", later, {"name": "A"})["event_id"]
    assert change_event("contact", "c1", at, None)["op"] == "delete"


# -- webhooks ---------------------------------------------------------------------------------
class Receiver:
    """A webhook endpoint built from the framework-free functions, as the lead's view will be."""

    def __init__(self) -> None:
        self.notices: list[Any] = []
        self.handshakes = 0
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        answer = handshake(request.query)
        if answer is not None:
            self.handshakes += 1
            return web.Response(status=answer[0], text=answer[1], content_type="text/plain")
        try:
            self.notices.extend(parse_notifications(await request.json(), SECRET))
        except BadNotification as exc:
            return web.Response(status=400, text=str(exc))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/bc/webhook", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield hook, f"http://127.0.0.1:{port}/bc/webhook"
    await runner.cleanup()


async def test_subscriptions_handshake_notify_and_refetch(
        sandbox: BCSandbox, bc: BusinessCentralClient, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    keeper = SubscriptionKeeper(bc, url, SECRET, entity_sets=("customers", "salesInvoices"))
    assert await keeper.ensure(now()) == ["created:customers", "created:salesInvoices"]
    assert hook.handshakes == 2
    assert await keeper.ensure(now()) == []  # alive and far from expiry: nothing to do
    ferreteria = await customer(sandbox)
    current = await bc.get("customers", ferreteria["id"])
    await bc.update("customers", ferreteria["id"], {"email": "webhook@ferreteria.es"},
                    etag=current["@odata.etag"])
    await bc.update("customers", ferreteria["id"], {"phoneNumber": "+34 600"},
                    etag=(await bc.get("customers", ferreteria["id"]))["@odata.etag"])
    assert await sandbox.flush_notifications() == 1
    assert [(n.entity_set, n.change_type, n.record_id) for n in hook.notices] == [
        ("customers", "updated", ferreteria["id"])]  # two changes, one de-duplicated notice
    events = await BusinessCentralSource(bc, mapping=MAPPING).events_for(hook.notices)
    assert [e["payload"]["email"] for e in events] == ["webhook@ferreteria.es"]
    assert events[0]["payload"]["phone"] == "+34 600"  # re-fetched, not taken from the notice


async def test_many_changes_become_one_collection_notice(
        sandbox: BCSandbox, bc: BusinessCentralClient, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    sandbox.state.subscriptions.collection_threshold = 2
    await SubscriptionKeeper(bc, url, SECRET, entity_sets=("customers",)).ensure(now())
    for number in ("C00001", "C00002", "C00003"):
        record = await customer(sandbox, number)
        current = await bc.get("customers", record["id"])
        await bc.update("customers", record["id"], {"website": "https://example.es"},
                        etag=current["@odata.etag"])
    await sandbox.flush_notifications()
    assert [n.change_type for n in hook.notices] == ["collection"]
    assert hook.notices[0].since is not None
    events = await BusinessCentralSource(bc, mapping=MAPPING).events_for(hook.notices)
    assert len(events) == 3


async def test_a_rejecting_subscriber_loses_its_subscription(
        sandbox: BCSandbox, bc: BusinessCentralClient, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    await SubscriptionKeeper(bc, url, SECRET, entity_sets=("customers",)).ensure(now())
    ferreteria = await customer(sandbox)
    hook.status = 503  # retried later
    await bc.update("customers", ferreteria["id"], {"website": "https://a.es"},
                    etag=(await bc.get("customers", ferreteria["id"]))["@odata.etag"])
    await sandbox.flush_notifications()
    assert len(await bc.subscriptions()) == 1
    hook.status = 410  # any other error deletes the subscription
    await sandbox.flush_notifications()
    assert await bc.subscriptions() == []


async def test_subscriptions_are_renewed_before_expiry(
        sandbox: BCSandbox, bc: BusinessCentralClient, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    keeper = SubscriptionKeeper(bc, url, SECRET, entity_sets=("items",))
    await keeper.ensure(now())
    expires = dt.datetime.fromisoformat(
        keeper.subscriptions["items"]["expirationDateTime"].replace("Z", "+00:00"))
    assert dt.timedelta(days=2, hours=23) < expires - now() <= dt.timedelta(days=3)
    assert await keeper.ensure(expires - dt.timedelta(hours=12)) == ["renewed:items"]
    assert hook.handshakes == 2  # BC repeats the handshake on renewal
    assert not needs_renewal(keeper.subscriptions["items"], now(), dt.timedelta(days=1))


def test_notifications_with_a_wrong_client_state_are_refused() -> None:
    body = {"value": [{"subscriptionId": "s", "clientState": "guess", "changeType": "updated",
                       "resource": "api/v2.0/companies(2f0c5b8e-6d1a-4c3e-9b7a-1e5d3c2b1a00)/"
                                   "customers(2f0c5b8e-6d1a-4c3e-9b7a-1e5d3c2b1a01)",
                       "lastModifiedDateTime": "2026-11-02T10:00:00Z"}]}
    with pytest.raises(BadNotification, match="clientState"):
        parse_notifications(body, SECRET)
    body["value"][0]["clientState"] = SECRET
    assert parse_notifications(body, SECRET)[0].record_id.endswith("a01")  # type: ignore[union-attr]
    with pytest.raises(BadNotification):
        parse_notifications({"nope": 1}, SECRET)
    assert handshake({"validationToken": "abc"}) == (200, "abc") and handshake({}) is None


def test_a_wrong_client_state_is_told_apart_from_a_malformed_notice() -> None:
    notice = {"subscriptionId": "s", "clientState": SECRET, "changeType": "updated",
              "resource": "api/v2.0/companies(2f0c5b8e-6d1a-4c3e-9b7a-1e5d3c2b1a00)/"
                          "customers(2f0c5b8e-6d1a-4c3e-9b7a-1e5d3c2b1a01)"}
    with pytest.raises(WrongClientState):
        parse_notifications({"value": [{**notice, "clientState": "guess"}]}, SECRET)
    for when in (None, "yesterday", 5):  # absent, not a date, not a string: malformed, said so
        item = {**notice, **({} if when is None else {"lastModifiedDateTime": when})}
        with pytest.raises(BadNotification, match="lastModifiedDateTime") as caught:
            parse_notifications({"value": [item]}, SECRET)
        assert not isinstance(caught.value, WrongClientState)
    with pytest.raises(BadNotification, match="expirationDateTime"):
        parse_notifications({"value": [{**notice, "lastModifiedDateTime": "2026-11-02T10:00:00Z",
                                        "expirationDateTime": "soon"}]}, SECRET)
