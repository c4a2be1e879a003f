"""The benchmarks' shared helpers: the event generator and the RSS reader (no Kafka)."""
from __future__ import annotations

import os

from app.avro import codec
from bench._common import events, rss_mb


def test_events_cycle_over_the_entities_with_a_new_version_each_round() -> None:
    got = [(k.decode(), codec("ChangeEvent").loads(v)) for k, v in events(7, 3)]
    assert [k for k, _ in got] == [f"contact/odoo/C{i % 3}" for i in range(7)]
    assert all(ev["entity_key"] == k for k, ev in got)
    assert len({ev["content_hash"] for _, ev in got}) == 7  # every event is a real change
    assert got[6][1]["payload"]["email"] == "c0.v2@example.es"


def test_rss_of_this_process_and_of_no_process() -> None:
    assert rss_mb(os.getpid()) > 1
    assert rss_mb(2**22 + 12345) == 0.0  # above pid_max's default: never a live pid
