"""Run holded-sync pieces as child processes for the demo, benchmarks and tests.

A worker is `python -m app worker` with the settings passed as environment variables, in its
own process group, stopped by PID (SIGTERM, then SIGKILL after a bounded wait).
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from app.parent_death import die_with_parent
from app.settings import Settings

__all__ = ["WaitFailed", "WorkerProcess", "pipeline_lag", "settings_env", "wait_for", "wait_idle", "wait_ready"]

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load exactly ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLDED_", "ODOO_", "BC_"))}
    for name, value in settings:
        if isinstance(value, BaseSettings):
            prefix = value.model_config.get("env_prefix", "")
            env.update({f"{prefix}{sub}".upper(): _env_value(v) for sub, v in value if v is not None})
        elif value is not None:
            env[f"HOLDED_SYNC_{name}".upper()] = _env_value(value)
    return env


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):  # field_owners: "contact.tax_id=holded,..."
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@dataclass
class WorkerProcess:
    """`holded-sync worker` in a child process, killed by PID at the end of the test (or
    by the kernel when the process that started it dies: app/parent_death.py)."""

    settings: Settings
    log_path: Path
    proc: subprocess.Popen | None = field(default=None)

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"], env=settings_env(self.settings), cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent())
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


class WaitFailed(AssertionError):
    """A bounded wait that ended without its condition (timed out, or the worker exited).
    An AssertionError for the tests that use it; the demo tells the user instead."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


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
            raise WaitFailed(f"worker exited ({worker.proc.returncode}) while waiting for "
                             f"{what}:\n{worker.log()[-3000:]}", what)
        await asyncio.sleep(0.25)
    tail = worker.log()[-3000:] if worker else ""
    raise WaitFailed(f"timed out after {timeout:.0f}s waiting for {what}; last={last!r}\n{tail}",
                     what)


async def pipeline_lag(settings: Settings) -> int:
    """Records not yet processed: sources not yet sequenced, inbox not yet decided, and
    commands not yet executed by this worker's sinks."""
    from app.lag import GroupReader, watched_groups

    with_sink = [s for s in settings.systems
                 if s == "holded" and settings.holded.api_key and settings.run_sinks]
    async with GroupReader(settings) as reader:
        total = 0
        for group, topics in watched_groups(settings, with_sink).items():
            total += sum(p.end - p.committed for p in (await reader.read(group, topics)).values())
        return total


async def wait_idle(settings: Settings, worker: WorkerProcess | None = None, timeout: float = 60.0) -> None:
    async def idle() -> bool:
        return await pipeline_lag(settings) == 0
    await wait_for(idle, timeout, "the worker to process everything", worker)


async def wait_ready(settings: Settings, worker: WorkerProcess | None = None, timeout: float = 90.0) -> None:
    import httpx

    url = f"http://127.0.0.1:{settings.web_port}/readyz"

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                return (await client.get(url)).status_code == 200
        except httpx.HTTPError:
            return False
    await wait_for(ready, timeout, "the worker to be ready", worker)
