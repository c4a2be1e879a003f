"""A worker catching up on the mappings topic re-drives its parked commands once.

Each restart used to hand every version the topic still held to the sinks' listener, and
each one re-drove the parked commands: (versions - 1) useless commands and parked results
per parked command, counted by the operator page's "times".
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from app.live_mapping import LiveMapping, publish_mapping
from app.settings import Settings
from app.sinks import _redrive_parked
from app.topics import ensure_topics
from tests.connectors.holded.test_sink_lanes import Sent, parked
from tests.support.kafka import wait_for

pytestmark = pytest.mark.kafka
EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs" / "examples"
                          / "mapping-es.yaml").read_text(encoding="utf-8"))


async def publish(settings: Settings, tmp: Path, version: int) -> None:
    path = tmp / f"v{version}.yaml"
    path.write_text(yaml.safe_dump({**EXAMPLE, "version": version}, allow_unicode=True))
    await publish_mapping(settings, path)


async def test_catching_up_on_several_versions_re_drives_parked_commands_once(kafka, tmp_path):
    settings = kafka.settings(tmp_path)
    await ensure_topics(settings)
    for version in (3, 4, 5, 6):  # published while the worker was down
        await publish(settings, tmp_path, version)

    # A command parked without a mapping and one parked under v6, the last version.
    ledger, commands = dict([parked(1, None), parked(2, 6)]), Sent()
    live, stopping, heard, redrives = LiveMapping(), asyncio.Event(), [], []

    def on_new_mapping(mapping) -> None:  # as app.sinks.register_sinks wires it
        heard.append(mapping.version)
        redrives.append(asyncio.ensure_future(
            _redrive_parked({"holded": [(commands, ledger)]}, mapping.version)))
    live.on_change(on_new_mapping)
    follow = asyncio.create_task(live.follow(settings, stopping))
    try:
        await asyncio.wait_for(live.loaded.wait(), 30)
        await asyncio.gather(*redrives)
        assert live.version == 6
        assert heard == [6]  # not 3, 4, 5: they were not in force once the topic was read
        # what v6 did not park goes once; what it parked stays
        assert [r["key"] for r in commands.records] == [b"contact/odoo/1"]

        await publish(settings, tmp_path, 7)  # a version published while the worker runs

        async def v7_heard() -> bool:
            return heard == [6, 7]
        await wait_for(v7_heard, 30, "v7 announced")
        await asyncio.gather(*redrives)
        assert sorted(r["key"] for r in commands.records[1:]) == [b"contact/odoo/1", b"contact/odoo/2"]
    finally:
        stopping.set()
        await follow
