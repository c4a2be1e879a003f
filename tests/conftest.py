"""Shared fixtures. The Kafka broker is real: one local Apache Kafka per test session,
started by the project's own `app.devkafka` and stopped by PID when the session ends."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

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
        info = broker.start(data_dir)
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
