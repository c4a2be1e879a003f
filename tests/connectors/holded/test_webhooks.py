"""Webhook deliveries: signature, size, content type, replays, and what to re-fetch."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.holded import webhooks
from connectors.holded.client import HoldedClient
from connectors.holded.sandbox import SandboxServer
from connectors.holded.source import fetch_change
from connectors.holded.webhooks import (
    BadContentType, DeliveryLog, Forged, Malformed, Replayed, TooLarge, delivery_id, parse,
    record_id, verify,
)
from tests.connectors.holded.test_inbound import (
    MAPPING, NOW, contact, create_contact, make_client, seeded_sandbox,
)

SECRET = "whsec_test_5f1c9a"
BODY = json.dumps({"event": "invoice.updated", "id": "65f0c0ffee0000000000abcd"}).encode()


def signed(body: bytes = BODY, secret: str = SECRET, *, encoding: str = "hex",
           **extra: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    value = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    return {"Content-Type": "application/json; charset=utf-8", "X-Holded-Signature": value,
            **extra}


def test_good_signatures_hex_base64_prefixed_rotated() -> None:
    verify(signed(), BODY, SECRET)
    verify(signed(encoding="base64"), BODY, SecretStr(SECRET))
    prefixed = {**signed(), "X-Holded-Signature": "sha256=" + signed()["X-Holded-Signature"]}
    verify(prefixed, BODY, SECRET.encode())
    rotated = {**signed(), "X-Holded-Signature": "00" * 32 + ", " + signed()["X-Holded-Signature"]}
    verify(rotated, BODY, SECRET)


def test_configurable_header_and_encoding() -> None:
    headers = {"content-type": "application/json",
               "X-Signature": signed(encoding="base64")["X-Holded-Signature"]}
    verify(headers, BODY, SECRET, header_name="x-signature", encoding="base64")
    with pytest.raises(Forged):
        verify(headers, BODY, SECRET, header_name="x-signature", encoding="hex")
    with pytest.raises(Forged, match="missing"):
        verify(headers, BODY, SECRET)  # the default header is absent


@pytest.mark.parametrize("headers, body", [
    (signed(), BODY + b" "),                             # body changed after signing
    (signed(secret="another"), BODY),                    # wrong secret
    ({**signed(), "X-Holded-Signature": "zz-not-a-digest"}, BODY),
    ({**signed(), "X-Holded-Signature": ""}, BODY),
    ({"Content-Type": "application/json"}, BODY),        # no signature at all
])
def test_forged(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(Forged) as caught:
        verify(headers, body, SECRET)
    assert caught.value.status == 401


def test_oversized_is_refused_before_anything_else() -> None:
    big = b"{" + b" " * (256 * 1024) + b"}"
    with pytest.raises(TooLarge) as caught:
        verify({"Content-Type": "text/plain"}, big, SECRET)  # size wins over content type
    assert caught.value.status == 413
    with pytest.raises(TooLarge):
        verify({**signed(), "Content-Length": str(10**9)}, BODY, SECRET)
    verify(signed(), BODY, SECRET, max_bytes=len(BODY))
    with pytest.raises(TooLarge):
        verify(signed(), BODY, SECRET, max_bytes=len(BODY) - 1)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonp", None])
def test_wrong_content_type(content_type: str | None) -> None:
    headers = {k: v for k, v in signed().items() if k != "Content-Type"}
    if content_type:
        headers["Content-Type"] = content_type
    with pytest.raises(BadContentType) as caught:
        verify(headers, BODY, SECRET)
    assert caught.value.status == 415


def test_timestamped_scheme_and_tolerance() -> None:
    stamp = "1773133200"  # 2026-03-10T09:00:00Z
    message = stamp.encode() + b"." + BODY
    headers = {**signed(message), "X-Holded-Timestamp": stamp}
    now = dt.datetime(2026, 3, 10, 9, 3, tzinfo=dt.UTC)
    verify(headers, BODY, SECRET, timestamp_header="x-holded-timestamp", now=now,
           tolerance=dt.timedelta(minutes=5))
    with pytest.raises(Forged, match="tolerance"):
        verify(headers, BODY, SECRET, timestamp_header="x-holded-timestamp",
               now=now + dt.timedelta(hours=1), tolerance=dt.timedelta(minutes=5))
    with pytest.raises(Forged):  # the same signature without the timestamp scheme
        verify(headers, BODY, SECRET)


def test_the_compare_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    verify(signed(), BODY, SECRET)
    with pytest.raises(Forged):
        verify(signed(secret="x"), BODY, SECRET)
    assert len(calls) == 2 and all(len(a) == len(b) == 32 for a, b in calls)


def test_the_secret_is_never_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for headers in (signed(secret="x"), {"Content-Type": "application/json"}):
        with pytest.raises(Forged) as caught:
            verify(headers, BODY, SECRET)
        assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert SECRET not in caplog.text


def test_replayed_delivery_ids_and_the_lru_bound() -> None:
    log = DeliveryLog(capacity=2)
    log.check("d1")
    with pytest.raises(Replayed) as caught:
        log.check("d1")
    assert caught.value.status == 200
    log.check(None)
    log.check(None)  # no id: never a replay
    log.check("d2")
    log.check("d3")  # over capacity: the least recently seen (d1) goes
    assert len(log) == 2 and "d1" not in log
    log.check("d1")  # forgotten, so accepted again; d2 goes
    assert "d2" not in log and "d3" in log and "d1" in log
    with pytest.raises(Replayed):
        log.check("d3")


def test_a_delivery_is_remembered_only_once_processed() -> None:
    log = DeliveryLog(capacity=2)
    log.refuse_replay("d1")
    log.refuse_replay("d1")  # checked twice, never remembered: its processing failed
    assert "d1" not in log
    log.remember("d1")
    with pytest.raises(Replayed):
        log.refuse_replay("d1")
    log.remember(None)
    log.refuse_replay(None)
    assert len(log) == 1


@pytest.mark.parametrize("value", ["../../x?y", "65f0c0ffee0000000000abc", "c1", "7",
                                   "65f0c0ffee0000000000abcdz", "65f0c0ffee0000000000abc/"])
def test_an_id_that_is_not_holded_s_is_malformed(value: str) -> None:
    with pytest.raises(Malformed) as caught:
        record_id(value)
    assert caught.value.status == 400


def test_holded_ids_are_24_hex_digits() -> None:
    assert record_id("65f0c0ffee0000000000abcd") == "65f0c0ffee0000000000abcd"
    assert record_id("65F0C0FFEE0000000000ABCD") == "65f0c0ffee0000000000abcd"


def test_delivery_id_from_header_or_body() -> None:
    assert delivery_id({"X-Holded-Delivery-Id": " abc "}) == "abc"
    assert delivery_id({}, {"event_id": "e-1"}) == "e-1"
    assert delivery_id({"X-Hook-Id": "h"}, None, header_name="x-hook-id") == "h"
    assert delivery_id({}, {"id": "record"}) is None


def test_parse_shapes_into_records_to_refetch() -> None:
    assert parse(BODY) == [("invoice", "65f0c0ffee0000000000abcd")]
    assert parse({"events": [
        {"type": "contact.created", "data": {"id": "c1"}},
        {"resource": "credit-notes", "resource_id": "n1", "action": "update"},
        {"entity": "payment", "payment_id": 7},
        {"event": "stock.updated", "id": "s1"},          # an area we do not sync
        {"type": "contact.updated", "data": {"id": "c1"}},  # same record again
    ]}) == [("contact", "c1"), ("creditnote", "n1"), ("payment", "7")]
    assert parse([{"event": "invoice:approve", "document_id": "d9"}]) == [("invoice", "d9")]
    assert parse({"event": "invoice.updated"}) == []  # no id: nothing to read
    with pytest.raises(Malformed):
        parse(b"not json")
    with pytest.raises(Malformed):
        parse(b'"a string"')


# -- the whole path: verify, parse, re-fetch through the client -------------------------------

@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with seeded_sandbox() as server:
        yield server


@pytest.fixture
async def holded(sandbox: SandboxServer) -> AsyncIterator[HoldedClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield make_client(sandbox, http)


async def test_a_delivery_is_refetched_never_trusted(holded: HoldedClient) -> None:
    contact_id = await create_contact(holded, contact(email="real@sol.es"), "contact/odoo/7")
    body = json.dumps({"event": "contact.updated", "id": contact_id,
                       "data": {"id": contact_id, "email": "forged@evil.test"}}).encode()
    verify(signed(body), body, SECRET)
    events = [await fetch_change(holded, MAPPING, resource, record_id, NOW)
              for resource, record_id in parse(body)]
    assert len(events) == 1 and events[0] is not None
    assert events[0]["entity_key"] == "contact/odoo/7"
    assert events[0]["payload"]["email"] == "real@sol.es" and events[0]["lane"] == "realtime"
    gone = await fetch_change(holded, MAPPING, "contact", "65f0c0ffee0000000000abcd", NOW)
    assert gone is None  # deleted (or never there): nothing to publish
