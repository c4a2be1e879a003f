"""A contact's IBAN edited from Odoo's Bank Accounts menu (a ``res.partner.bank`` written,
created, archived or deleted without writing the partner) reaches the engine: the source walks
bank accounts by their own ``write_date`` and re-reads their holders."""
from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from connectors.odoo.client import OdooClient
from connectors.odoo.sandbox import OdooSandbox
from connectors.odoo.poll_state import OdooPollState
from connectors.odoo.source import OdooSource
from connectors.odoo.webhook_refs import WebhookRefs
from tests.connectors.odoo.support import MAPPING, make_client, now

SEEDED_IBAN = "ES9121000418450200051332"
NEW_IBAN = "ES7921000813610123456789"


class Recorded:
    """The real client, noting the partners each search_read returned (the contact walk's
    and the bank walk's reads; an invoice's partner is read by id, not counted)."""

    def __init__(self, client: OdooClient) -> None:
        self.client, self.partner_reads = client, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def search_read(self, model: str, domain: Any = (), fields: Any = (), **kw: Any) -> Any:
        rows = await self.client.search_read(model, domain, fields, **kw)
        if model == "res.partner":
            self.partner_reads += [r["id"] for r in rows]
        return rows


def contacts(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = [e for e in events if e["entity"] == "contact"]
    assert len(found) == len({e["entity_key"] for e in found}), "a contact reported twice"
    return {e["entity_key"]: e["payload"] for e in found}


async def bank_of(sb: OdooSandbox, partner: int) -> int:
    [bank] = await sb.call("res.partner.bank", "search", [("partner_id", "=", partner)])
    return int(bank)


class Later:
    """Odoo's clock and the poller's, a minute apart at each ``step``: what the seed wrote is
    then out of the contact walk's overlap, as in a real deployment."""

    def __init__(self, sb: OdooSandbox) -> None:
        self.sb, self.now = sb, now()

    def step(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        moment = self.now
        self.sb.orm.clock = lambda: moment
        return moment


async def first_poll(sb: OdooSandbox, http: httpx.AsyncClient
                     ) -> tuple[OdooSource, OdooPollState, Recorded, Later]:
    client = Recorded(make_client(sb, http))
    source, later = OdooSource(client, MAPPING), Later(sb)  # type: ignore[arg-type]
    state, events = await source.poll(None, later.step())
    assert contacts(events)["contact/odoo/1"]["iban"] == SEEDED_IBAN
    client.partner_reads.clear()
    later.step()  # Odoo's writes from now on are a minute later
    return source, state, client, later


async def partner_write_date(sb: OdooSandbox, partner: int) -> str:
    [row] = await sb.call("res.partner", "read", [partner], ["write_date"])
    return str(row["write_date"])


async def test_an_iban_edited_on_the_bank_account_reaches_the_contact(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    source, state, _, later = await first_poll(sb, http)
    before = await partner_write_date(sb, 1)
    await sb.call("res.partner.bank", "write", [await bank_of(sb, 1)], {"acc_number": NEW_IBAN})
    assert await partner_write_date(sb, 1) == before  # the partner itself did not move
    state, events = await source.poll(state, later.step())
    assert contacts(events)["contact/odoo/1"]["iban"] == NEW_IBAN
    # The overlap brings the account again next run: nothing new to report.
    _, events = await source.poll(state, later.step())
    assert contacts(events) == {}


async def test_a_bank_account_created_archived_or_deleted_changes_the_contact(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    source, state, _, later = await first_poll(sb, http)
    [bank] = await sb.call("res.partner.bank", "create", [{"partner_id": 2,
                                                            "acc_number": NEW_IBAN}])
    state, events = await source.poll(state, later.step())
    assert contacts(events)["contact/odoo/2"]["iban"] == NEW_IBAN
    await sb.call("res.partner.bank", "write", [bank], {"active": False})  # archived
    state, events = await source.poll(state, later.step())
    assert contacts(events)["contact/odoo/2"]["iban"] is None
    # A real delete moves no write_date: the source misses the account it knew.
    assert await bank_of(sb, 1) in state.bank_holders
    await sb.call("res.partner.bank", "unlink", [await bank_of(sb, 1)])
    state, events = await source.poll(state, later.step())
    assert contacts(events)["contact/odoo/1"]["iban"] is None
    assert state.bank_holders == {bank: 2}  # the deleted one forgotten, the archived one kept
    _, events = await source.poll(state, later.step())
    assert contacts(events) == {}


async def test_a_bank_account_moved_to_another_partner_reports_both(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    source, state, _, later = await first_poll(sb, http)
    await sb.call("res.partner.bank", "write", [await bank_of(sb, 1)], {"partner_id": 2})
    _, events = await source.poll(state, later.step())
    found = contacts(events)
    assert (found["contact/odoo/1"]["iban"], found["contact/odoo/2"]["iban"]) == (None, SEEDED_IBAN)


async def test_a_partner_changed_with_its_bank_account_is_read_once(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    source, state, client, later = await first_poll(sb, http)
    await sb.call("res.partner.bank", "write", [await bank_of(sb, 1)], {"acc_number": NEW_IBAN})
    await sb.call("res.partner", "write", [1], {"phone": "+34 961 999 999"})
    _, events = await source.poll(state, later.step())
    payload = contacts(events)["contact/odoo/1"]
    assert (payload["iban"], payload["phone"]) == (NEW_IBAN, "+34 961 999 999")
    assert client.partner_reads.count(1) == 1


async def test_a_bank_account_of_a_person_of_a_company_is_not_a_contact_change(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    [person] = await sb.call("res.partner", "create", [{"name": "Ana Ruiz", "parent_id": 1}])
    source, state, _, later = await first_poll(sb, http)
    await sb.call("res.partner.bank", "create", [{"partner_id": person, "acc_number": NEW_IBAN}])
    _, events = await source.poll(state, later.step())
    # Not the company's IBAN (the contact maps its own accounts), and the person is no contact.
    assert contacts(events) == {}


async def test_a_webhook_on_a_bank_account_reports_its_holder(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    source = OdooSource(make_client(sb, http), MAPPING)
    bank = await bank_of(sb, 1)
    await sb.call("res.partner.bank", "write", [bank], {"acc_number": NEW_IBAN})
    events = await source.fetch([WebhookRefs("res.partner.bank", (bank,))])
    assert contacts(events)["contact/odoo/1"]["iban"] == NEW_IBAN


def test_the_poll_state_keeps_the_bank_holders_through_json() -> None:
    state = OdooPollState({}, {7: 1, 12: 3})
    assert OdooPollState.from_json(state.to_json()).bank_holders == {7: 1, 12: 3}
    assert OdooPollState.from_json('{}').bank_holders == {}
