"""Shared fixtures. The Kafka broker is real: one local Apache Kafka per test session,
started by the project's own `app.devkafka` and stopped by PID when the session ends (or by
the kernel, with the workers the tests start, if pytest itself is killed: app/parent_death.py).

`make test` runs the suite in two processes (pytest-xdist): the integration tests spend most
of their time waiting on workers, polls and commits, not on the CPU. Each process is a
session of its own, with its own broker. The hooks below keep each test module in one process
(its module-scoped workers), and the chaos and fuzz suites each whole in one process (one
reference run for all chaos scenarios; the fuzz minimum counts the whole suite). They also
bring every process's chaos and fuzz counts to the summary."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.chaos import tally as chaos_tally
from tests.fuzz import tally as fuzz_tally
from tests.support.kafka import KafkaBroker

# Property tests check behaviour, not speed: on a loaded 2-core CI machine hypothesis's
# per-example deadline (200 ms) and its too-slow health check fail them for timing alone.
hypothesis_settings.register_profile("holded-sync", deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("holded-sync")


@pytest.fixture(scope="session")
def kafka() -> KafkaBroker:
    from app.devkafka import broker

    data_dir = Path(tempfile.mkdtemp(prefix="holded-sync-kafka-"))
    try:
        info = broker.start(data_dir, die_with_parent=True)  # even if pytest is killed
    except broker.DevKafkaError as exc:
        pytest.fail(f"the local Kafka broker could not start: {exc}")
    try:
        yield KafkaBroker(info.url, info.bootstrap)
    finally:
        keep = bool(os.environ.get("HOLDED_SYNC_KEEP_KAFKA_DATA"))
        # Data about to be deleted needs no clean shutdown (about 10 s with a session's topics).
        broker.stop(data_dir, **({} if keep else {"timeout": 1.0}))
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)


_ONE_PROCESS = ("tests/chaos/", "tests/fuzz/")  # suites whose tests share one process


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Hand out whole test modules, and the chaos and fuzz suites whole (see the docstring).

    xdist's own ``xdist_group`` marks set the node id through a field pytest 9 no longer
    reads, so the grouping is done here, in the scheduler, instead."""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndSuites(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((suite for suite in _ONE_PROCESS if path.startswith(suite)), path)

    return ModulesAndSuites(config, log)


def pytest_sessionfinish(session):
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # a parallel worker: its counts go to the controller
        output["tallies"] = {"chaos": chaos_tally.export(), "fuzz": fuzz_tally.export()}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    tallies = getattr(node, "workeroutput", {}).get("tallies") or {}
    chaos_tally.merge(tallies.get("chaos", {}))
    fuzz_tally.merge(tallies.get("fuzz", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    if fuzz_tally.total():
        tr.write_sep("=", f"bad events fuzzed: {fuzz_tally.total()} (minimum {fuzz_tally.MINIMUM})")
        for name, n in sorted(fuzz_tally.FUZZED.items()):
            tr.write_line(f"  {name:<28} {n:>7}")
        tr.write_line("  outcomes:")
        for name, n in sorted(fuzz_tally.OUTCOMES.items()):
            tr.write_line(f"  {name:<40} {n:>7}")
    data = chaos_tally.write()
    if data:
        tr.write_sep("-", "chaos summary")
        for key, value in data.items():
            if key != "by_scenario":
                tr.write_line(f"{key}: {value}")
        for scenario, facts in data["by_scenario"].items():
            tr.write_line(f"  {scenario}: {facts}")
        tr.write_line(f"(written to {chaos_tally.SUMMARY})")

