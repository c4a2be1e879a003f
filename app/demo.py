"""`holded-sync demo`: the quick start, on this machine only.

Starts a local Kafka, the Holded sandbox and a worker; publishes the Spanish example mapping;
ingests an ERP export (customers with NIFs, products with VAT, invoices with IRPF and recargo,
one edit and one broken line); shows progress; then proves the trust claims: the same file
again writes nothing, and an edit made in both systems at once becomes a conflict record.
Prints what became of every entity and cleans up after itself.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import NoReturn

import click

from app.avro import codec
from app.demo_edit import concurrent_edit
from app.devkafka import broker as devkafka
from app.devrun.process import WaitFailed, WorkerProcess, pipeline_lag, wait_for, wait_ready
from app.ingest import ingest_file
from app.inspect import read_table, read_topic
from app.live_mapping import publish_mapping
from app.mapping import Mapping
from app.settings import HoldedSettings, Settings
from app.topics import TopicNames, ensure_topics

__all__ = ["demo"]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "docs" / "examples" / "sample-odoo.jsonl"
MAPPING = ROOT / "docs" / "examples" / "mapping-es.yaml"
POLL_S = 3.0  # the Holded poller's interval in the file demo (its story waits for one poll)
SHOPS = ("prestashop", "shopify")
# A shop's orders are sales already made, and a shop's books are usually kept in Holded: the
# shop demo has Holded create their documents issued (HOLDED_APPROVE_DOCUMENTS), so their
# payments are registered; on drafts they would be parked (docs/holded.md §4, §10).
SHOP_DOCUMENTS = ("invoice", "sales_receipt", "credit_note")


def say(text: str = "", **style: object) -> None:
    click.secho(text, **style)


@click.command()
@click.option("--erp", type=click.Choice(["file", "odoo", "business-central", "sap-b1",
                                          "prestashop", "shopify"]), default="file",
              show_default=True, help="Where the ERP data comes from: a JSON Lines export, or "
              "an ERP or shop sandbox through its real connector.")
@click.option("--keep-kafka", is_flag=True, help="Leave the local Kafka running afterwards.")
def demo(erp: str, keep_kafka: bool) -> None:
    """Run the quick-start demo against local sandboxes and print a summary."""
    tmp = Path(tempfile.mkdtemp(prefix="holded-sync-demo-"))
    say("holded-sync demo", bold=True)
    data_dir = devkafka.default_data_dir()
    running = devkafka.status(data_dir)  # the user's own (`holded-sync dev kafka start`): kept
    if running:
        say(f"1/6 using the local Apache Kafka already running ({running.url}); it stays running")
    else:
        say("1/6 starting a local Apache Kafka (the first run fetches it from Maven Central)...")
    try:
        # Interrupted, it stops what it started; killed outright, the kernel stops the broker
        # it started, unless it is to outlive the demo (--keep-kafka).
        info = running or devkafka.start(data_dir, die_with_parent=not keep_kafka)
    except devkafka.DevKafkaError as exc:  # no Java, no Maven: exit 3, as `dev kafka start`
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except KeyboardInterrupt:
        _interrupted(kafka_left=running is not None)
    stops = not keep_kafka and not running
    try:
        asyncio.run(_run(info.url, tmp) if erp == "file" else _run_erp(info.url, tmp, erp))
    except KeyboardInterrupt:  # asyncio.run cancelled the flow: its worker and sandboxes stopped
        interrupted = True
    except WaitFailed as exc:  # its worker and sandboxes are stopped; Kafka below, if ours
        click.secho(f"\nerror: the demo {str(exc).splitlines()[0].rstrip(':;')}.\nThe worker's log is "
                    f"{tmp / 'worker.log'}, the sandboxes' data beside it. A first run on a slow "
                    "machine usually passes when run again.", fg="red", err=True)
        sys.exit(1)
    else:
        interrupted = False
    finally:
        if stops:
            devkafka.stop(data_dir)
    if interrupted:
        _interrupted(kafka_left=not stops)
    if stops:
        say("The demo's Kafka is stopped now; run `holded-sync demo --keep-kafka` to use the "
            "commands above afterwards.")
    else:
        say("Kafka keeps running for the commands above; `holded-sync dev kafka stop` stops it.")
    say(f"\nDone. Logs: {tmp}", fg="green")


def _interrupted(kafka_left: bool) -> NoReturn:
    """Ctrl-C: say what is still running, so nothing is left behind unknowingly (exit 130,
    the shell's code for SIGINT)."""
    kafka = ("Kafka keeps running (`holded-sync dev kafka stop` stops it)" if kafka_left
             else "the demo's Kafka is stopped")
    click.secho(f"\ninterrupted: the worker and the sandboxes are stopped; {kafka}. "
                "`holded-sync demo` runs it again from the start, in new topics.",
                fg="yellow", err=True)
    sys.exit(130)


async def _run(broker_url: str, tmp: Path) -> None:
    from connectors.holded.sandbox import RateLimit, start_sandbox

    say("2/6 starting the Holded sandbox (strict API contract, rate limited like the real one)...")
    holded = await start_sandbox(port=0, db_path=str(tmp / "holded.sqlite"),
                                 rate_limit=RateLimit(requests=20, per_seconds=1.0))
    settings = Settings(
        broker=broker_url, topic_prefix=f"demo-{uuid.uuid4().hex[:6]}.", partitions=4,
        store="memory://", data_dir=tmp / "worker", web_port=devkafka.free_port(),
        systems=("holded", "odoo"), session_timeout_s=6.0, poll_interval_s=POLL_S,
        holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key", requests_per_second=10))
    worker = WorkerProcess(settings, tmp / "worker.log")
    try:
        await ensure_topics(settings)
        mapping = await publish_mapping(settings, MAPPING)
        say(f"3/6 published mapping v{mapping.version} ({MAPPING.name}): "
            f"{len(mapping.taxes)} canonical taxes, {len(mapping.accounts)} accounts")
        await _check_mapping(mapping, settings)
        say("4/6 starting a worker (sequencer, canonical agent, Holded sink)...")
        worker.start()
        await wait_ready(settings, worker, 120)
        say(f"5/6 ingesting {SAMPLE.name} as changes from Odoo...")
        report = await ingest_file(SAMPLE, "odoo", settings)
        for error in report.errors:
            say(f"    rejected {error}", fg="yellow")
        await _progress(settings, holded, worker, expect_documents=3)

        before = len(holded.requests)
        await ingest_file(SAMPLE, "odoo", settings)
        await _settle(settings, worker)
        writes = [r for r in holded.requests[before:] if r.method != "GET"]
        say(f"    the same file again: {len(writes)} write(s) to Holded (never a duplicate)")

        say("6/6 the same customer's e-mail edited in Odoo and, moments later, in Holded, "
            "before either edit synced...")
        await concurrent_edit(settings, holded, worker, tmp, POLL_S)
        await _settle(settings, worker)
        await _summary(settings, holded)
        # `history` shows commands to odoo with no result: nothing here plays Odoo's part.
        say("  Odoo is a file here: what the engine sends it waits in commands.odoo "
            "(`holded-sync demo --erp odoo` runs the Odoo connector against a sandbox)")
    finally:
        worker.stop()
        await holded.stop()


async def _check_mapping(mapping: Mapping, settings: Settings, systems: tuple[str, ...] = ("holded",)
                         ) -> None:
    """`holded-sync mappings check` of the published mapping against each system's sandbox,
    one line each, its problems beneath: what an accountant runs against the real tenants
    before going live. A list the connector does not read is said, not coloured: the check
    itself exits 0 for it."""
    from app.mapping.resolve import SYSTEM_NAMES
    from app.tenant_check import Unreachable, check_tenants

    for outcome in await check_tenants(mapping, settings, list(systems)):
        name = SYSTEM_NAMES.get(outcome.system, outcome.system)
        if isinstance(outcome, Unreachable):
            say(f"    mapping not checked against {name}: {outcome.reason}", fg="yellow")
            continue
        codes = sum(n for _, n in outcome.checked)
        found = len(outcome.problems)
        unread = f", {len(outcome.unchecked)} list(s) not checked" if outcome.unchecked else ""
        say(f"    checked against the {name} sandbox: {codes} codes, {found} problem(s){unread}",
            **({"fg": "yellow"} if found else {}))
        for problem in outcome.problems:
            say(f"      {problem}", fg="yellow")


async def _progress(settings: Settings, holded, worker: WorkerProcess, expect_documents: int) -> None:
    start = time.monotonic()
    live = click.get_text_stream("stdout").isatty()
    line = ""

    async def done() -> bool:
        nonlocal line
        docs = await holded.count("documents")
        lag = await pipeline_lag(settings)
        line = (f"    {docs}/{expect_documents} invoices in Holded, {lag} record(s) in flight, "
                f"{time.monotonic() - start:4.0f}s")
        if live:  # one line rewritten in place; a log or a pipe gets only the last state
            click.echo(f"\r{line} ", nl=False)
        return docs >= expect_documents and lag == 0
    try:
        await wait_for(done, 180, "the sample to reach Holded", worker)
    finally:
        click.echo("" if live else line)


async def _settle(settings: Settings, worker: WorkerProcess) -> None:
    async def idle() -> bool:
        return await pipeline_lag(settings) == 0
    await wait_for(idle, 120, "the worker to settle", worker)


async def _summary(settings: Settings, holded) -> None:
    names = TopicNames(settings)
    entities = await read_table(settings, "entities")
    links = await read_table(settings, "links")
    conflicts = [r.value for r in await read_topic(settings, names.conflicts, codec("Conflict").loads)]
    say("\nWhat became of each entity", bold=True)
    for key in sorted(entities):
        state = entities[key]
        ids = (links.get(key) or {}).get("ids", {})
        record = state["record"] or {}
        label = entity_label(record)
        vector = ", ".join(f"{s}:{n}" for s, n in sorted(state["vector"].items()))
        where = ", ".join(f"{system}={rid[:12]}" for system, rid in sorted(ids.items())) or "-"
        say(f"  {key[:40]:40} {label[:26]:26} v[{vector}]  ids: {where}")
    counts = [_counted(await holded.count(what), what)
              for what in ("contacts", "products", "services", "documents")]
    say(f"\nHolded now holds {', '.join(counts)}.")
    for c in conflicts:
        winner = c["incoming_system"] if c["decision"] == "took_incoming" else c["canonical_system"]
        say(f"Conflict on {c['entity_key']} field {c['field']}: {c['canonical_system']}={c['canonical_value']} "
            f"vs {c['incoming_system']}={c['incoming_value']} -> {winner} wins ({c['policy']})", fg="cyan")
    example = next((k for k in sorted(entities) if k.startswith("invoice/")), min(entities, default=""))
    say("\nWhere to look next, in the demo's topics:", bold=True)
    say(f"  export HOLDED_SYNC_BROKER={settings.broker} HOLDED_SYNC_TOPIC_PREFIX={settings.topic_prefix} "
        f"HOLDED_SYNC_SYSTEMS={','.join(settings.systems)} HOLDED_SYNC_PARTITIONS={settings.partitions}")
    say("  holded-sync tables entities       # also links, replicas")
    say(f"  holded-sync history {example}")
    say("  holded-sync conflicts list")
    if conflicts:
        say(f"  holded-sync history {conflicts[0]['entity_key']}   # the conflict, step by step")
    say("  docs: docs/mappings.md (taxes, accounts), docs/events.md, docs/operations.md")


async def _run_erp(broker_url: str, tmp: Path, erp: str) -> None:
    """The same story with a real connector polling an ERP sandbox, and a payment flowing back."""
    import httpx

    from app.devrun.sandboxes import start_erp_sandbox
    from connectors.holded.sandbox import RateLimit, start_sandbox

    system = erp.replace("-", "_")
    shop = system in SHOPS
    say(f"2/6 starting the Holded and {erp} sandboxes (strict API contracts)...")
    holded = await start_sandbox(port=0, db_path=str(tmp / "holded.sqlite"),
                                 rate_limit=RateLimit(requests=20, per_seconds=1.0))
    try:
        sandbox, extra = await start_erp_sandbox(system)
    except BaseException:
        await holded.stop()  # started first: nothing else would stop it
        raise
    settings = Settings(
        broker=broker_url, topic_prefix=f"demo-{uuid.uuid4().hex[:6]}.", partitions=4,
        store="memory://", data_dir=tmp / "worker", web_port=devkafka.free_port(),
        systems=("holded", system), session_timeout_s=6.0, poll_interval_s=2.0,
        holded=HoldedSettings(api_url=holded.url, api_key="sandbox-key", requests_per_second=10,
                              approve_documents=SHOP_DOCUMENTS if shop else ()),
        **extra)
    worker = WorkerProcess(settings, tmp / "worker.log")
    try:
        await ensure_topics(settings)
        mapping = await publish_mapping(settings, MAPPING)
        say(f"3/6 published mapping v{mapping.version} ({MAPPING.name})")
        await _check_mapping(mapping, settings, settings.systems)
        say(f"4/6 starting a worker (pollers for Holded and {erp}, canonical agent, sinks)...")
        if shop:
            say(f"    the shop's documents are created issued in Holded, with {erp}'s numbers "
                f"(HOLDED_APPROVE_DOCUMENTS={','.join(SHOP_DOCUMENTS)})")
        worker.start()
        await wait_ready(settings, worker, 120)
        say(f"5/6 the {erp} connector reads its customers, products and invoices...")
        invoices = await _wait_invoices_decided(settings, worker)
        links = await read_table(settings, "links")
        paid_key = invoice_to_pay(invoices, await read_table(settings, "entities"))
        if shop:
            await _settle(settings, worker)
            payments = await _wait_decided(settings, worker, f"payment/{system}/",
                                           "every payment to reach Holded", required=False)
            say_shop_payments(payments)
            _say_draft_payments(list(payments.values()), erp)
        elif paid_key:
            holded_id = links[paid_key]["ids"]["holded"]
            doc = next(d for d in await holded.all("documents") if d["id"] == holded_id)
            say(f"6/6 a customer pays {doc['total']} EUR in Holded for {paid_key}...")
            async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
                paid = await http.post(f"/invoicing/v1/documents/invoice/{holded_id}/pay",
                                       json={"date": int(time.time()), "amount": doc["total"]})
            if paid.status_code != 200:
                raise click.ClickException(f"Holded refused the payment of {paid_key}: "
                                           f"HTTP {paid.status_code} {paid.text[:200]}")
            if doc.get("draft"):
                say(f"    it was a draft in Holded: the payment approved it as "
                    f"{paid.json()['invoiceNum']}, Holded's next number (Holded's /pay does; "
                    "docs/holded.md §4)")

            async def back_in_erp() -> dict | None:
                # Succeeded, or parked (final until a person acts): a failure may still be retried.
                results = [r.value for r in await read_topic(
                    settings, TopicNames(settings).results(system), codec("CommandResult").loads)]
                return next((r for r in results if r["entity_key"].startswith("payment/")
                             and r["status"] in ("succeeded", "parked")), None)
            outcome = await wait_for(back_in_erp, 120, f"the payment to reach {erp}", worker)
            if outcome["status"] == "succeeded":
                say(f"    the payment is registered in {erp} against the invoice (reconciled)")
            else:
                say(f"    the payment was not registered in {erp}: parked: {outcome['reason']}",
                    fg="yellow")
        else:
            say("6/6 no issued, unpaid invoice reached Holded, so there is no payment to show",
                fg="yellow")
        await _settle(settings, worker)
        if not shop:  # the ERP's own payments of its invoices
            _say_draft_payments(await _holded_payment_results(settings), erp)
        await _summary(settings, holded)
    finally:
        worker.stop()
        await sandbox.stop()
        await holded.stop()


async def _holded_payment_results(settings: Settings) -> list[dict]:
    """The Holded sink's results for payments (an ERP's or a shop's, of their invoices)."""
    results = [r.value for r in await read_topic(
        settings, TopicNames(settings).results("holded"), codec("CommandResult").loads)]
    return [r for r in results if r["entity_key"].startswith("payment/")]


def _say_draft_payments(payments: list[dict], source: str) -> None:
    """Payments parked because their invoice is a draft in Holded (the default: Holded's /pay
    would approve it with Holded's own number; docs/holded.md §4), so that the summary's
    payments without a Holded id are explained."""
    parked = {r["entity_key"] for r in payments if r["status"] == "parked"
              and "is a draft in Holded" in (r.get("reason") or "")}
    if parked:
        say(f"    {len(parked)} {source} payment(s) parked for review: their invoices are drafts "
            "in Holded, and paying a draft approves it with Holded's next number; "
            "HOLDED_PAY_DRAFTS=true lets payments do that, HOLDED_APPROVE_DOCUMENTS creates "
            "invoices approved (docs/holded.md §4, §10)", fg="yellow")


def invoice_to_pay(results: dict[str, dict], entities: dict[str, dict]) -> str | None:
    """The invoice a customer pays in the demo: the first, by key, that reached Holded and is
    an issued, unpaid invoice. The seeds of SAP B1 and Business Central also hold a credit note
    and a draft; Holded's invoice pay route does not take a credit note, a draft is not due, and
    the demo pays the whole total, which only an unpaid invoice still owes."""
    for key in sorted(results):
        record = (entities.get(key) or {}).get("record") or {}
        if (results[key]["status"] == "succeeded" and record.get("doc_type") == "invoice"
                and record.get("status") == "issued" and record.get("payment_status") == "unpaid"):
            return key
    return None


async def _wait_invoices_decided(settings: Settings, worker: WorkerProcess) -> dict[str, dict]:
    """Every ERP invoice has an outcome in Holded (sent, or parked with its reason)."""
    outcomes = await _wait_decided(settings, worker, "invoice/", "every invoice to reach Holded")
    say_outcomes(outcomes)
    return outcomes


async def _wait_decided(settings: Settings, worker: WorkerProcess, prefix: str, what: str,
                        required: bool = True) -> dict[str, dict]:
    """The latest result in Holded of every entity whose key starts with ``prefix``, once each
    has one; ``required``: wait until there is at least one such entity."""
    names = TopicNames(settings)

    async def decided() -> tuple[dict[str, dict]] | None:
        entities = await read_table(settings, "entities")
        wanted = {k for k in entities if k.startswith(prefix)}
        results = {r.value["entity_key"]: r.value for r in await read_topic(
            settings, names.results("holded"), codec("CommandResult").loads)}
        got = {k: results[k] for k in wanted if k in results}
        return (got,) if len(got) == len(wanted) and (wanted or not required) else None
    [outcomes] = await wait_for(decided, 180, what, worker)
    return outcomes


def say_outcomes(outcomes: dict[str, dict]) -> None:
    """One line per entity: its status, and the reason when it was not sent."""
    for key, result in sorted(outcomes.items()):
        note = "" if result["status"] == "succeeded" else f": {result['reason']}"
        say(f"    {key}: {result['status']}{note}", fg=None if result["status"] == "succeeded" else "yellow")


def say_shop_payments(outcomes: dict[str, dict]) -> None:
    """How many of the shop's payments reached their Holded invoices, of how many, and what
    became of each: a bare count of succeeded results hid a payment parked or never sent,
    and would count twice a payment whose command ran twice (delivery is at-least-once)."""
    registered = sum(r["status"] == "succeeded" for r in outcomes.values())
    say(f"6/6 the shop's payments: {registered} of {len(outcomes)} registered on their Holded "
        "invoices", **({} if registered == len(outcomes) else {"fg": "yellow"}))
    say_outcomes(outcomes)


def entity_label(record: dict) -> str:
    """What a person recognises an entity by: its name or number, else (a shop's refund, a
    payment) what it is and its amount, so no summary row is left blank."""
    label = record.get("name") or record.get("number") or record.get("sku")
    if label and record.get("doc_type") == "credit_note":
        return f"{label} (credit note)"  # SAP numbers them apart: CN-1 is "1001", as invoice 1
    if label:
        return label
    amount = record.get("amount") or (record.get("totals") or {}).get("total")
    what = (record.get("doc_type") or ("payment" if "amount" in record else "")).replace("_", " ")
    return f"{what} {amount} {record.get('currency') or ''}".strip() if amount else what


def _counted(n: int, plural: str) -> str:
    """``1 product``, ``2 products``: the summary reads as a sentence."""
    return f"{n} {plural if n != 1 else plural[:-1]}"
