"""Drive a running worker through Kafka: publish events and results, read what came out."""
from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from aiokafka import AIOKafkaProducer

from app.avro import codec
from app.inspect import read_table, read_topic
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options
from app.devrun.process import WorkerProcess, pipeline_lag, wait_for, wait_idle, wait_ready


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
        """Commands for ``system`` in both lanes (real-time first)."""
        out = []
        for lane in ("realtime", "bulk"):
            recs = await read_topic(self.settings, self.names.commands(system, lane),
                                    codec("Command").loads, key)
            out += [r.value for r in recs]
        return out

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

    async def wait_entity(self, key: str, what: str, check: Any = None,
                          timeout: float = 60.0) -> dict[str, Any]:
        """The entity's canonical state once the table has it (and ``check(state)`` holds). A
        state is stored a produce round trip after the records of its decision
        (app/direct_table.py), so seeing a command does not mean the table has its state yet."""
        async def stored():
            state = (await self.table("entities")).get(key)
            return state if state is not None and (check is None or check(state)) else None
        return await wait_for(stored, timeout, what, self.worker)

    async def wait_commands(self, system: str, count: int, key: str | None = None,
                            timeout: float = 60.0) -> list[dict[str, Any]]:
        async def enough():
            got = await self.commands(system, key)
            return got if len(got) >= count else None
        return await wait_for(enough, timeout, f"{count} command(s) on commands.{system}", self.worker)

    async def metrics(self) -> str:
        """The worker's /metrics page (Prometheus text)."""
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"http://127.0.0.1:{self.settings.web_port}/metrics")).text

    async def lag(self) -> int:
        return await pipeline_lag(self.settings)

    async def wait_idle(self, timeout: float = 60.0) -> None:
        await wait_idle(self.settings, self.worker, timeout)

    async def wait_ready(self, timeout: float = 90.0) -> None:
        await wait_ready(self.settings, self.worker, timeout)


def metric_value(text: str, series: str, default: float | None = None) -> float | None:
    """The value of one series of a /metrics page, as printed (``name{labels}``), or
    ``default`` when the page does not have it."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else default


def unique_key(entity: str = "contact", system: str = "odoo") -> str:
    return f"{entity}/{system}/{uuid.uuid4().hex[:12]}"
