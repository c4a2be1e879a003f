"""`holded-sync backfill SYSTEM`: a full scan of the system, published as bulk-lane changes."""
from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
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
from tests.support.kafka import wait_for

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

        # --since: Odoo filters on write_date (to the second): only the partner edited after TIME.
        since = math.floor(time.time()) + 1
        await wait_for(lambda: _after(since), 5, "the next second")
        contact_id = int(next(e for e in events if e["entity"] == "contact")["source_id"])
        await odoo.call("res.partner", "write", [contact_id], {"name": "Editado después"})
        when = dt.datetime.fromtimestamp(since, dt.timezone.utc).isoformat()
        res = await invoke(["backfill", "odoo", "--since", when], env)
        assert res.exit_code == 0, res.output
        assert "changed since" in res.output and "published 1 change(s)" in res.output, res.output
        now = [r.value for r in await read_topic(settings, TopicNames(settings).changes("odoo"),
                                                 codec("ChangeEvent").loads)]
        [new] = [e for e in now if e["event_id"] not in {e["event_id"] for e in events}]
        assert (new["source_id"], new["lane"]) == (str(contact_id), "bulk")
        assert new["payload"]["name"] == "Editado después"
        bad = await invoke(["backfill", "odoo", "--since", "soon"], env)
        assert bad.exit_code == 2 and "--since 'soon' is not a time" in bad.output
    finally:
        await odoo.stop()


async def _after(epoch_s: float) -> bool:
    return time.time() >= epoch_s
