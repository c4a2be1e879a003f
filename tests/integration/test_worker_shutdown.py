"""A worker stops cleanly on SIGTERM, well inside the time Kubernetes gives it: the StatefulSet's
terminationGracePeriodSeconds less its preStop pause (k8s/base/statefulset.yaml), and compose's
stop_grace_period. Past it the kubelet sends SIGKILL: offsets and table writes of the last
moments are lost (safe, but re-done after the restart)."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import yaml

from app.devkafka.broker import free_port
from app.devrun.process import wait_ready
from app.topics import ensure_topics
from tests.core.factories import change, contact
from tests.support.flow import Flow, unique_key
from tests.support.kafka import WorkerProcess

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]


def shutdown_budgets_s() -> dict[str, float]:
    """Seconds a worker has between SIGTERM and SIGKILL, per deployment."""
    sts = yaml.safe_load((ROOT / "k8s/base/statefulset.yaml").read_text())
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command  # the pause runs before SIGTERM, inside the grace
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {"kubernetes": pod["terminationGracePeriodSeconds"] - float(command[1]),
            "compose": float(compose["services"]["worker"]["stop_grace_period"].rstrip("s"))}


def test_the_grace_period_leaves_time_after_the_prestop_pause():
    assert all(budget >= 30 for budget in shutdown_budgets_s().values())


async def test_a_busy_worker_stops_on_sigterm_within_the_grace_period(kafka, tmp_path):
    settings = kafka.settings(tmp_path, web_port=free_port(), group_instance_id="holded-sync-0",
                              store="rocksdb://")  # as deployed: its tables are flushed too
    await ensure_topics(settings)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        await wait_ready(settings, worker, 120)
        flow = Flow(settings, worker)
        # Work in flight when the signal comes: changes being sequenced and decided.
        await flow.send_changes("odoo", *(change("odoo", contact(), key=unique_key()) for _ in range(200)))
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)  # to the process only, as the kubelet does
        code = worker.proc.wait(max(shutdown_budgets_s().values()))
        took = time.monotonic() - started
    finally:
        worker.stop(signal.SIGKILL)
    assert code == 0, worker.log()[-3000:]
    # Half the smaller budget: room for a slower node than this one.
    assert took < min(shutdown_budgets_s().values()) / 2, took
    assert "Traceback" not in worker.log()
