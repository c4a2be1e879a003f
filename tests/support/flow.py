"""Drive a running worker through Kafka: publish events and results, read what came out."""
from __future__ import annotations

import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from app.avro import codec
from app.inspect import read_table, read_topic
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options
from tests.support.kafka import WorkerProcess, wait_for


class Flow:
    def __init__(self, settings: Settings, worker: WorkerProcess | None = None) -> None:
        self.settings, self.worker = settings, worker
        self.names = TopicNames(settings)

    async def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        producer = AIOKafkaProducer(**kafka_client_options(self.settings), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=key, value=value)
        finally:
            await producer.stop()

    async def send_changes(self, system: str, *events: dict[str, Any]) -> None:
        producer = AIOKafkaProducer(**kafka_client_options(self.settings), acks="all")
        await producer.start()
        try:
            for ev in events:
                await producer.send_and_wait(self.names.changes(system), key=ev["entity_key"].encode(),
                                             value=codec("ChangeEvent").dumps(ev))
        finally:
            await producer.stop()

    async def send_result(self, result: dict[str, Any]) -> None:
        await self.send_raw(self.names.results(result["target_system"]),
                            result["entity_key"].encode(), codec("CommandResult").dumps(result))

    async def commands(self, system: str, key: str | None = None) -> list[dict[str, Any]]:
        recs = await read_topic(self.settings, self.names.commands(system), codec("Command").loads, key)
        return [r.value for r in recs]

    async def read_results(self, system: str, key: str | None = None) -> list[dict[str, Any]]:
        recs = await read_topic(self.settings, self.names.results(system), codec("CommandResult").loads, key)
        return [r.value for r in recs]

    async def conflicts(self, key: str | None = None) -> list[dict[str, Any]]:
        recs = await read_topic(self.settings, self.names.conflicts, codec("Conflict").loads, key)
        return [r.value for r in recs]

    async def audit(self, key: str | None = None) -> list[dict[str, Any]]:
        recs = await read_topic(self.settings, self.names.audit, codec("AuditRecord").loads, key)
        return [r.value for r in recs]

    async def dlq(self) -> list[dict[str, Any]]:
        return [r.value for r in await read_topic(self.settings, self.names.dlq,
                                                  codec("DeadLetter").loads)]

    async def table(self, name: str) -> dict[str, Any]:
        return await read_table(self.settings, name)

    async def wait_commands(self, system: str, count: int, key: str | None = None,
                            timeout: float = 60.0) -> list[dict[str, Any]]:
        async def enough():
            got = await self.commands(system, key)
            return got if len(got) >= count else None
        return await wait_for(enough, timeout, f"{count} command(s) on commands.{system}", self.worker)

    async def lag(self) -> int:
        """Records not yet processed: sources not yet sequenced plus inbox not yet decided."""
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        opts = kafka_client_options(self.settings)
        sources = [self.names.changes(s) for s in self.settings.systems] + \
                  [self.names.results(s) for s in self.settings.systems]
        with_sink = [s for s in self.settings.systems if s == "holded" and self.settings.holded.api_key]
        sinks = [self.names.commands(s, lane) for s in with_sink
                 for lane in ("realtime", "bulk")] + [self.names.retries(s) for s in with_sink]
        groups = {self.names.sequencer_group: sources, self.names.app_id: [self.names.inbox, *sinks]}
        admin, consumer = AIOKafkaAdminClient(**opts), AIOKafkaConsumer(**opts)
        await admin.start()
        await consumer.start()
        try:
            total = 0
            for group, topics in groups.items():
                committed = await admin.list_consumer_group_offsets(group)
                tps = [TopicPartition(t, p) for t in topics for p in range(self.settings.partitions)]
                ends = await consumer.end_offsets(tps)
                for tp in tps:
                    meta = committed.get(tp)
                    total += ends[tp] - (meta.offset if meta and meta.offset >= 0 else 0)
            return total
        finally:
            await consumer.stop()
            await admin.close()

    async def wait_idle(self, timeout: float = 60.0) -> None:
        async def idle():
            return await self.lag() == 0
        await wait_for(idle, timeout, "the worker to process everything", self.worker)

    async def wait_ready(self, timeout: float = 90.0) -> None:
        url = f"http://127.0.0.1:{self.settings.web_port}/readyz"

        async def ready():
            try:
                async with httpx.AsyncClient(timeout=2.0) as client:
                    return (await client.get(url)).status_code == 200
            except httpx.HTTPError:
                return False
        await wait_for(ready, timeout, "the worker to be ready", self.worker)


def unique_key(entity: str = "contact", system: str = "odoo") -> str:
    return f"{entity}/{system}/{uuid.uuid4().hex[:12]}"
