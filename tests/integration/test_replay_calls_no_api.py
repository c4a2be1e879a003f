"""A full replay rebuilds the tables and, after the switch, calls no API (docs/scaling.md)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.bulk_replay import bulk_replay
from app.devkafka.broker import free_port
from app.devrun.process import pipeline_lag
from app.ingest import ingest_file
from app.inspect import read_table
from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import start_sandbox
from connectors.holded.sandbox_middleware import key_id_of
from tests.support.kafka import WorkerProcess, wait_for

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "sample-odoo.jsonl"
MAPPING = ROOT / "docs" / "examples" / "mapping-es.yaml"
WRITES = ("POST", "PUT", "DELETE")
REPLAY_KEY = "replay-key"


@pytest.fixture
async def holded():
    server = await start_sandbox(port=0, api_keys=("sandbox-key", REPLAY_KEY))
    yield server
    await server.stop()


@pytest.mark.parametrize("mode", ["streaming", "bulk"])
async def test_a_replay_rebuilds_the_tables_and_the_switched_generation_writes_nothing(
        own_flow, holded, tmp_path, mode):
    flow = await own_flow(holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key"))
    await publish_mapping(flow.settings, MAPPING)
    await ingest_file(SAMPLE, "odoo", flow.settings)

    async def invoices():
        return len(await holded.all("documents")) >= 3 or None
    await wait_for(invoices, 120, "3 invoices in the Holded sandbox", flow.worker)
    await flow.wait_idle(120)
    live = await read_table(flow.settings, "entities")
    writes_before = sum(r.method in WRITES for r in holded.requests)

    # The replay (generation 1, no sinks) rebuilds the tables beside the live one: a batch job,
    # or a worker reading inbox.
    # Its own key, so the sandbox tells its requests from the live worker's.
    gen1 = flow.settings.model_copy(update={
        "generation": 1, "run_sinks": False, "poll_interval_s": 1.0, "web_port": free_port(),
        "data_dir": tmp_path / "g1", "holded": flow.settings.holded.model_copy(update={"api_key": REPLAY_KEY})})
    if mode == "bulk":
        await bulk_replay(gen1, jobs=1)
        assert await read_table(gen1, "entities") == live
    else:
        replay = WorkerProcess(gen1, tmp_path / "replay.log").start()
        try:
            async def rebuilt():
                return await read_table(gen1, "entities") == live or None
            await wait_for(rebuilt, 120, "generation 1's tables equal to the live ones", replay)
        finally:
            await asyncio.to_thread(replay.stop)
        # It only decided: no API call at all (the live leader polls for both).
        assert [r.path for r in holded.requests if r.key_id == key_id_of(REPLAY_KEY)] == []
    assert sum(r.method in WRITES for r in holded.requests) == writes_before

    # The switch: every worker runs generation 1, sinks on. Its sinks read every re-emitted
    # command, find it in the ledger, and write nothing.
    await asyncio.to_thread(flow.worker.stop)
    switched = gen1.model_copy(update={"run_sinks": True})
    flow.worker = WorkerProcess(switched, tmp_path / "switched.log").start()

    async def caught_up():
        return await pipeline_lag(switched) == 0 or None
    await wait_for(caught_up, 120, "generation 1 to execute every re-emitted command", flow.worker)
    assert [(r.method, r.path) for r in holded.requests if r.method in WRITES][writes_before:] == []
    links = await read_table(switched, "links")
    assert links["invoice/odoo/INV-2026-0042"]["ids"]["holded"]


async def test_a_worker_with_sinks_does_not_join_a_generation_while_the_replays_worker_is_in_it(
        own_flow, tmp_path):
    """faust needs every member of a group to run the same agents and tables: the replay's
    worker (sinks off) and a switched worker (sinks on) in one group broke the assignment."""
    from click.testing import CliRunner

    from app.cli import cli
    from app.devrun.process import settings_env
    from app.replay import ReplayRunning, require_no_replay_worker

    replaying = await own_flow(generation=1, run_sinks=False, store="rocksdb://")
    switched = replaying.settings.model_copy(update={
        "run_sinks": True, "web_port": free_port(), "data_dir": tmp_path / "switched"})
    with pytest.raises(ReplayRunning):  # checked first: a worker started without it would run on
        await require_no_replay_worker(switched)
    await require_no_replay_worker(replaying.settings.model_copy(update={"generation": 0}))
    env = {**settings_env(switched), "HOLDED_SYNC_RUN_SINKS": "true"}
    refused = await asyncio.to_thread(CliRunner().invoke, cli, ["worker"], env=env)
    assert refused.exit_code == 3, refused.output
    assert "error: the replay job's worker is still running in generation 1; stop it first" \
        in refused.output
    assert f"member of consumer group {switched.topic_prefix}holded-sync-g1" in refused.output


async def test_after_a_switch_reading_the_old_generation_says_so_and_resolving_from_it_is_refused(own_flow):
    from click.testing import CliRunner

    from app.cli import cli
    from app.devrun.process import settings_env

    switched = await own_flow(generation=1)
    env = {**settings_env(switched.settings), "HOLDED_SYNC_GENERATION": "0"}
    read = await asyncio.to_thread(CliRunner().invoke, cli, ["tables", "entities"], env=env)
    assert read.exit_code == 0, read.output
    assert ("note: the workers run generation 1, and this read generation 0, which they no longer "
            "keep: set HOLDED_SYNC_GENERATION=1 as they have it") in read.stderr
    resolve = await asyncio.to_thread(CliRunner().invoke, cli,
                                      ["conflicts", "resolve", "c0ffee", "--take", "incoming"], env=env)
    assert resolve.exit_code == 2, resolve.output
    assert "error: the workers run generation 1, and this would resolve from generation 0's" \
        in resolve.stderr
    # With the workers' generation, no note (and resolve goes on to look the conflict up).
    env["HOLDED_SYNC_GENERATION"] = "1"
    read = await asyncio.to_thread(CliRunner().invoke, cli, ["tables", "entities"], env=env)
    assert "the workers run generation" not in read.stderr
