"""Test helpers around the real broker: unique names, workers as subprocesses, bounded waits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.devkafka.broker import free_port
from app.devrun.process import WorkerProcess, settings_env, wait_for
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options

__all__ = ["KafkaBroker", "WorkerProcess", "rewind_inbox", "settings_env", "skip_unread_commands",
           "wait_for"]


@dataclass(frozen=True)
class KafkaBroker:
    url: str
    bootstrap: str

    def settings(self, tmp_path: Path, **overrides: Any) -> Settings:
        """Settings with a unique topic prefix, app id and ports for one test."""
        base = dict(broker=self.url, topic_prefix=f"t{uuid.uuid4().hex[:10]}.", partitions=4,
                    store="memory://", data_dir=tmp_path / "worker-data", web_port=free_port(),
                    systems=("holded", "odoo"), session_timeout_s=6.0)
        base.update(overrides)
        return Settings(**base)


async def skip_unread_commands(settings: Settings, system: str) -> None:
    """Move the worker group past every real-time command of ``system``: a consumer that
    skipped them (docs/scaling.md), or a kill that lost them. Run it with no worker up."""
    await _commit_worker_group(settings, TopicNames(settings).commands(system), end=True)


async def rewind_inbox(settings: Settings) -> None:
    """Move the worker group back to the start of the inbox: what a kill leaves when it came
    before the commit of the records decided (they are read again). Run it with no worker up."""
    await _commit_worker_group(settings, TopicNames(settings).inbox, end=False)


async def _commit_worker_group(settings: Settings, topic: str, *, end: bool) -> None:
    names = TopicNames(settings)
    tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=names.app_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        offsets = await (consumer.end_offsets(tps) if end else consumer.beginning_offsets(tps))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()
