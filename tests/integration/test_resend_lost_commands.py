"""A lost command is emitted again, and written once: by the resend timer (app/resend.py)
when the consumer skipped it, at once when its change is read again (app/core/decide.py)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.live_mapping import publish_mapping
from app.settings import HoldedSettings
from connectors.holded.sandbox import start_sandbox
from tests.core.factories import change, contact
from tests.support.flow import unique_key
from tests.support.kafka import WorkerProcess, rewind_inbox, skip_unread_commands, wait_for

pytestmark = pytest.mark.kafka
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mapping-es.yaml"
T0 = 1_790_000_000_000


@pytest.fixture
async def holded():
    server = await start_sandbox(port=0)
    yield server
    await server.stop()


async def decide_unsent(own_flow):
    """A worker decides a new contact for Holded, then stops with its command unsent (no
    Holded credentials yet); the worker group is moved past that command: it is lost."""
    flow = await own_flow()
    await publish_mapping(flow.settings, MAPPING)
    key = unique_key()
    await flow.send_changes("odoo", change("odoo", contact(), key=key, ts=T0))
    [cmd] = await flow.wait_commands("holded", 1, key=key)
    await asyncio.to_thread(flow.worker.stop)
    await skip_unread_commands(flow.settings, "holded")
    return flow, key, cmd


async def restart_with_holded(flow, holded, resend_after_s: float) -> None:
    flow.settings = flow.settings.model_copy(update={
        "holded": HoldedSettings(api_url=holded.url, api_key="sandbox-key"),
        "resend_after_s": resend_after_s})
    flow.worker = WorkerProcess(flow.settings, flow.worker.log_path.with_name("again.log")).start()
    await flow.wait_ready()


async def succeeded(flow, key: str, what: str) -> dict:
    async def found():
        results = await flow.read_results("holded", key)
        return [r for r in results if r["status"] == "succeeded"] or None
    [done] = await wait_for(found, 60, what, flow.worker)
    return done


async def test_a_command_the_consumer_skipped_is_resent_and_written_once(own_flow, holded):
    flow, key, cmd = await decide_unsent(own_flow)  # the change itself is not read again
    await restart_with_holded(flow, holded, resend_after_s=2.0)

    done = await succeeded(flow, key, "the resent command's result")
    assert done["command_id"] == cmd["command_id"]  # the same command, not a new decision
    assert "resending " + key in flow.worker.log()
    await flow.wait_idle(60)
    resent = [c for c in await flow.commands("holded", key) if c["caused_by"].startswith("resend:")]
    assert len(resent) == 1  # once settled, nothing is outstanding and nothing is resent
    assert len(await holded.all("contacts", customId=key)) == 1


async def test_a_change_read_again_after_its_command_was_lost_sends_it_at_once(own_flow, holded):
    flow, key, cmd = await decide_unsent(own_flow)
    # What a SIGKILL can leave: the decision saved, its command lost, the change not committed.
    await rewind_inbox(flow.settings)
    await restart_with_holded(flow, holded, resend_after_s=0)  # no resend timer

    done = await succeeded(flow, key, "the command emitted again")
    assert done["command_id"] == cmd["command_id"]  # the same command, not a new decision
    await flow.wait_idle(60)
    first, *again = await flow.commands("holded", key)
    # Emitted again by the change read again, not by the timer (off): once, or once more for
    # each rebalance that had the worker read it again before it committed it.
    assert first == cmd and again
    assert {(c["command_id"], c["caused_by"]) for c in again} == {(cmd["command_id"], cmd["caused_by"])}
    assert len(await holded.all("contacts", customId=key)) == 1
    assert f'holded_sync_resent_commands_total{{system="holded"}} {len(again)}.0' in await flow.metrics()
