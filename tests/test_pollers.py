"""Each system's polls run on their own: a slow system holds back no other."""
from __future__ import annotations

import asyncio

from app.pollers import Polls
from app.settings import Settings


class FakePoller:
    def __init__(self, gate: asyncio.Event | None = None, fail: bool = False) -> None:
        self.gate, self.fail, self.states = gate, fail, []

    async def poll(self, state, now):
        self.states.append(state)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("timed out")
        event = {"entity_key": "contact/odoo/1"}
        return f"after-{len(self.states)}", [event]


async def test_a_stuck_system_does_not_hold_back_the_others_and_states_follow_each_run(monkeypatch):
    import app.pollers as pollers_module

    async def no_saved_states(settings, topic):
        return []
    monkeypatch.setattr(pollers_module, "read_topic", no_saved_states)
    monkeypatch.setattr(pollers_module.CHANGE, "dumps", lambda event: b"avro")
    sent, saved = [], []

    async def send_change(system, key, value):
        sent.append((system, key))

    async def send_state(system, state):
        saved.append((system, state))

    gate = asyncio.Event()
    slow, fast, broken = FakePoller(gate), FakePoller(), FakePoller(fail=True)
    polls = Polls(Settings(systems=("holded", "odoo", "shopify")),
                  {"holded": slow, "odoo": fast, "shopify": broken}, send_change, send_state)
    stuck = asyncio.ensure_future(polls.run("holded"))
    await asyncio.wait_for(polls.run("odoo"), 1)
    await asyncio.wait_for(polls.run("odoo"), 1)
    await asyncio.wait_for(polls.run("shopify"), 1)  # a failed run saves nothing
    assert fast.states == [None, "after-1"] and not stuck.done()
    assert saved == [("odoo", "after-1"), ("odoo", "after-2")]
    gate.set()
    await asyncio.wait_for(stuck, 1)
    assert saved[-1] == ("holded", "after-1")
    assert sent == [("odoo", b"contact/odoo/1")] * 2 + [("holded", b"contact/odoo/1")]
