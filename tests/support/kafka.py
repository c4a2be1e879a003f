"""Test helpers around the real broker: unique names, workers as subprocesses, bounded waits."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.devkafka.broker import free_port
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


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


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLDED_", "ODOO_", "BC_"))}
    env.update({
        "HOLDED_SYNC_BROKER": settings.broker, "HOLDED_SYNC_APP_ID": settings.app_id,
        "HOLDED_SYNC_TOPIC_PREFIX": settings.topic_prefix,
        "HOLDED_SYNC_PARTITIONS": str(settings.partitions), "HOLDED_SYNC_STORE": settings.store,
        "HOLDED_SYNC_DATA_DIR": str(settings.data_dir), "HOLDED_SYNC_WEB_PORT": str(settings.web_port),
        "HOLDED_SYNC_SYSTEMS": ",".join(settings.systems),
        "HOLDED_SYNC_GENERATION": str(settings.generation),
        "HOLDED_SYNC_SESSION_TIMEOUT_S": str(settings.session_timeout_s),
        "HOLDED_SYNC_DEPENDENCY_WAIT_S": str(settings.dependency_wait_s),
        "HOLDED_API_URL": settings.holded.api_url, "HOLDED_API_VERSION": settings.holded.api_version,
        "HOLDED_REQUESTS_PER_SECOND": str(settings.holded.requests_per_second),
    })
    if settings.holded.api_key:
        env["HOLDED_API_KEY"] = settings.holded.api_key.get_secret_value()
    return env


@dataclass
class WorkerProcess:
    """`holded-sync worker` in a child process, killed by PID at the end of the test."""

    settings: Settings
    log_path: Path
    proc: subprocess.Popen | None = field(default=None)

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"], env=settings_env(self.settings), cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def wait_for(condition: Callable[[], Awaitable[Any]], timeout: float = 60.0,
                   what: str = "condition", worker: WorkerProcess | None = None) -> Any:
    """Poll an async condition until it returns something truthy; fail clearly on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await condition()
        if last:
            return last
        if worker and worker.proc and worker.proc.poll() is not None:
            raise AssertionError(f"worker exited ({worker.proc.returncode}) while waiting for "
                                 f"{what}:\n{worker.log()[-3000:]}")
        await asyncio.sleep(0.25)
    tail = worker.log()[-3000:] if worker else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last={last!r}\n{tail}")
