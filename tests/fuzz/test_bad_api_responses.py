"""Malformed answers from an API end in a clear connector error, never in anything else.

Hypothesis plays Holded: any status, any content type, bodies that are JSON of the wrong
shape, truncated JSON, HTML, binary noise, or the ``{"status": 0}`` envelope. Whatever the
client is asked (a read, a page of a list, a create), it either returns what the contract
promises or raises a :class:`ConnectorError` whose message carries no secret. A different
exception would reach the sink as a crash instead of a recorded, explained failure.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.base.errors import ConnectorError
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.holded.client import HoldedClient
from tests.connectors.fakes import FakeClock, SequenceRandom
from tests.fuzz import tally

KEY = "v1-secret-key-fuzz-0123456789"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@st.composite
def responses(draw: Any) -> httpx.Response:
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 402, 403, 404, 409, 422,
                                   429, 500, 502, 503, 504]))
    kind = draw(st.sampled_from(["json", "truncated", "html", "bytes", "envelope", "empty"]))
    if kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "truncated":
        text = json.dumps(draw(json_values))
        body = text[:draw(st.integers(0, max(0, len(text) - 1)))].encode()
    elif kind == "html":
        body = b"<!DOCTYPE html><html><body>Holded</body></html>"
    elif kind == "bytes":
        body = draw(st.binary(max_size=64))
    elif kind == "envelope":
        body = json.dumps({"status": 0, "info": draw(st.text(max_size=30))}).encode()
    else:
        body = b""
    ctype = draw(st.sampled_from(["application/json", "text/html; charset=utf-8", "text/plain", ""]))
    headers = {"content-type": ctype} if ctype else {}
    if status == 429 and draw(st.booleans()):
        headers["retry-after"] = draw(st.sampled_from(["0", "1", "abc", "-5", "99999999"]))
    return httpx.Response(status, content=body, headers=headers)


async def call(operation: str, answers: list[httpx.Response]) -> None:
    queue = list(answers)

    def respond(_request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if queue else answers[-1]

    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    clock = FakeClock(autojump=True)
    client = HoldedClient(http, api_key=SecretStr(KEY), retry=RetryPolicy(max_attempts=3),
                          limiter=TokenBucket(RateLimit(rate=1000.0, burst=1000), clock),
                          clock=clock, rand=SequenceRandom(0.1))
    try:
        if operation == "get":
            await client.contacts.get("5f1b2c3d4e5f60718293a4b5")
        elif operation == "list":
            async for _ in client.contacts.list():
                pass
        else:
            await client.contacts.create({"name": "Talleres Gómez SL", "CustomId": "contact/odoo/C1"})
    finally:
        await http.aclose()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["get", "list", "create"]), st.lists(responses(), min_size=1, max_size=4))
def test_every_malformed_answer_is_a_result_or_a_clear_connector_error(operation, answers):
    tally.FUZZED["api_responses"] += 1
    try:
        asyncio.run(call(operation, answers))
    except ConnectorError as error:
        assert KEY not in str(error)
        assert str(error).strip()
        tally.OUTCOMES[f"rejected:{type(error).__name__}"] += 1
    else:
        tally.OUTCOMES["decided:api_answer_accepted"] += 1
