"""`holded-sync backfill SYSTEM`: a full scan of the system, published as bulk-lane changes."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.avro import codec
from app.cli import cli
from app.devrun.process import settings_env
from app.devrun.sandboxes import start_erp_sandbox
from app.inspect import read_topic
from app.live_mapping import publish_mapping
from app.topics import TopicNames, ensure_topics

pytestmark = pytest.mark.kafka


async def invoke(args: list[str], env: dict[str, str]):
    """The CLI runs its own event loop: call it from a thread, as a shell would."""
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mapping-es.yaml"


async def test_backfill_publishes_everything_in_the_bulk_lane(kafka, tmp_path):
    odoo, extra = await start_erp_sandbox("odoo")
    try:
        settings = kafka.settings(tmp_path, **extra)
        await ensure_topics(settings)
        env = settings_env(settings)
        refused = await invoke(["backfill", "odoo"], env)
        assert refused.exit_code == 3 and "no mapping published" in refused.output
        await publish_mapping(settings, MAPPING)
        res = await invoke(["backfill", "odoo", "--entity", "invoice", "--entity", "contact"], env)
        assert res.exit_code == 0, res.output
        assert "published 4 change(s)" in res.output and "2 invoice(s)" in res.output
        events = [r.value for r in await read_topic(settings, TopicNames(settings).changes("odoo"),
                                                    codec("ChangeEvent").loads)]
        assert sorted(e["entity"] for e in events) == ["contact", "contact", "invoice", "invoice"]
        assert {e["lane"] for e in events} == {"bulk"}
        unknown = await invoke(["backfill", "sap_b1"], env)
        assert unknown.exit_code == 2 and "not configured" in unknown.output
    finally:
        await odoo.stop()
