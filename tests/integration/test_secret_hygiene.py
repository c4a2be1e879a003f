"""Secrets never leak: a full flow against the Holded sandbox with a canary API key and a canary
webhook secret, with failing calls on the way, leaves neither anywhere we write: the worker's
debug log, any record (key, value, headers) of any topic of the test's prefix, the worker's
local data, its ``/metrics`` text, or ``holded-sync config show``."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.devrun.process import settings_env
from app.ingest import ingest_file
from app.inspect import read_to_end
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from app.topics import kafka_client_options
from connectors.holded.sandbox import RateLimit, start_sandbox
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "sample-odoo.jsonl"
MAPPING = ROOT / "docs" / "examples" / "mapping-es.yaml"


def needles(secret: str) -> dict[str, bytes]:
    """The secret, its distinctive random part, and the encodings a leak could take."""
    rand = secret.rsplit("-", 1)[-1]
    return {"plain": secret.encode(), "random part": rand[:16].encode(),
            "base64": base64.b64encode(secret.encode()).rstrip(b"="),
            "utf-16": secret.encode("utf-16-le"), "hex": secret.encode().hex().encode()}


def leaks(where: str, data: bytes | None, secrets: dict[str, str]) -> list[str]:
    if not data:
        return []
    return [f"{name} ({form}) in {where}" for name, secret in secrets.items()
            for form, needle in needles(secret).items() if needle in data]


async def raw_records(settings, prefix: str) -> dict[str, list[bytes]]:
    """Every record of every topic whose name carries ``prefix``, as raw bytes."""
    opts = kafka_client_options(settings)
    admin = AIOKafkaAdminClient(**opts)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if prefix in t]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**opts, enable_auto_commit=False)
    await consumer.start()
    out: dict[str, list[bytes]] = {t: [] for t in topics}
    try:
        tps = [TopicPartition(t, p) for t in topics
               for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
        async for tp, m in read_to_end(consumer, tps):
            out[tp.topic].append(b"\x00".join(
                [m.key or b"", m.value or b"", *(k.encode() + v for k, v in m.headers or ())]))
    finally:
        await consumer.stop()
    return out


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or {0}


async def test_the_api_key_and_webhook_secret_appear_in_no_output(own_flow, tmp_path):
    run = uuid.uuid4().hex
    api_key, webhook_secret = f"sk-canary-{run}", f"whsec-canary-{uuid.uuid4().hex}"
    secrets = {"api key": api_key, "webhook secret": webhook_secret}
    holded = await start_sandbox(port=0, api_keys=(api_key,),
                                 rate_limit=RateLimit(requests=50, per_seconds=1.0))
    try:
        # Error paths from the first call on, all of them ones the sinks recover from: 503s, a
        # 429 storm, a write whose response is lost. (An HTML page fails its command for good,
        # and its invoices would wait for it: that one is switched on later, for the pollers.)
        # One of each, so that no single call can exhaust its retries whoever it hits first
        # (poller or sink): the test is about where secrets end up, not about giving up.
        holded.faults.error_next, holded.faults.storm_next = 1, 1
        holded.faults.lose_next_writes = 1
        flow = await own_flow(log_level="debug", poll_interval_s=2.0, holded=HoldedSettings(
            api_url=holded.url, api_key=api_key, webhook_secret=webhook_secret,
            requests_per_second=20))
        await publish_mapping(flow.settings, MAPPING)
        report = await ingest_file(SAMPLE, "odoo", flow.settings)
        assert report.published == 9

        async def invoices():
            docs = await holded.all("documents")
            return docs if len([d for d in docs if d.get("docType", "invoice") == "invoice"]) >= 3 else None
        await wait_for(invoices, 120, "3 invoices in the Holded sandbox", flow.worker)

        # A contact born in Holded (for the webhook), then more failures on the worker's calls:
        # a blocked account (402) while it polls, then more 503s.
        async with httpx.AsyncClient(base_url=holded.url, headers={"key": api_key}) as http:
            made = await http.post("/invoicing/v1/contacts", json={
                "name": "Alta en Holded", "code": "B76543210", "type": "client"})
            assert made.status_code in (200, 201), made.text
            contact_id = made.json()["id"]
        holded.faults.account_blocked = True
        await wait_for(lambda: _blocked_seen(holded), 30, "a worker call refused as blocked",
                       flow.worker)
        holded.faults.account_blocked = False
        holded.faults.html_next, holded.faults.error_next = 1, 2
        await wait_for(lambda: _html_served(holded), 30, "an HTML page served to the worker",
                       flow.worker)

        # Webhooks signed with the secret, a forged one, and one carrying the secret as its
        # signature (a receiver must not echo what it was given).
        web = f"http://127.0.0.1:{flow.settings.web_port}"
        body = json.dumps({"event_id": f"d-{run}", "resource": "contact.create",
                           "id": contact_id}).encode()
        good = hmac.new(webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        async with httpx.AsyncClient(timeout=30) as http:
            replies = [await http.post(f"{web}/webhooks/holded", content=body, headers={
                "Content-Type": "application/json", "X-Holded-Signature": sig})
                for sig in (good, "0" * 64, webhook_secret)]
        assert [r.status_code for r in replies] == [202, 401, 401], [r.text for r in replies]
        await flow.wait_entity(f"contact/holded/{contact_id}", "the webhook's contact")
        await flow.wait_idle(120)

        # The key really was used, and the error paths really ran.
        assert any(r.status == 503 for r in holded.requests)
        assert any(r.status == 429 for r in holded.requests)
        assert any(r.status == 402 for r in holded.requests)
        assert any(r.key_id and r.status in (200, 201) for r in holded.requests)

        async with httpx.AsyncClient(timeout=10) as http:
            metrics = (await http.get(f"{web}/metrics")).content
        assert b"holded_sync_" in metrics
        shown = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "app", "config", "show"], check=False,
            cwd=ROOT, env=settings_env(flow.settings), capture_output=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert flow.settings.topic_prefix.encode() in shown.stdout  # it showed these settings
        records = await raw_records(flow.settings, flow.settings.topic_prefix.rstrip("."))
        assert sum(map(len, records.values())) > 20
        for must in ("changes.odoo", "inbox", "commands.holded", "results.holded", "changelog"):
            assert any(must in t and records[t] for t in records), (must, sorted(records))
    finally:
        await holded.stop()
    flow.worker.stop()
    log = flow.worker.log_path.read_bytes()
    assert b"DEBUG" in log or b"[D]" in log or b"debug" in log.lower(), "the log is not at debug level"

    found = leaks("the worker log", log, secrets)
    found += leaks("config show (stdout)", shown.stdout, secrets)
    found += leaks("config show (stderr)", shown.stderr, secrets)
    found += leaks("/metrics", metrics, secrets)
    found += [hit for topic, recs in records.items() for rec in recs
              for hit in leaks(f"topic {topic}", rec, secrets)]
    data_dir = Path(flow.settings.data_dir)
    for path in data_dir.rglob("*") if data_dir.exists() else ():
        if path.is_file():
            found += leaks(f"file {path}", path.read_bytes(), secrets)
    found += [hit for r in replies for hit in leaks("a webhook reply", r.content, secrets)]
    assert not found, "\n".join(sorted(set(found)))
    print(f"\nsecret hygiene: scanned {len(log)} log bytes, {sum(map(len, records.values()))} "
          f"records in {len(records)} topics, {len(metrics)} bytes of /metrics, config show: "
          "no canary found")


async def _blocked_seen(holded) -> bool:
    return any(r.status == 402 for r in holded.requests)


async def _html_served(holded) -> bool:
    return holded.faults.html_next == 0
