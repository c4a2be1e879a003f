"""The Holded poller's settings (docs/holded.md §6): HOLDED_POLL_DOCUMENTS,
HOLDED_DOCUMENT_OVERLAP, HOLDED_PAYMENT_OVERLAP and HOLDED_RESCAN_EVERY reach the poller the
worker runs. Until session 23 the docs listed them as proposed, and nothing read them."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from app.connections import holded_poll_config, pollers
from app.settings import Settings
from connectors.holded.source import PAYMENTS, PollState, begin_run, commit
from tests.connectors.holded.test_inbound import (
    MAPPING, contact, create_contact, create_invoice, priced,
)
from tests.connectors.holded.test_source import holded, sandbox  # noqa: F401 (fixtures)
from tests.mapping.factories import line

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def env_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(systems=("holded",))


def epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def after_first_run(config) -> PollState:
    run = begin_run(PollState(), T0, config)
    return commit(PollState(), run, resources=config.resources())


def test_the_environment_sets_the_types_the_windows_and_the_rescan(monkeypatch) -> None:
    default = holded_poll_config(env_settings(monkeypatch).holded)
    assert default.doc_types == ("invoice", "creditnote")
    seven_hours_later = begin_run(after_first_run(default), T0 + 7 * HOUR, default)
    assert not seven_hours_later.full  # a day between full re-scans
    assert seven_hours_later.windows["invoice"] == epoch(T0 - dt.timedelta(days=2))

    config = holded_poll_config(env_settings(
        monkeypatch, HOLDED_POLL_DOCUMENTS="invoice, sales_receipt", HOLDED_DOCUMENT_OVERLAP="PT1H",
        HOLDED_PAYMENT_OVERLAP="0", HOLDED_RESCAN_EVERY="21600").holded)
    assert config.doc_types == ("invoice", "salesreceipt")  # Holded's names for them
    state = after_first_run(config)
    run = begin_run(state, T0 + 2 * HOUR, config)
    assert not run.full
    assert set(run.windows) == {"contacts", "invoice", "salesreceipt", PAYMENTS}  # no credit notes
    assert (run.windows["invoice"], run.windows["salesreceipt"], run.windows[PAYMENTS]) == (
        epoch(T0 - HOUR), epoch(T0 - HOUR), epoch(T0))
    assert begin_run(state, T0 + 7 * HOUR, config).full  # six hours between full re-scans


def test_a_document_type_added_later_is_read_whole_in_the_bulk_lane_once(monkeypatch) -> None:
    state = after_first_run(holded_poll_config(env_settings(monkeypatch).holded))
    wider = holded_poll_config(env_settings(
        monkeypatch, HOLDED_POLL_DOCUMENTS="invoice,credit_note,sales_receipt").holded)
    run = begin_run(state, T0 + HOUR, wider)
    assert run.full and run.lane == "bulk"  # its backlog waits behind real-time work
    assert run.windows["salesreceipt"] is None
    state = commit(state, run, resources=wider.resources())
    assert not begin_run(state, T0 + 2 * HOUR, wider).full


@pytest.mark.parametrize(("name", "value", "says"), [
    ("HOLDED_POLL_DOCUMENTS", "invoice,creditnote", "'credit_note'"),  # Holded's name, not ours
    ("HOLDED_POLL_DOCUMENTS", " , ", "at least 1 item"),
    ("HOLDED_RESCAN_EVERY", "0", "more than 0 seconds"),
    ("HOLDED_DOCUMENT_OVERLAP", "-60", "0 seconds or more"),
    ("HOLDED_PAYMENT_OVERLAP", "two days", "payment_overlap"),
])
def test_a_wrong_value_is_refused_with_the_setting_named(monkeypatch, name, value, says) -> None:
    with pytest.raises(ValidationError, match=says):
        env_settings(monkeypatch, **{name: value})


async def test_sales_receipts_are_polled_only_when_the_setting_names_them(
        holded, monkeypatch):  # noqa: F811
    contact_id = await create_contact(holded, contact(), "contact/odoo/7")
    receipt = priced([line(1, unit_price="30.00", taxes=("iva_21",))], doc_type="sales_receipt",
                     customer_key="contact/odoo/7", issue_date=dt.date(2026, 3, 9))
    await create_invoice(holded, receipt, "invoice/odoo/TK-1", contact_id)
    live = SimpleNamespace(current=MAPPING, version=1)

    async def polled(settings: Settings) -> dict[str, dict]:
        poller = pollers(settings, live, {"holded": holded})["holded"]
        _state, events = await poller.poll(None, T0)
        return {e["entity_key"]: e["payload"] for e in events}

    assert set(await polled(env_settings(monkeypatch))) == {"contact/odoo/7"}
    with_receipts = await polled(env_settings(
        monkeypatch, HOLDED_POLL_DOCUMENTS="invoice,credit_note,sales_receipt"))
    assert set(with_receipts) == {"contact/odoo/7", "invoice/odoo/TK-1"}
    assert with_receipts["invoice/odoo/TK-1"]["doc_type"] == "sales_receipt"
