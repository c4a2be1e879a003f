"""The demo's handling of the local broker: it stops only a broker it started itself.

The demo's flow against Kafka runs in the README's quick start (`make demo`); here only the
start/stop decisions are checked, with the broker's control functions recorded.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app import demo as demo_module
from app.devkafka.broker import BrokerInfo


@pytest.fixture
def broker_calls(monkeypatch, tmp_path):
    calls: list[str] = []
    monkeypatch.setattr(demo_module.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "logs"))

    async def flow(url: str, tmp: Path) -> None:
        calls.append(f"flow {url}")

    monkeypatch.setattr(demo_module, "_run", flow)
    def start(data_dir: Path, die_with_parent: bool) -> BrokerInfo:
        calls.append("start" + ("" if die_with_parent else " to outlive the demo"))
        return BrokerInfo(1, 9092, data_dir)

    monkeypatch.setattr(demo_module.devkafka, "start", start)
    monkeypatch.setattr(demo_module.devkafka, "stop", lambda data_dir: calls.append("stop"))
    return calls


def test_a_broker_the_demo_started_is_stopped_at_the_end(broker_calls, monkeypatch):
    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: None)
    result = CliRunner().invoke(demo_module.demo, [], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert broker_calls == ["start", "flow kafka://127.0.0.1:9092", "stop"]


def test_a_broker_the_user_started_is_used_and_left_running(broker_calls, monkeypatch, tmp_path):
    running = BrokerInfo(7, 42515, tmp_path)
    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: running)
    result = CliRunner().invoke(demo_module.demo, [], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert broker_calls == ["flow kafka://127.0.0.1:42515"]
    assert "already running (kafka://127.0.0.1:42515); it stays running" in result.output


def test_keep_kafka_leaves_the_demos_own_broker_running(broker_calls, monkeypatch):
    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: None)
    result = CliRunner().invoke(demo_module.demo, ["--keep-kafka"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert broker_calls == ["start to outlive the demo", "flow kafka://127.0.0.1:9092"]


def _invoice(doc_type="invoice", status="issued", payment_status="unpaid"):
    return {"record": {"doc_type": doc_type, "status": status, "payment_status": payment_status}}


def test_the_paid_invoice_is_the_first_issued_unpaid_invoice_that_reached_holded():
    # SAP B1's and Business Central's seeds hold credit notes and drafts next to invoices; the
    # demo once paid a credit note through Holded's invoice pay route, and waited in vain.
    entities = {"invoice/sap_b1/CN-1": _invoice(doc_type="credit_note"),
                "invoice/sap_b1/0-draft": _invoice(status="draft"),
                "invoice/sap_b1/1": _invoice(payment_status="paid"),
                "invoice/sap_b1/2": _invoice(),
                "invoice/sap_b1/3": _invoice(),
                "invoice/sap_b1/20": _invoice(payment_status="partial")}
    results = {key: {"status": "succeeded"} for key in entities}
    results["invoice/sap_b1/2"] = {"status": "parked"}
    assert demo_module.invoice_to_pay(results, entities) == "invoice/sap_b1/3"
    # Whatever order the results arrive in.
    assert demo_module.invoice_to_pay(dict(reversed(results.items())), entities) == "invoice/sap_b1/3"
    del entities["invoice/sap_b1/3"]  # the one left is partly paid: the demo pays a whole total
    assert demo_module.invoice_to_pay(results, entities) is None


def test_payments_parked_for_a_draft_are_counted_once_with_why(capsys):
    # A shop's invoices reach Holded as drafts, and Holded's /pay approves a draft: by default
    # the sink parks those payments (docs/holded.md §4); the demo once said only "0 registered".
    parked = {"entity_key": "payment/shopify/1", "status": "parked",
              "reason": "invoice/shopify/1 (Holded document x, A, total 1) is a draft in Holded: ..."}
    demo_module._say_draft_payments([parked, dict(parked), {"entity_key": "payment/shopify/2",
                                                            "status": "succeeded", "reason": None}],
                                    "shopify")
    out = capsys.readouterr().out
    assert out.startswith("    1 shopify payment(s) parked for review: their invoices are drafts in Holded")
    assert "HOLDED_PAY_DRAFTS=true" in out
    demo_module._say_draft_payments([{"entity_key": "payment/shopify/2", "status": "succeeded"}], "shopify")
    assert capsys.readouterr().out == ""


def test_ctrl_c_says_what_is_left_running_and_exits_130(broker_calls, monkeypatch, tmp_path):
    # Interrupted, the demo once printed only click's "Aborted!" (exit 1): a user who kept the
    # Kafka was not told it still ran, nor how to stop it.
    async def interrupted(url: str, tmp: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_module, "_run", interrupted)
    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: None)
    own = CliRunner().invoke(demo_module.demo, [])
    assert own.exit_code == 130, own.output
    assert broker_calls == ["start", "stop"]
    assert "interrupted: the worker and the sandboxes are stopped; the demo's Kafka is stopped" \
        in own.output
    broker_calls.clear()
    kept = CliRunner().invoke(demo_module.demo, ["--keep-kafka"])
    assert kept.exit_code == 130 and broker_calls == ["start to outlive the demo"]
    assert "Kafka keeps running (`holded-sync dev kafka stop` stops it)" in kept.output
    broker_calls.clear()
    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: BrokerInfo(7, 42515, tmp_path))
    users = CliRunner().invoke(demo_module.demo, [])
    assert users.exit_code == 130 and broker_calls == []
    assert "Kafka keeps running" in users.output


def test_a_wait_that_times_out_is_an_error_line_not_a_traceback(broker_calls, monkeypatch):
    # A slow machine once ended the demo with a raw AssertionError and the worker log's tail.
    from app.devrun.process import WaitFailed

    async def stuck(url: str, tmp: Path) -> None:
        raise WaitFailed("timed out after 180s waiting for the sample to reach Holded; "
                         "last=None\n<worker log tail>", "the sample to reach Holded")

    monkeypatch.setattr(demo_module, "_run", stuck)
    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: None)
    result = CliRunner().invoke(demo_module.demo, [])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: the demo timed out after 180s waiting for the sample to reach Holded" \
        in result.output
    assert "worker.log" in result.output and "<worker log tail>" not in result.output
    assert broker_calls == ["start", "stop"]  # the demo's own Kafka is stopped all the same


def test_ctrl_c_while_kafka_starts_exits_130(broker_calls, monkeypatch):
    def start(data_dir, die_with_parent):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: None)
    monkeypatch.setattr(demo_module.devkafka, "start", start)
    result = CliRunner().invoke(demo_module.demo, [])
    assert result.exit_code == 130 and "the demo's Kafka is stopped" in result.output
    assert broker_calls == []


@pytest.mark.parametrize(("record", "label"), [
    ({"name": "Talleres Gómez SL"}, "Talleres Gómez SL"),
    ({"number": "INV/2026/0042", "doc_type": "invoice"}, "INV/2026/0042"),
    # SAP B1 numbers credit notes in a series of their own: CN-1 and invoice 1 are both 1001.
    ({"number": "1001", "doc_type": "credit_note"}, "1001 (credit note)"),
    # A Shopify refund has no number; a payment no name: both once showed a blank label.
    ({"doc_type": "credit_note", "number": None, "currency": "EUR",
      "totals": {"total": "19.90"}}, "credit note 19.90 EUR"),
    ({"invoice_key": "invoice/odoo/1", "amount": "566.54", "currency": "EUR"}, "payment 566.54 EUR"),
])
def test_every_summary_row_has_a_label(record, label):
    assert demo_module.entity_label(record) == label


async def test_progress_written_to_a_file_is_one_final_line(monkeypatch, capsys):
    # Not a terminal (a log, CI): the "\r" rewrites once piled up on one line of the log.
    counts = iter([(0, 5), (2, 1), (3, 0)])
    state: dict = {}

    class Holded:
        async def count(self, what):
            state["docs"], state["lag"] = next(counts)
            return state["docs"]

    async def lag(settings):
        return state["lag"]

    async def wait_for(check, timeout, what, worker):
        while not await check():
            pass

    monkeypatch.setattr(demo_module, "pipeline_lag", lag)
    monkeypatch.setattr(demo_module, "wait_for", wait_for)
    await demo_module._progress(None, Holded(), None, expect_documents=3)
    out = capsys.readouterr().out
    assert "\r" not in out
    assert out.startswith("    3/3 invoices in Holded, 0 record(s) in flight,") and out.count("\n") == 1


def test_no_java_is_exit_3_as_the_readme_says(broker_calls, monkeypatch):
    # Something the environment lacks is exit 3 (README); the demo once exited 1 for it.
    def start(data_dir, die_with_parent):
        raise demo_module.devkafka.DevKafkaError("`java` is not on PATH: install a Java 17+ runtime")

    monkeypatch.setattr(demo_module.devkafka, "status", lambda data_dir: None)
    monkeypatch.setattr(demo_module.devkafka, "start", start)
    result = CliRunner().invoke(demo_module.demo, [])
    assert result.exit_code == 3
    assert "error: `java` is not on PATH: install a Java 17+ runtime" in result.output
    assert broker_calls == []


async def test_the_shops_payments_line_counts_each_payment_once_and_names_one_not_sent(
        monkeypatch, capsys):
    # The line once summed every succeeded result: a payment parked went unnamed, and one
    # whose command ran twice (at-least-once delivery) counted twice.
    from types import SimpleNamespace

    from app.settings import Settings

    entities = {"invoice/shopify/1": {}, "payment/shopify/1": {}, "payment/shopify/2": {}}
    results = [{"entity_key": "payment/shopify/1", "status": "succeeded", "reason": None},
               {"entity_key": "payment/shopify/2", "status": "parked", "reason": "no currency XYZ"},
               {"entity_key": "payment/shopify/1", "status": "succeeded", "reason": None}]

    async def read_table(settings, table):
        return entities

    async def read_topic(settings, topic, loads):
        return [SimpleNamespace(value=r) for r in results]

    async def wait_for(check, timeout, what, worker):
        return await check()

    monkeypatch.setattr(demo_module, "read_table", read_table)
    monkeypatch.setattr(demo_module, "read_topic", read_topic)
    monkeypatch.setattr(demo_module, "wait_for", wait_for)
    outcomes = await demo_module._wait_decided(Settings(topic_prefix="t."), None,
                                               "payment/shopify/", "payments", required=False)
    demo_module.say_shop_payments(outcomes)
    assert capsys.readouterr().out.splitlines() == [
        "6/6 the shop's payments: 1 of 2 registered on their Holded invoices",
        "    payment/shopify/1: succeeded",
        "    payment/shopify/2: parked: no currency XYZ"]
