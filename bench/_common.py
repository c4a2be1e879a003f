"""Shared by the benchmarks: synthetic contact change events and a local Kafka.

Every event is a new version of one of ``entities`` contacts (round robin), so N events over
E entities give each contact N/E versions, each a real change (the e-mail differs).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from app.avro import codec
from app.core.hashing import content_hash
from app.settings import Settings
from app.topics import kafka_client_options

__all__ = ["contact", "events", "publish", "rss_mb"]

T0 = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)


def contact(i: int, version: int) -> dict:
    return {"kind": "customer", "name": f"Cliente {i}", "trade_name": None,
            "tax_id": f"B{i:08d}", "is_person": False, "email": f"c{i}.v{version}@example.es",
            "phone": None, "mobile": None, "iban": None, "swift": None, "address": None,
            "tax_regime": "general", "payment_method": None, "payment_due_days": 30,
            "price_list": None, "currency": "EUR", "language": "es", "sales_account": None,
            "purchases_account": None, "default_taxes": ["iva_21"], "withholding": None, "tags": []}


def events(n: int, entities: int):
    c = codec("ChangeEvent")
    for seq in range(n):
        i, version = seq % entities, seq // entities
        payload = contact(i, version)
        key = f"contact/odoo/C{i}"
        yield key.encode(), c.dumps({
            "event_id": f"e{seq}", "entity_key": key, "entity": "contact",
            "source_system": "odoo", "source_id": f"C{i}",
            "source_ts": dt.datetime.fromtimestamp((T0 + seq) / 1000, dt.timezone.utc),
            "op": "upsert", "payload": payload, "content_hash": content_hash(payload),
            "lane": "realtime"})


async def publish(settings: Settings, topic: str, n: int, entities: int) -> float:
    """Publish the events to ``topic`` with large producer batches; returns the seconds taken."""
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all", linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    start = time.perf_counter()
    try:
        futures = [await producer.send(topic, key=k, value=v) for k, v in events(n, entities)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - start


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS from /proc; 0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0
