"""`backfill --since`: the poller state that reads only what changed since a time, per system."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from app.backfill import since_state
from connectors.base.polling import PollState, begin

SINCE = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("system", ["odoo", "business_central", "shopify"])
def test_every_stream_starts_at_the_time_without_look_back(system):
    text, warning = since_state(system, SINCE)
    streams = {name: PollState.from_json(s) for name, s in json.loads(text).items()}
    assert streams and warning is None
    for state in streams.values():
        run = begin(state, started=SINCE + dt.timedelta(hours=1))
        assert run.window().since == SINCE


@pytest.mark.parametrize(("system", "whole"), [("sap_b1", "IncomingPayments"),
                                               ("prestashop", "order_payments")])
def test_streams_without_a_change_time_are_read_whole_with_a_warning(system, whole):
    text, warning = since_state(system, SINCE)
    assert whole not in json.loads(text) and whole in warning


def test_holded_has_no_changed_since_filter():
    state, warning = since_state("holded", SINCE)
    assert state is None and "no changed-since filter" in warning
