"""Test helpers around the real broker: unique names, workers as subprocesses, bounded waits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.devkafka.broker import free_port
from app.devrun.process import WorkerProcess, settings_env, wait_for
from app.settings import Settings

__all__ = ["KafkaBroker", "WorkerProcess", "settings_env", "wait_for"]


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


