"""Payments on account from an ERP -> Holded (``POST /payments`` of the contact), against the
in-process Holded sandbox, example mapping; and their echo through the Holded poller."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from app.core.decide import apply_change, apply_result
from app.core.hashing import content_hash
from app.core.policy import default_policy
from connectors.holded.inbound import HELD_FIELDS, as_held
from connectors.holded.mapping import epoch_seconds
from connectors.holded.sandbox import SandboxServer
from connectors.holded.sink import DependencyPending, HoldedSink
from connectors.holded.source import PollState, poll_once
from connectors.odoo.mapping import HELD_FIELDS as ODOO_HELD
from tests.connectors.holded.sink_support import (
    command, contact_command, invoice_commands, make_client, make_sink, payment, product_command,
)
from app.mapping import parse_mapping
from tests.mapping.factories import example_data, example_mapping

INV = "/api/invoicing/v1"
BANCO = "64a1f0c2e4b0a10000000b01"  # the seeded treasury the example mapping calls "banco"
KEY = "payment/odoo/P-7"
MAPPING = example_mapping()
T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def on_account(amount: str = "250.00", *, contact_key: str = "contact/odoo/1",
               treasury: str | None = "banco", **changes: Any) -> dict[str, Any]:
    record = {**payment("unused", amount, reference="Anticipo pedido 12"), "invoice_key": None,
              "contact_key": contact_key, "treasury": treasury}
    record.update(changes)
    return record


def on_account_command(payload: dict[str, Any], *, version: int = 1, **kwargs: Any) -> dict:
    return command("payment", KEY, payload, version=version,
                   depends_on=[payload["contact_key"]], **kwargs)


@pytest.fixture
def sink(sandbox: SandboxServer, http: httpx.AsyncClient) -> HoldedSink:
    return make_sink(make_client(sandbox, http))


async def holded_contact(sink: HoldedSink, n: int = 1) -> str:
    result = (await sink.execute(contact_command(n))).result
    assert result["status"] == "succeeded"
    return result["target_id"]


def posts(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and r.path == f"{INV}/payments")


async def test_a_payment_on_account_becomes_a_payment_of_the_contact(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    contact_id = await holded_contact(sink)
    result = (await sink.execute(on_account_command(on_account()))).result
    assert (result["status"], result["reason"]) == ("succeeded", None)
    [paid] = await sandbox.all("payments")
    assert paid["id"] == result["target_id"] and "documentId" not in paid
    assert (paid["contactId"], paid["bankId"], paid["amount"]) == (contact_id, BANCO, 250.0)
    assert paid["date"] == epoch_seconds(dt.date(2026, 3, 5))
    assert paid["desc"] == f"Anticipo pedido 12 hs:{KEY}"


async def test_a_lost_response_is_found_by_its_marker_never_posted_twice(
        sink: HoldedSink, sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    await holded_contact(sink)
    cmd = on_account_command(on_account())
    sandbox.faults.lose_next_writes = 1
    result = (await sink.execute(cmd)).result
    assert result["status"] == "succeeded"
    assert sandbox.faults.lose_next_writes == 0  # the fault did fire
    assert [r.outcome for r in sandbox.requests if r.path == f"{INV}/payments"
            and r.method == "POST"] == ["dropped"]  # found, not posted again
    redelivered = make_sink(make_client(sandbox, http))  # another worker, empty ledger
    again = (await redelivered.execute(cmd)).result
    assert (again["status"], again["target_id"]) == ("succeeded", result["target_id"])
    assert "not registered twice" in again["reason"]
    assert await sandbox.count("payments") == 1 and posts(sandbox) == 1


async def test_a_contact_not_in_holded_yet_is_a_pending_dependency(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    with pytest.raises(DependencyPending) as info:
        await sink.execute(on_account_command(on_account(contact_key="contact/odoo/8")))
    assert info.value.keys == ("contact/odoo/8",)
    assert posts(sandbox) == 0


async def test_a_contact_born_in_holded_is_paid_by_its_own_id(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    made = await sink.client.contacts.create({"name": "Cliente de Holded", "type": "client"})
    sandbox.requests.clear()
    payload = on_account(contact_key=f"contact/holded/{made['id']}")
    result = (await sink.execute(on_account_command(payload))).result
    assert result["status"] == "succeeded"
    assert (await sandbox.get("payments", result["target_id"]))["contactId"] == made["id"]
    assert not [r for r in sandbox.requests if r.path == f"{INV}/contacts"]  # no search


@pytest.mark.parametrize(("changes", "reason"), [
    ({"treasury": "caja_fuerte"}, "treasury: canonical treasury 'caja_fuerte' is not in mapping"),
    ({"treasury": None, "method": "cheque"}, "canonical payment method 'cheque' is not in"),
    ({"treasury": None}, "needs the treasury it was received in"),
    ({"currency": "USD"}, "Holded payments carry no currency"),
    ({"amount": D("-40.00")}, "-40.00 is not an amount received"),
])
async def test_what_holded_cannot_book_is_parked_with_the_reason_before_any_call(
        sink: HoldedSink, sandbox: SandboxServer, changes: dict, reason: str) -> None:
    await holded_contact(sink)
    sandbox.requests.clear()
    outcome = await sink.execute(on_account_command(on_account(**changes)))
    assert outcome.result["status"] == "parked" and outcome.parked_kind == "mapping"
    assert reason in outcome.result["reason"], outcome.result["reason"]
    assert sandbox.requests == []


async def test_a_treasury_from_the_payment_method_is_used_when_the_payment_names_none(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    method = next(code for code, m in MAPPING.payment_methods.items() if m.treasury)
    treasury_code = MAPPING.payment_methods[method].treasury
    await holded_contact(sink)
    result = (await sink.execute(on_account_command(on_account(treasury=None, method=method)))).result
    assert result["status"] == "succeeded"
    holded_id = MAPPING.system("holded").section("treasuries").to_system(treasury_code)
    assert (await sandbox.get("payments", result["target_id"]))["bankId"] == holded_id


async def test_a_written_payment_that_changed_is_parked_for_review_not_rewritten(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    await holded_contact(sink)
    first = (await sink.execute(on_account_command(on_account()))).result
    changed = on_account_command(on_account("275.00"), version=2, target_id=first["target_id"])
    outcome = await sink.execute(changed)
    assert (outcome.result["status"], outcome.parked_kind, outcome.redrive) == (
        "parked", "review", True)
    assert "amount 250.00 there, 275.00 now" in outcome.result["reason"]
    assert not [r for r in sandbox.requests if r.method == "PUT"]
    assert (await sandbox.get("payments", first["target_id"]))["amount"] == 250.0
    # corrected by hand in Holded: the re-drive finds it equal and is done
    stored = await sandbox.get("payments", first["target_id"])
    assert stored is not None
    await sandbox.state.store.put("payments", {**stored, "amount": 275.0})
    assert (await sink.execute(changed)).result["status"] == "succeeded"
    assert await sandbox.count("payments") == 1


async def test_a_payment_written_on_account_that_now_names_its_invoice_is_parked(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    await holded_contact(sink)
    assert (await sink.execute(product_command(1))).result["status"] == "succeeded"
    assert (await sink.execute(invoice_commands(1, contact_n=1, product_ns=[1]))).result[
        "status"] == "succeeded"
    first = (await sink.execute(on_account_command(on_account("10.00")))).result
    applied = {**on_account("10.00"), "invoice_key": "invoice/odoo/INV-1"}
    outcome = await sink.execute(command("payment", KEY, applied, version=2,
                                         target_id=first["target_id"]))
    assert (outcome.result["status"], outcome.parked_kind) == ("parked", "review")
    assert "payment on account there, not a payment of invoice/odoo/INV-1" in outcome.result["reason"]
    assert await sandbox.count("payments") == 1
    assert not [r for r in sandbox.requests if r.path.endswith("/pay")]


async def test_the_read_back_by_the_holded_poller_is_an_echo_not_a_new_payment(
        sink: HoldedSink, sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    """Odoo -> Holded (the sink writes the payment on account) -> the Holded poller reads it:
    it is recognised by its marker as ``payment/odoo/P-7``, hashes as what was written on
    the fields Holded holds, and the engine sends nothing anywhere (no ping-pong)."""
    policy = default_policy(("odoo",), {"holded": HELD_FIELDS, "odoo": ODOO_HELD},
                            lambda s, e, r: as_held(e, r, MAPPING) if s == "holded" else None)
    await holded_contact(sink)
    payload = on_account()
    erp = apply_change({"event_id": "e-odoo", "entity_key": KEY, "entity": "payment",
                        "source_system": "odoo", "source_id": "7", "source_ts": 1,
                        "op": "upsert", "payload": payload, "content_hash": content_hash(payload),
                        "lane": "realtime"}, None, None, None, policy)
    [to_holded] = erp.commands
    assert (to_holded["target_system"], to_holded["depends_on"]) == ("holded", ["contact/odoo/1"])
    outcome = await sink.execute(to_holded)
    assert outcome.result["status"] == "succeeded"
    written = apply_result(outcome.result, erp.replicas, erp.links)

    client = make_client(sandbox, http)
    state, events = await poll_once(client, PollState(), MAPPING, T0)
    [read_back] = [e for e in events if e["entity"] == "payment"]
    assert read_back["entity_key"] == KEY and read_back["source_id"] == outcome.result["target_id"]
    assert read_back["payload"]["invoice_key"] is None
    assert read_back["payload"]["contact_key"] == "contact/odoo/1"
    echo = apply_change(read_back, erp.state, written.replicas, written.links, policy)
    assert (echo.outcome, echo.commands) == ("echo", [])
    _, events = await poll_once(client, state, MAPPING, T0 + dt.timedelta(minutes=1))
    assert events == []
    assert posts(sandbox) == 1


async def test_a_treasury_the_mapping_lacks_is_parked_and_written_once_mapped(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    """An ERP's new till (treasury ``tpv``) the mapping does not know yet: parked with the
    reason, no call; the mapping version that maps it to a Holded treasury writes it, once."""
    current = [example_mapping()]
    sink = make_sink(make_client(sandbox, http), lambda: current[0])
    await holded_contact(sink)
    cmd = on_account_command(on_account(treasury="tpv"))
    outcome = await sink.execute(cmd)
    assert (outcome.result["status"], outcome.parked_kind) == ("parked", "mapping")
    assert "canonical treasury 'tpv' is not in mapping v3" in outcome.result["reason"]
    assert posts(sandbox) == 0
    till = (await http.post(f"{sandbox.url}/invoicing/v1/treasury", json={"name": "TPV"},
                            headers={"key": "sandbox-key"})).json()["id"]
    data = example_data()
    data["version"] = 4
    data["treasuries"]["tpv"] = {"name": "TPV tienda", "account": "570"}
    data["systems"]["holded"]["treasuries"][till] = "tpv"
    current[0] = parse_mapping(data, source="m.yaml")
    assert (await sink.execute(cmd)).result["status"] == "succeeded"  # the re-drive
    [paid] = await sandbox.all("payments")
    assert paid["bankId"] == till and posts(sandbox) == 1
