"""Operator commands against a running worker: a real conflict is overridden with
`conflicts resolve`, and `history` tells the whole story of the entity."""
from __future__ import annotations

import asyncio
import json

import pytest

from tests.core.factories import change, contact, result_for
from tests.support.flow import unique_key
from tests.support.kafka import wait_for
from tests.test_operator_cli import cli, lines

pytestmark = pytest.mark.kafka
T0 = 1_772_000_000_000


async def run(settings, *args: str):
    """The commands call asyncio.run themselves: run them off the test's event loop."""
    return await asyncio.to_thread(cli, settings, *args)


async def test_resolve_overrides_a_real_conflict_and_history_shows_it(own_flow):
    flow = await own_flow()
    key = unique_key()
    await flow.send_changes("odoo", change("odoo", contact(), key=key, ts=T0))
    [cmd] = await flow.wait_commands("holded", 1, key=key)
    await flow.send_result(result_for(cmd, target_id="h-77"))
    await flow.send_changes("holded", change("holded", contact(), key=key, ts=T0 + 1))
    await flow.send_changes("odoo", change("odoo", contact(tax_id="B11111111"), key=key, ts=T0 + 50))
    await flow.send_changes("holded", change("holded", contact(tax_id="B22222222"), key=key, ts=T0 + 60))

    async def a_conflict():
        return await flow.conflicts(key)
    [c] = await wait_for(a_conflict, 60, "a conflict record", flow.worker)
    loser = "canonical" if c["decision"] == "took_incoming" else "incoming"
    loser_value = json.loads(c[f"{loser}_value"])

    async def settled():
        e = (await flow.table("entities")).get(key)
        return e if e and e["record"]["tax_id"] != loser_value else None
    await wait_for(settled, 60, "the conflict's decision in the entities table", flow.worker)

    shown = await run(flow.settings, "conflicts", "show", c["conflict_id"], "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["decision"] == c["decision"]
    res = await run(flow.settings, "conflicts", "resolve", c["conflict_id"], "--take", loser)
    assert res.exit_code == 0, res.output

    async def overridden():
        e = (await flow.table("entities")).get(key)
        return e if e and e["record"]["tax_id"] == loser_value else None
    state = await wait_for(overridden, 60, "the operator's value in the entities table", flow.worker)
    assert state["provenance"]["tax_id"]["system"] == "operator"
    override = [x for x in await flow.conflicts(key) if x["incoming_system"] == "operator"]
    assert [(x["field"], x["decision"]) for x in override] == [("tax_id", "took_incoming")]

    async def carried():
        return [cm for cm in await flow.commands("holded", key) if cm["payload"]["tax_id"] == loser_value]
    await wait_for(carried, 60, "a command carrying the operator's value to holded", flow.worker)

    hist = await run(flow.settings, "history", key, "--json")
    assert hist.exit_code == 0
    rows = lines(hist)
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    kinds = {r["kind"] for r in rows}
    assert {"change", "command", "result", "conflict"} <= kinds
    assert any(r["kind"] == "change" and r["system"] == "operator" for r in rows)
