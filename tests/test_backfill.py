"""`backfill --since`: the poller state that reads only what changed since a time, per system."""
from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest
from click.testing import CliRunner

import app.backfill as backfill_module
from app.backfill import failure, read_scope, since_state, unusable_system
from app.cli import cli
from connectors.base.errors import ErrorContext, FatalError, Fault, RetryableError, SkipRecord
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


# ---- how a backfill ends: one `error:` line and an exit code, never a traceback -------------

def _caused(error, cause):
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(("error", "code"), [
    (FatalError("Odoo login failed", context=ErrorContext("odoo")), 3),  # credentials refused
    (_caused(RetryableError("connection failed: ConnectError", context=ErrorContext("odoo")),
             httpx.ConnectError("refused")), 3),  # host unreachable
    (SkipRecord("not found", context=ErrorContext("business_central", status=404)), 3),
    (RetryableError("server error", fault=Fault.REMOTE, context=ErrorContext("odoo", status=503)), 1),
    (SkipRecord("request rejected", context=ErrorContext("odoo", status=400)), 1),
    (FatalError("unexpected response", fault=Fault.REMOTE), 1),
])
def test_a_connector_error_is_one_line_with_its_exit_code(error, code):
    line, exit_code = failure("odoo", error)
    assert exit_code == code
    assert line.startswith(f"error: odoo: {error.message}") and "\n" not in line
    assert ("re-run" in line) == isinstance(error, RetryableError)


def test_a_bad_url_names_the_setting():
    error = FatalError("invalid URL (check the system's URL setting): UnsupportedProtocol: x")
    line, code = failure("shopify", error)
    assert code == 3 and "check SHOPIFY_SHOP_URL" in line


def test_the_scope_says_what_is_really_read():
    assert read_scope("odoo", None) == "everything"
    assert read_scope("odoo", SINCE) == "changed since 2026-03-01T10:00:00+00:00"
    assert read_scope("holded", SINCE).startswith("everything")
    assert "IncomingPayments read whole" in read_scope("sap_b1", SINCE)


def test_an_unknown_system_is_told_apart_from_one_not_configured():
    assert unusable_system("odoo", ["holded", "odoo"]) is None
    unknown = unusable_system("foo", ["holded", "odoo"])
    assert "unknown system 'foo'" in unknown and "business_central" in unknown
    assert "not in HOLDED_SYNC_SYSTEMS=holded,odoo" in unusable_system("sap_b1", ["holded", "odoo"])


ENV = {"HOLDED_SYNC_SYSTEMS": "holded,odoo", "HOLDED_SYNC_BROKER": "kafka://127.0.0.1:1",
       "HOLDED_API_KEY": "k", "ODOO_API_KEY": "k"}


def _backfill_raising(monkeypatch, error, *args):
    async def fail(*_a, **_k):
        raise error

    monkeypatch.setattr(backfill_module, "run_backfill", fail)
    return CliRunner().invoke(cli, ["backfill", "odoo", *args], env=ENV)


def test_cli_a_refused_credential_is_exit_3_without_traceback(monkeypatch):
    res = _backfill_raising(monkeypatch, FatalError("Odoo login failed for 'admin'",
                                                    context=ErrorContext("odoo")))
    assert res.exit_code == 3, res.output
    assert "error: odoo: Odoo login failed for 'admin'" in res.output
    assert "Traceback" not in res.output


def test_cli_ctrl_c_is_130_and_says_rerunning_is_safe(monkeypatch):
    res = _backfill_raising(monkeypatch, KeyboardInterrupt())
    assert res.exit_code == 130, res.output
    assert "nothing is lost" in res.output and "re-running the backfill is safe" in res.output
    assert "Aborted" not in res.output


def test_cli_an_unknown_system_lists_the_valid_names():
    res = CliRunner().invoke(cli, ["backfill", "foo"], env=ENV)
    assert res.exit_code == 2 and "unknown system 'foo'" in res.output and "shopify" in res.output


async def test_a_long_scan_says_how_many_api_calls_it_has_made(capsys):
    from app.backfill import scan_with_progress
    from app.metrics import METRICS

    calls = METRICS.api_calls.labels(system="scan-test", status="200")

    async def scan() -> str:
        for _ in range(10):
            calls.inc()
            await asyncio.sleep(0.03)
        return "read"

    assert await scan_with_progress(scan(), "scan-test", every=0.01, log_every=0.1) == "read"
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert lines and all(line.startswith("scanning scan-test: ") for line in lines), lines
    counts = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert counts == sorted(counts) and 0 < counts[-1] <= 10


async def test_a_failed_scan_raises_its_error_after_the_progress():
    from app.backfill import scan_with_progress

    async def scan() -> None:
        await asyncio.sleep(0.02)
        raise RuntimeError("odoo went away")

    with pytest.raises(RuntimeError, match="odoo went away"):
        await scan_with_progress(scan(), "scan-test", every=0.01)


def test_cli_takes_the_system_as_demo_and_sandbox_spell_it():
    # `demo --erp sap-b1` and `sandbox sap-b1` taught the hyphen; backfill once called the
    # same system unknown.
    res = CliRunner().invoke(cli, ["backfill", "sap-b1"], env=ENV)
    assert res.exit_code == 2 and "system 'sap_b1' is not configured" in res.output
    assert "unknown system" not in res.output
