"""The CLI without a broker: happy paths and clear errors with scriptable exit codes."""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from app.cli import cli


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_help_lists_every_command():
    out = run("--help").output
    for name in ("worker", "ingest", "replay", "tables", "dev", "config", "mappings", "sandbox",
                 "demo", "history", "conflicts", "dlq", "parked", "backfill"):
        assert f"\n  {name} " in out
    sandboxes = run("sandbox", "--help").output
    for name in ("holded", "odoo", "business-central", "sap-b1", "prestashop", "shopify"):
        assert f"\n  {name} " in sandboxes
    assert "\n  publish " in run("mappings", "--help").output  # defined in app/cli.py


def test_every_operator_command_is_a_command_of_the_cli():
    from app.operator_cli import register

    group = click.Group()
    register(group)
    assert set(group.commands) <= set(cli.list_commands(click.Context(cli)))


def test_the_cli_imports_a_subcommand_only_when_it_runs():
    """A worker pod starts without importing the sandboxes, the demo or the operator tools."""
    heavy = ("connectors.holded.sandbox", "connectors.odoo.sandbox_cli", "app.demo",
             "app.operator_cli", "app.mapping.cli")
    probe = ("import sys, app.cli; "
             f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert loaded.strip() == "[]"
    holded = run("sandbox", "holded", "--help")  # loaded now, when it runs
    assert holded.exit_code == 0 and "Run the strict Holded API sandbox" in holded.output


def test_config_show_masks_secrets():
    res = run("config", "show", env={"HOLDED_API_KEY": "sk-very-secret-123",
                                     "HOLDED_SYNC_KAFKA_SASL_PASSWORD": "hunter2"})
    assert res.exit_code == 0
    assert "sk-very-secret-123" not in res.output and "hunter2" not in res.output
    assert json.loads(res.output)["holded"]["api_key"] == "**********"


def test_config_show_takes_each_variable_over_the_config_file(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("holded:\n  requests_per_second: 2\nodoo:\n  db: yamldb\n  login: yl\n")
    res = run("--config", str(cfg), "config", "show",
              env={"ODOO_DB": "envdb", "HOLDED_REQUESTS_PER_SECOND": "7"})
    shown = json.loads(res.output)
    assert (shown["odoo"]["db"], shown["odoo"]["login"]) == ("envdb", "yl")
    assert shown["holded"]["requests_per_second"] == 7.0


def test_invalid_settings_are_a_usage_error():
    res = CliRunner().invoke(cli, ["config", "show"], env={"HOLDED_SYNC_SYSTEMS": "Holded!"})
    assert res.exit_code == 2 and "invalid settings" in res.output


@pytest.mark.parametrize("systems, line", [
    ("holded,oddo", "invalid settings: HOLDED_SYNC_SYSTEMS: unknown system 'oddo' (did you mean "
                    "odoo?); the systems are holded, odoo, business_central, sap_b1, prestashop, "
                    "shopify, file"),
    ("holded,business-central", "unknown system 'business-central' (did you mean business_central?)")])
def test_a_misspelt_system_stops_any_command_with_one_line(systems, line):
    res = CliRunner().invoke(cli, ["worker"], env={"HOLDED_SYNC_SYSTEMS": systems})
    assert res.exit_code == 2 and line in res.output, res.output
    assert res.output.strip().splitlines()[-1].startswith("Error: invalid settings: ")
    assert "validation error" not in res.output and "pydantic" not in res.output


@pytest.mark.parametrize("env, line", [
    ({"HOLDED_SYNC_PARTITIONS": "0", "HOLDED_SYNC_STANDBY_REPLICAS": "-1"},
     "HOLDED_SYNC_PARTITIONS: Input should be greater than or equal to 1; "
     "HOLDED_SYNC_STANDBY_REPLICAS: Input should be greater than or equal to 0"),
    ({"HOLDED_REQUESTS_PER_SECOND": "fast"},
     "HOLDED_REQUESTS_PER_SECOND: Input should be a valid number, unable to parse string as a "
     "number")])
def test_a_bad_value_is_one_line_naming_its_variable(env, line):
    res = CliRunner().invoke(cli, ["config", "show"], env=env)
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1] == f"Error: invalid settings: {line}"


def test_ingest_of_an_unconfigured_system_is_refused_before_connecting(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text("{}\n")
    res = CliRunner().invoke(cli, ["ingest", str(f), "--system", "sap_b1"],
                             env={"HOLDED_SYNC_SYSTEMS": "holded,odoo"})
    assert res.exit_code == 2 and "not configured" in res.output
    # It says how to fix it: the README's `--system odoo` meets the default holded,file.
    assert ("add it there (HOLDED_SYNC_SYSTEMS=holded,odoo,sap_b1), or ingest with --system "
            "file" in " ".join(res.output.split()))


def test_ingest_takes_the_system_as_demo_and_sandbox_spell_it(tmp_path):
    # `ingest --system business-central` once said "not configured" with business_central in
    # HOLDED_SYNC_SYSTEMS: the same system, spelt as `demo --erp` spells it.
    f = tmp_path / "x.jsonl"
    f.write_text("{}\n")
    res = CliRunner().invoke(cli, ["ingest", str(f), "--system", "business-central"],
                             env={"HOLDED_SYNC_SYSTEMS": "holded,business_central",
                                  "HOLDED_SYNC_BROKER": "kafka://127.0.0.1:1"})
    assert "not configured" not in res.output
    assert res.exit_code == 3 and "cannot reach Kafka" in res.output


def test_ingest_of_a_missing_file_is_a_usage_error():
    res = CliRunner().invoke(cli, ["ingest", "/no/such.jsonl", "--system", "odoo"])
    assert res.exit_code == 2 and "does not exist" in res.output


@pytest.mark.parametrize("encoding, reason", [("klingon", "unknown encoding 'klingon'"),
                                               ("utf-16", "cannot be read line by line")])
def test_ingest_with_an_encoding_it_cannot_read_is_one_line_and_exit_2_before_connecting(
        tmp_path, encoding, reason):
    from app.devkafka.broker import free_port

    f = tmp_path / "x.jsonl"
    f.write_text("{}\n")
    res = CliRunner().invoke(cli, ["ingest", str(f), "--system", "file", "--encoding", encoding],
                             env={"HOLDED_SYNC_BROKER": f"kafka://127.0.0.1:{free_port()}"})
    assert res.exit_code == 2  # not 3: the broker is never asked
    assert res.output.startswith("error: ") and reason in res.output
    assert res.output.count("\n") == 1


@pytest.mark.kafka
def test_ingest_of_a_windows_1252_line_reports_it_and_publishes_the_rest_or_all_with_encoding(
        kafka, tmp_path):
    import uuid

    def contact(source_id: str, name: str) -> str:
        return json.dumps({"entity": "contact", "id": source_id, "updated_at": "2026-03-04T09:00:00Z",
                           "data": {"kind": "customer", "name": name}}, ensure_ascii=False) + "\n"

    cafe = contact("C-22", "Café")
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(contact("C-1", "Sol").encode() + cafe.encode("cp1252") + contact("C-3", "Mar").encode())
    env = {"HOLDED_SYNC_BROKER": kafka.url, "HOLDED_SYNC_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}."}
    res = CliRunner().invoke(cli, ["ingest", str(path), "--system", "file"], env=env)
    assert res.exit_code == 1, res.output
    assert (f"{path}:line 2: not UTF-8 text (byte 0xe9 at column {cafe.index('é') + 1}); save the "
            "file as UTF-8 or pass --encoding cp1252") in res.stderr
    assert "published 2 change event(s) to changes.file; 1 invalid line(s) skipped" in res.stdout
    res = CliRunner().invoke(cli, ["ingest", str(path), "--system", "file", "--encoding", "cp1252"],
                             env=env)
    assert res.exit_code == 0, res.output
    assert "published 3 change event(s) to changes.file; 0 invalid line(s) skipped" in res.stdout


def test_dev_kafka_status_of_a_stopped_broker(tmp_path):
    res = run("dev", "kafka", "status", "--data-dir", str(tmp_path))
    assert res.exit_code == 1 and "not running" in res.output


def test_mappings_validate_reports_ok_and_errors(tmp_path):
    ok = run("mappings", "validate", "docs/examples/mapping-es.yaml")
    assert ok.exit_code == 0 and ok.output.startswith("OK: mapping v")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntaxes: {iva_21: {rate: 21}}\n")
    res = CliRunner().invoke(cli, ["mappings", "validate", str(bad)])
    assert res.exit_code == 1 and str(bad) in res.output


def test_no_broker_is_one_clear_line_and_exit_3(tmp_path):
    from app.devkafka.broker import free_port

    res = CliRunner().invoke(cli, ["tables", "entities"],
                             env={"HOLDED_SYNC_BROKER": f"kafka://127.0.0.1:{free_port()}"})
    assert res.exit_code == 3 and "cannot reach Kafka" in res.output


def test_mappings_diff_shows_what_a_new_version_changes(tmp_path):
    import yaml

    example = yaml.safe_load(Path("docs/examples/mapping-es.yaml").read_text(encoding="utf-8"))
    new = dict(example, version=example["version"] + 1)
    new["taxes"] = {**example["taxes"], "iva_10": {**example["taxes"]["iva_10"], "name": "IVA reducido"}}
    path = tmp_path / "v4.yaml"
    path.write_text(yaml.safe_dump(new, allow_unicode=True))
    res = CliRunner().invoke(cli, ["mappings", "diff", "docs/examples/mapping-es.yaml", str(path)])
    assert res.exit_code == 1
    assert "~ version: 3 -> 4" in res.output and "~ taxes.iva_10.name: IVA 10% -> IVA reducido" in res.output
    same = CliRunner().invoke(cli, ["mappings", "diff", str(path), str(path)])
    assert same.exit_code == 0 and "0 difference(s)" in same.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\n")
    assert CliRunner().invoke(cli, ["mappings", "diff", str(bad), str(path)]).exit_code == 1
    worse = tmp_path / "worse.yaml"
    worse.write_text("version: 1\n")
    both = CliRunner().invoke(cli, ["mappings", "diff", str(bad), str(worse)])
    assert both.exit_code == 1 and f"{bad}: version" in both.output
    assert f"{worse}: accounts" in both.output  # the errors of both documents


@pytest.mark.parametrize("command", [["validate"], ["publish"],
                                     ["diff", "docs/examples/mapping-es.yaml"]])
def test_mappings_commands_agree_on_exit_codes(tmp_path, command):
    """A missing file is bad usage (2) and an invalid document a problem found (1), for
    validate, publish and diff alike; publish stops before it needs a broker."""
    env = {"HOLDED_SYNC_BROKER": "kafka://127.0.0.1:1"}
    missing = CliRunner().invoke(cli, ["mappings", *command, str(tmp_path / "nope.yaml")],
                                 env=env)
    assert missing.exit_code == 2 and "does not exist" in missing.output, missing.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 0\n")
    invalid = CliRunner().invoke(cli, ["mappings", *command, str(bad)], env=env)
    assert invalid.exit_code == 1, invalid.output
    assert f"{bad}: version: got 0 (expected an integer >= 1)" in invalid.output
    assert invalid.output.rstrip().endswith(" error(s)")


def test_replay_and_backfill_refuse_a_bad_since_before_connecting():
    env = {"HOLDED_SYNC_BROKER": "kafka://127.0.0.1:1", "HOLDED_SYNC_SYSTEMS": "holded,odoo"}
    for args in (["replay", "--since", "yesterday"], ["backfill", "odoo", "--since", "2026-13-45"]):
        res = CliRunner().invoke(cli, args, env=env)
        assert res.exit_code == 2 and "is not a time" in res.output, (args, res.output)
    neither = CliRunner().invoke(cli, ["replay"], env=env)
    assert neither.exit_code == 2 and "exactly one of --from-beginning or --since" in neither.output


def test_replay_since_without_a_broker_is_exit_3():
    res = CliRunner().invoke(cli, ["replay", "--since", "2h"],
                             env={"HOLDED_SYNC_BROKER": "kafka://127.0.0.1:1"})
    assert res.exit_code == 3 and "cannot reach Kafka" in res.output, res.output


def test_replay_from_beginning_without_run_names_the_next_generation():
    res = run("replay", "--from-beginning", "--streaming", "--no-run",
              env={"HOLDED_SYNC_GENERATION": "2"})
    assert res.exit_code == 0 and "replaying into generation 3" in res.output


def test_replay_from_beginning_says_a_worker_follows_and_how_it_stops(monkeypatch):
    # The README called it a batch job; at a terminal it went on as a worker, unannounced.
    import app.cli as cli_module

    ran = []
    monkeypatch.setattr(cli_module, "worker", click.Command(
        "worker", callback=lambda: ran.append(click.get_current_context().obj["settings"])))
    res = run("replay", "--from-beginning", "--streaming", env={"HOLDED_SYNC_GENERATION": "2"})
    assert res.exit_code == 0, res.output
    assert ("starting generation 3's worker (it decides, no sinks) in the foreground; Ctrl-C or "
            "SIGTERM stops it (--no-run ends after the batch job)") in res.output
    assert [(s.generation, s.run_sinks) for s in ran] == [(3, False)]
    quiet = run("replay", "--from-beginning", "--streaming", "--no-run")
    assert "starting generation" not in quiet.output


def test_a_bulk_replay_without_a_broker_is_exit_3():
    res = CliRunner().invoke(cli, ["replay", "--from-beginning", "--no-run"],
                             env={"HOLDED_SYNC_BROKER": "kafka://127.0.0.1:1"})
    assert res.exit_code == 3 and "cannot reach Kafka" in res.output, res.output


def test_worker_at_warning_keeps_the_root_logger_at_warning():
    # faust's spinner would put the root logger at DEBUG: every debug call then builds a record
    import faust

    from app.cli import quiet_worker

    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    try:
        app = faust.App("t-quiet-worker", broker="kafka://127.0.0.1:1", web_enabled=False)
        worker = quiet_worker(app, "warning")
        # Not mode's stdout redirect: its context stays open on the worker, and when the garbage
        # collector closes it, in some later test, it sets sys.stdout to sys.__stdout__ under
        # whatever had replaced it (a CliRunner's stream: that command's output is lost).
        worker.redirect_stdouts = False
        worker._setup_logging()
        assert root.getEffectiveLevel() == logging.WARNING
        assert not logging.getLogger("aiokafka").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


@pytest.mark.kafka
def test_an_empty_table_says_why_on_stderr_and_prints_nothing(kafka):
    import asyncio
    import uuid

    from app.settings import Settings
    from app.topics import ensure_topics

    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {"HOLDED_SYNC_BROKER": kafka.url, "HOLDED_SYNC_TOPIC_PREFIX": prefix}
    missing = CliRunner().invoke(cli, ["tables", "links"], env=env)
    assert missing.exit_code == 0 and missing.stdout == ""
    assert (f"note: no links: {prefix}holded-sync-canonical-changelog does not exist on this "
            f"broker, so no worker of app {prefix}holded-sync has run "
            f"(HOLDED_SYNC_TOPIC_PREFIX='{prefix}', HOLDED_SYNC_GENERATION=0)") in missing.stderr
    asyncio.run(ensure_topics(Settings(broker=kafka.url, topic_prefix=prefix)))
    empty = CliRunner().invoke(cli, ["tables", "links"], env=env)
    assert empty.exit_code == 0 and empty.stdout == ""
    assert f"note: no links yet: {prefix}holded-sync-canonical-changelog holds no records" in empty.stderr


@pytest.mark.parametrize("system, env, line", [
    ("odoo", {"ODOO_API_KEY": "k", "ODOO_URL": None, "ODOO_DB": None, "ODOO_LOGIN": "a"},
     "invalid settings: odoo is not fully configured: url, db and login are required with the "
     "API key; url, db not set"),
    ("prestashop", {"PRESTASHOP_API_KEY": "k", "PRESTASHOP_URL": None},
     "invalid settings: prestashop is not fully configured: the shop's url is required"),
    ("shopify", {"SHOPIFY_ACCESS_TOKEN": "t", "SHOPIFY_SHOP_URL": None},
     "invalid settings: shopify is not fully configured: the shop URL is required"),
    # It once named the tenant alone, then the GUID '' of the next one missing.
    ("business_central", {"BC_CLIENT_SECRET": "s", "BC_TENANT": None, "BC_COMPANY_ID": None,
                          "BC_CLIENT_ID": None},
     "invalid settings: business_central is not fully configured: tenant, environment, "
     "company_id and client_id are required with the client secret; tenant, company_id, "
     "client_id not set")])
def test_a_worker_with_a_credential_but_no_address_stops_before_kafka(system, env, line):
    for command in (["worker"], ["backfill", system]):
        res = CliRunner().invoke(cli, command, env={
            "HOLDED_SYNC_BROKER": "kafka://127.0.0.1:1", "HOLDED_SYNC_SYSTEMS": f"holded,{system}",
            "HOLDED_API_KEY": None, **env})
        assert res.exit_code == 2 and line in res.output, (command, res.output)
        assert "cannot reach Kafka" not in res.output


@pytest.mark.kafka
def test_a_worker_with_half_a_configuration_stops_with_one_clear_line(kafka, tmp_path):
    import uuid

    res = CliRunner().invoke(cli, ["worker"], env={
        "HOLDED_SYNC_BROKER": kafka.url, "HOLDED_SYNC_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}.",
        "HOLDED_SYNC_DATA_DIR": str(tmp_path), "HOLDED_SYNC_SYSTEMS": "holded,sap_b1",
        "SAP_B1_PASSWORD": "secret"})
    assert res.exit_code == 2, res.output
    assert ("invalid settings: sap_b1 is not fully configured: company_db, username and password "
            "are required (its settings: SAP_B1_BASE_URL, SAP_B1_COMPANY_DB, SAP_B1_USERNAME, "
            "SAP_B1_PASSWORD)") in res.output


def test_the_holded_sandbox_prints_settings_a_worker_can_use(tmp_path):
    import re
    import signal
    import threading

    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "app", "sandbox", "holded", "--port", "0",
                             "--api-key", "k-1"], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1], start_new_session=True)
    # A sandbox that never prints would block readline: the watchdog ends it (EOF) after 30 s.
    watchdog = threading.Timer(30, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    try:
        banner = proc.stdout.readline() + proc.stdout.readline()  # it flushes both at once
        found = re.search(r"HOLDED_API_URL=(\S+) HOLDED_API_KEY=(\S+)", banner)
        assert found, banner
        url, key = found.groups()
        assert key == "k-1"
        answer = httpx.get(f"{url}/invoicing/v1/contacts", headers={"key": key}, timeout=10)
        assert answer.status_code == 200 and isinstance(answer.json(), list)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        proc.stdout.close()


def test_a_data_dir_the_worker_cannot_use_is_one_clear_line_before_anything_starts(tmp_path, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    res = CliRunner().invoke(cli, ["worker"], env={"HOLDED_SYNC_DATA_DIR": str(a_file / "tables")})
    assert res.exit_code == 2
    assert (f"invalid settings: HOLDED_SYNC_DATA_DIR={a_file / 'tables'} cannot be a directory "
            "for the tables: Not a directory") in res.output
    # Not writable (root may write anywhere, so the check itself is made to say no).
    import app.cli

    monkeypatch.setattr(app.cli.os, "access", lambda path, mode: False)
    res = CliRunner().invoke(cli, ["worker"], env={"HOLDED_SYNC_DATA_DIR": str(tmp_path / "data")})
    assert res.exit_code == 2
    assert f"HOLDED_SYNC_DATA_DIR={tmp_path / 'data'} is not writable by this user" in res.output


def test_a_web_port_in_use_is_one_clear_line_before_anything_starts(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = CliRunner().invoke(cli, ["worker"], env={
            "HOLDED_SYNC_DATA_DIR": str(tmp_path), "HOLDED_SYNC_WEB_PORT": str(port)})
    assert res.exit_code == 3
    assert (f"error: the worker's web port 127.0.0.1:{port} (HOLDED_SYNC_WEB_PORT) cannot be "
            "bound: Address already in use") in res.stderr


def test_mappings_commands_on_a_file_that_is_not_utf8_say_where_without_a_traceback(tmp_path):
    from app.devkafka.broker import free_port

    example = Path("docs/examples/mapping-es.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(example.read_text(encoding="utf-8").encode("latin-1"))
    no_broker = {"HOLDED_SYNC_BROKER": f"kafka://127.0.0.1:{free_port()}"}
    for args, code in ((["validate"], 1), (["publish"], 1), (["diff", str(example)], 1)):
        res = CliRunner().invoke(cli, ["mappings", *args, str(latin1)], env=no_broker)
        assert res.exit_code == code, (args, res.output)
        assert f"{latin1}: line " in res.output and "not UTF-8 text (byte 0x" in res.output
        assert "Traceback" not in res.output and not isinstance(res.exception, UnicodeError)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + example.read_bytes())
    same = CliRunner().invoke(cli, ["mappings", "diff", str(example), str(bom)])
    assert same.exit_code == 0 and "0 difference(s)" in same.output


@pytest.mark.parametrize("command", [["dlq", "list"], ["conflicts", "list"], ["parked", "list"],
                                     ["history", "contact/odoo/C1"], ["tables", "entities"],
                                     ["ingest", "FILE", "--system", "file"],
                                     ["replay", "--since", "2026-01-01"]])
def test_no_broker_is_exactly_one_line_on_stderr_for_the_one_shot_commands(command, tmp_path):
    """Not aiokafka's 'Unable connect' ERROR before it, nor an 'Unclosed AIOKafkaConsumer'
    after it (a consumer whose start failed was never stopped); -v shows aiokafka's lines.
    (`ingest`, the README's command, printed aiokafka's line first until session 23.)"""
    from app.devkafka.broker import free_port

    lines = tmp_path / "one.jsonl"
    lines.write_text('{"entity": "contact", "id": "C1", "data": {"name": "Talleres"}}\n')
    command = [str(lines) if arg == "FILE" else arg for arg in command]
    env = {**os.environ, "HOLDED_SYNC_BROKER": f"kafka://127.0.0.1:{free_port()}"}
    res = subprocess.run([sys.executable, "-m", "app", *command], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 3, res.stderr
    assert res.stdout == ""
    [line] = res.stderr.splitlines()
    assert line.startswith("error: cannot reach Kafka at 127.0.0.1:")
    if command == ["dlq", "list"]:
        verbose = subprocess.run([sys.executable, "-m", "app", "-v", *command], capture_output=True,
                                 text=True, env=env, timeout=120)
        assert verbose.returncode == 3 and "ERROR aiokafka: Unable connect" in verbose.stderr
        assert "Unclosed" not in verbose.stderr


@pytest.mark.parametrize(("args", "stop"), [
    ([], "holded-sync dev kafka stop"),
    (["--data-dir", "/tmp/my kafka"], "holded-sync dev kafka stop --data-dir '/tmp/my kafka'")])
def test_dev_kafka_start_says_how_the_background_broker_stops(monkeypatch, tmp_path, args, stop):
    # The broker outlives the command; it once printed only its address.
    from app.devkafka import broker
    from app.devkafka.broker import BrokerInfo

    monkeypatch.setattr(broker, "start", lambda data_dir, port: BrokerInfo(7, 42515, tmp_path))
    res = CliRunner().invoke(cli, ["dev", "kafka", "start", *args])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].endswith("HOLDED_SYNC_BROKER=kafka://127.0.0.1:42515")
    assert f"it runs in the background; `{stop}` stops it" in res.stderr


@pytest.mark.parametrize(("typed", "line"), [
    ("conflict", "Error: No such command 'conflict'. Did you mean 'conflicts'?"),
    ("histroy", "Error: No such command 'histroy'. Did you mean 'history'?"),
    ("status", "Error: No such command 'status'. The state is shown by `tables`, `history`, "
               "`conflicts list`, `dlq list`, `parked list`, a worker's /operator page and "
               "/readyz; the local broker's by `dev kafka status`."),
    ("xyz", "Error: No such command 'xyz'.")])
def test_an_unknown_command_names_the_one_meant(typed, line):
    res = CliRunner().invoke(cli, [typed, "list"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1] == line


def _shown_commands(text: str) -> list[str]:
    """``holded-sync <command> [<subcommand>]`` as code in a Markdown text: at the start of a
    code span or code line, or after ``$ ``, ``-- ``, ``&& ``, ``; `` or ``| ``."""
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    code = "\n".join([*re.findall(r"```.*?```", text, re.S),
                      *(span.replace("\n", " ") for span in spans)])  # a span is one line
    return re.findall(r"(?:^|\$ |-- |&& |; |\| )\s*holded-sync ([a-z][\w-]*(?: [a-z][\w-]*)?)",
                      code, re.M)


def test_every_command_the_docs_show_exists():
    """docs/sap_b1.md showed `holded-sync sandbox sap`, a command that never existed (it is
    `sandbox sap-b1`)."""
    root = Path(__file__).resolve().parents[1]
    missing, shown = [], 0
    for path in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        for words in map(str.split, _shown_commands(path.read_text())):
            shown += 1
            command = cli.get_command(click.Context(cli), words[0])
            if command is None or (isinstance(command, click.Group) and len(words) > 1 and
                                   command.get_command(click.Context(command), words[1]) is None):
                missing.append(f"{path.relative_to(root)}: holded-sync {' '.join(words)}")
    assert shown > 50 and missing == []
