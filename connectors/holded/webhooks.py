"""Holded webhook deliveries: verify, de-duplicate, and say what to re-fetch. Framework-free.

Holded (v2 era) signs every delivery with the webhook's signing secret, but the header name, the
digest encoding and any timestamp scheme are UNVERIFIED (reference §5): all of them are
parameters here, with the guess third-party code makes (``x-holded-signature``, HMAC-SHA256 of
the raw body, hex) as the default, and base64 accepted too. The body is never trusted: it only
says which records to read again through the client (:func:`source.fetch_change`).

    WebhookError            ``status`` is what the web view answers
     +-- Forged             401  bad, missing or stale signature
     +-- TooLarge           413  body over ``max_bytes``
     +-- BadContentType     415  not application/json
     +-- Malformed          400  signed, but not the JSON we can read
     +-- Replayed           200  a delivery id seen before: acknowledge, do nothing

Nothing here logs or puts in a message the secret, the signature or the body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import SecretStr

from connectors.base.webhooks import (
    BadContentType,
    DeliveryLog,
    Forged,
    Malformed,
    Replayed,
    TooLarge,
    WebhookError,
)

__all__ = [
    "WebhookError", "Forged", "TooLarge", "BadContentType", "Malformed", "Replayed",
    "verify", "DeliveryLog", "delivery_id", "load", "parse", "record_id", "RESOURCES",
    "SIGNATURE_HEADER", "DELIVERY_HEADER", "MAX_BYTES",
]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-holded-signature"  # UNVERIFIED
DELIVERY_HEADER = "x-holded-delivery-id"  # UNVERIFIED
MAX_BYTES = 256 * 1024
Encoding = Literal["auto", "hex", "base64"]
# Every Holded record id is a Mongo ObjectId: 24 hex digits (what the API and its sandbox issue).
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")

# Holded area names (and plural / v2 path spellings) -> what source.fetch_change reads.
RESOURCES = {
    "contact": "contact", "contacts": "contact",
    "invoice": "invoice", "invoices": "invoice",
    "creditnote": "creditnote", "credit_note": "creditnote", "credit-note": "creditnote",
    "credit-notes": "creditnote", "creditnotes": "creditnote",
    "salesreceipt": "salesreceipt", "sales_receipt": "salesreceipt",
    "sales-receipt": "salesreceipt", "sales-receipts": "salesreceipt",
    "salesreceipts": "salesreceipt",
    "payment": "payment", "payments": "payment",
}
# Documents are read only if HOLDED_POLL_DOCUMENTS names their type (app/webhooks.py).


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _secret_bytes(secret: SecretStr | str | bytes) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not raw:
        raise ValueError("the webhook signing secret is empty")
    return raw


def _decode(text: str, encoding: Encoding) -> bytes | None:
    text = text.strip()
    forms = [text]
    if "=" in text.rstrip("="):
        forms.append(text.split("=", 1)[1])  # "sha256=<digest>" style prefixes
    for form in forms:
        digest = _decode_one(form, encoding)
        if digest is not None:
            return digest
    return None


def _decode_one(candidate: str, encoding: Encoding) -> bytes | None:
    if encoding in ("auto", "hex"):
        try:
            digest = bytes.fromhex(candidate)
            if len(digest) == hashlib.sha256().digest_size:
                return digest
        except ValueError:
            pass
    if encoding in ("auto", "base64"):
        try:
            digest = base64.b64decode(candidate, validate=True)
        except (binascii.Error, ValueError):
            return None
        return digest if len(digest) == hashlib.sha256().digest_size else None
    return None


def verify(headers: Mapping[str, str], raw_body: bytes, secret: SecretStr | str | bytes, *,
           header_name: str = SIGNATURE_HEADER, encoding: Encoding = "auto",
           max_bytes: int = MAX_BYTES, now: dt.datetime | None = None,
           tolerance: dt.timedelta | None = None, timestamp_header: str | None = None) -> None:
    """Return if the delivery is authentic, else raise TooLarge / BadContentType / Forged.

    The signature is HMAC-SHA256 of the raw body, compared with :func:`hmac.compare_digest`;
    the header may hold several comma-separated signatures (a secret rotation) and any may
    match. With ``timestamp_header`` set, the signed message is ``"<timestamp>." + body``
    (the Stripe scheme) and a timestamp further than ``tolerance`` from ``now`` is Forged.
    """
    length = _header(headers, "content-length")
    if len(raw_body) > max_bytes or (length is not None and length.isdigit()
                                     and int(length) > max_bytes):
        raise TooLarge(f"body larger than {max_bytes} bytes")
    media = (_header(headers, "content-type") or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise BadContentType(f"content type {media or 'missing'!r}, expected application/json")
    message = raw_body
    if timestamp_header is not None:
        stamp = _header(headers, timestamp_header)
        if stamp is None or not stamp.strip().isdigit():
            raise Forged(f"missing or malformed {timestamp_header} header")
        if now is not None and tolerance is not None:
            age = abs(now.timestamp() - int(stamp))
            if age > tolerance.total_seconds():
                raise Forged("delivery timestamp outside the tolerance")
        message = stamp.strip().encode() + b"." + raw_body
    header = _header(headers, header_name)
    if not header:
        raise Forged(f"missing {header_name} header")
    expected = hmac.new(_secret_bytes(secret), message, hashlib.sha256).digest()
    matched = False
    for candidate in header.split(","):
        digest = _decode(candidate, encoding)
        # compare every candidate: no early exit that would time which one matched
        if digest is not None and hmac.compare_digest(digest, expected):
            matched = True
    if not matched:
        raise Forged("signature does not match")


def delivery_id(headers: Mapping[str, str], body: Any = None, *,
                header_name: str = DELIVERY_HEADER) -> str | None:
    """The delivery's id: the header if present, else an id field of the body (UNVERIFIED
    names), else None (then nothing is de-duplicated: a body hash would also swallow a second,
    genuine change of the same record)."""
    value = _header(headers, header_name)
    if value:
        return value.strip()
    if isinstance(body, Mapping):
        for name in ("delivery_id", "deliveryId", "event_id", "eventId", "webhook_event_id"):
            if isinstance(body.get(name), (str, int)) and str(body[name]):
                return str(body[name])
    return None


def load(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise Malformed("body is not JSON") from None


def parse(body: bytes | str | Mapping[str, Any] | list[Any]) -> list[tuple[str, str]]:
    """``(resource, Holded id)`` pairs to re-read, in order, without repeats.

    The payload shape is UNVERIFIED ("a JSON summary of the change"): accepted are one event or
    a list, possibly under ``data``/``events``/``items``, each naming its area in ``resource``,
    ``entity``, ``type``, ``object`` or ``event`` (``invoice.updated``, ``contact:create``...) and
    the record in ``id``, ``resource_id``, ``document_id``, ``contact_id``, ``payment_id`` or a
    nested ``data``/``object`` with an ``id``. Areas we do not sync are left out.
    """
    if isinstance(body, (bytes, str)):
        body = load(body.encode() if isinstance(body, str) else body)
    out: list[tuple[str, str]] = []
    for event in _events(body):
        target = _target(event)
        if target is not None and target not in out:
            out.append(target)
    return out


def record_id(value: str) -> str:
    """``value`` as a Holded id (24 hex digits, lower case), else Malformed: a delivery naming
    anything else is not put in a URL of Holded's API."""
    if not _OBJECT_ID.fullmatch(value):
        raise Malformed(f"{value[:40]!r} is not a Holded id (24 hex digits)")
    return value.lower()


def _events(body: Any) -> list[Mapping[str, Any]]:
    if isinstance(body, list):
        return [e for e in body if isinstance(e, Mapping)]
    if not isinstance(body, Mapping):
        raise Malformed("body is neither an object nor a list")
    for name in ("events", "items"):
        if isinstance(body.get(name), list):
            return _events(body[name])
    if isinstance(body.get("data"), list):
        return _events(body["data"])
    return [body]


def _target(event: Mapping[str, Any]) -> tuple[str, str] | None:
    nested = next((event[k] for k in ("data", "object") if isinstance(event.get(k), Mapping)), {})
    area = None
    for name in ("resource", "entity", "type", "object_type", "object", "event"):
        value = event.get(name)
        if isinstance(value, str) and value:
            head = value.replace(":", ".").split(".", 1)[0].strip().lower()
            if head in RESOURCES:
                area = RESOURCES[head]
                break
    if area is None:
        return None
    for source in (event, nested):
        for name in ("id", "resource_id", "resourceId", f"{area}_id", "document_id",
                     "documentId", "contact_id", "payment_id"):
            value = source.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                return area, str(value).strip()
    return None
