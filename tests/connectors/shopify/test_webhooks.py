"""Webhook verification: genuine, forged, replayed, oversized and unsynced deliveries."""
from __future__ import annotations

import json

import pytest

from connectors.shopify.webhooks import (
    BadContentType, Delivery, DeliveryLog, Forged, Ignored, Malformed, Replayed, TooLarge,
    parse, receive, sign, verify,
)

SECRET = "app-secret-0123456789"


def delivery(topic: str = "orders/paid", body: dict | bytes | None = None, *,
             event_id: str = "evt-1", secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(
        body if body is not None else {"id": 450789469, "name": "#1001"}).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
               "X-Shopify-Hmac-Sha256": sign(raw, secret), "X-Shopify-Event-Id": event_id,
               "X-Shopify-Shop-Domain": "tienda.myshopify.com"}
    return headers, raw


def test_a_genuine_delivery_names_the_record_to_read_again() -> None:
    headers, raw = delivery()
    assert receive(headers, raw, SECRET, DeliveryLog()) == Delivery(
        "orders/paid", "Order", "450789469", "evt-1", "tienda.myshopify.com")


@pytest.mark.parametrize("topic,body,resource,record_id", [
    ("orders/create", {"id": 1}, "Order", "1"),
    ("orders/updated", {"id": "2"}, "Order", "2"),
    ("refunds/create", {"id": 9, "order_id": 3}, "Order", "3"),
    ("customers/update", {"id": 4}, "Customer", "4"),
    ("products/update", {"id": 5}, "Product", "5"),
])
def test_each_synced_topic(topic: str, body: dict, resource: str, record_id: str) -> None:
    headers, raw = delivery(topic, body)
    found = parse(headers, raw)
    assert (found.resource, found.record_id) == (resource, record_id)


def test_a_signature_with_another_secret_is_forged() -> None:
    headers, raw = delivery(secret="someone-else")
    with pytest.raises(Forged) as caught:
        verify(headers, raw, SECRET)
    assert caught.value.status == 401


def test_a_body_changed_after_signing_is_forged() -> None:
    headers, raw = delivery()
    with pytest.raises(Forged):
        verify(headers, raw.replace(b"450789469", b"450789470"), SECRET)


@pytest.mark.parametrize("signature", [None, "", "not base64!!", "aGVsbG8="])
def test_missing_or_malformed_signatures_are_forged(signature: str | None) -> None:
    headers, raw = delivery()
    del headers["X-Shopify-Hmac-Sha256"]
    if signature is not None:
        headers["x-shopify-hmac-sha256"] = signature
    with pytest.raises(Forged):
        verify(headers, raw, SECRET)


def test_a_replayed_event_is_acknowledged_once_and_then_refused() -> None:
    log = DeliveryLog()
    headers, raw = delivery(event_id="evt-42")
    receive(headers, raw, SECRET, log)
    log.remember("evt-42")  # processed
    with pytest.raises(Replayed) as caught:
        receive(headers, raw, SECRET, log)
    assert caught.value.status == 200


def test_a_delivery_not_processed_yet_is_no_replay() -> None:
    """A delivery is remembered once processed, not when received: if re-reading or
    publishing its record failed, Shopify's retry (same event id) is processed."""
    log = DeliveryLog()
    headers, raw = delivery(event_id="evt-43")
    receive(headers, raw, SECRET, log)  # ...and then its processing fails
    assert "evt-43" not in log
    assert receive(headers, raw, SECRET, log).event_id == "evt-43"


def test_a_forged_delivery_does_not_poison_the_replay_log() -> None:
    log = DeliveryLog()
    forged_headers, raw = delivery(event_id="evt-7", secret="wrong")
    with pytest.raises(Forged):
        receive(forged_headers, raw, SECRET, log)
    headers, raw = delivery(event_id="evt-7")
    assert receive(headers, raw, SECRET, log).event_id == "evt-7"


def test_the_replay_log_is_bounded_and_forgets_the_oldest() -> None:
    log = DeliveryLog(capacity=2)
    for event in ("a", "b", "c"):
        log.check(event)
    assert len(log) == 2 and "a" not in log and "c" in log
    log.check("a")  # forgotten, so accepted again (only a harmless re-read)


def test_an_oversized_body_is_refused_before_hashing() -> None:
    headers, raw = delivery(body=b'{"id": 1, "pad": "' + b"x" * 2000 + b'"}')
    with pytest.raises(TooLarge) as caught:
        verify(headers, raw, SECRET, max_bytes=1000)
    assert caught.value.status == 413
    headers, raw = delivery()
    headers["Content-Length"] = "999999999"
    with pytest.raises(TooLarge):
        verify(headers, raw, SECRET, max_bytes=1000)


def test_other_content_types_are_refused() -> None:
    headers, raw = delivery()
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    with pytest.raises(BadContentType):
        verify(headers, raw, SECRET)


def test_unsynced_topics_are_ignored_and_bad_bodies_malformed() -> None:
    headers, raw = delivery("app/uninstalled", {"id": 1})
    with pytest.raises(Ignored):
        receive(headers, raw, SECRET, DeliveryLog())
    headers, raw = delivery("orders/paid", b"not json")
    with pytest.raises(Malformed):
        receive(headers, raw, SECRET, DeliveryLog())
    headers, raw = delivery("orders/paid", {"id": True})
    with pytest.raises(Malformed):
        parse(headers, raw)
    headers, raw = delivery()
    del headers["X-Shopify-Topic"]
    with pytest.raises(Malformed):
        parse(headers, raw)


def test_errors_never_carry_the_secret_or_the_signature() -> None:
    headers, raw = delivery(secret="wrong")
    with pytest.raises(Forged) as caught:
        verify(headers, raw, SECRET)
    assert SECRET not in str(caught.value)
    assert headers["X-Shopify-Hmac-Sha256"] not in str(caught.value)
