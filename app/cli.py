"""`holded-sync`: one entry point for operators. Exit codes: 0 ok, 1 the work found problems
(invalid lines, validation errors), 2 bad usage, 3 the environment is missing something.
"""
from __future__ import annotations

import asyncio
import contextlib
import difflib
import importlib
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from app.settings import Settings, load_settings, settings_error, system_name

__all__ = ["main"]


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


@contextlib.contextmanager
def _broker_errors(settings: Settings) -> Iterator[None]:
    """Turn 'no broker' into one clear line and exit code 3, and topics that do not match the
    settings into one clear line and exit code 2. aiokafka's own lines about the broker it
    cannot reach are left out meanwhile (shown with -v)."""
    from aiokafka.errors import KafkaConnectionError

    from app.topics import PartitionMismatch

    try:
        with _quiet_connection_errors(click.get_current_context(silent=True)):
            yield
    except PartitionMismatch as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KafkaConnectionError:
        click.echo(f"error: cannot reach Kafka at {settings.bootstrap} (HOLDED_SYNC_BROKER); "
                   "for a local one run `holded-sync dev kafka start`", err=True)
        sys.exit(3)


class _NoConnectionErrors(logging.Filter):
    """Drops aiokafka's own log lines about a broker it cannot reach."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Unable connect", "Unable to update metadata"))


@contextlib.contextmanager
def _quiet_connection_errors(ctx: click.Context | None) -> Iterator[None]:
    """aiokafka logs a broker it cannot reach as ERROR lines before the command says so in one
    `error:` line; keep them out unless -v was given. Only around a command's broker calls
    (``_broker_errors``): a running worker's logging is unchanged."""
    if ctx is not None and (ctx.obj or {}).get("verbose", 0):
        yield
        return
    logger, drop = logging.getLogger("aiokafka"), _NoConnectionErrors()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


class LazyGroup(click.Group):
    """A command group that imports a subcommand's module only when that subcommand runs or
    help lists it. The sandboxes, the demo and the operator tools import a lot (the six API
    sandboxes alone about 0.5 s); a worker pod runs none of them and starts without them."""

    def __init__(self, *args: Any, lazy: dict[str, Callable[[], click.Command]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})  # command name -> a loader of the command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        load = self.lazy.pop(name, None)
        if load is not None:
            self.add_command(load(), name)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        """An unknown command names the one meant (``conflict`` -> ``conflicts``), and
        ``status``, which people try first, where the state is shown."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in self.list_commands(ctx):
            if name == "status":
                ctx.fail("No such command 'status'. The state is shown by `tables`, `history`, "
                         "`conflicts list`, `dlq list`, `parked list`, a worker's /operator page "
                         "and /readyz; the local broker's by `dev kafka status`.")
            near = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            if near:
                ctx.fail(f"No such command {name!r}. Did you mean {near[0]!r}?")
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML settings file (environment variables win).")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """holded-sync: keep Holded and your ERP in step, through Kafka."""
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        ctx.obj = {"settings": load_settings(config), "verbose": verbose}
    except Exception as exc:  # pydantic and YAML errors: say what is wrong and stop
        raise click.UsageError(f"invalid settings: {settings_error(exc)}") from exc
    if ctx.invoked_subcommand not in NO_RECORDS:
        _use_schema_registry(ctx.obj["settings"])


NO_RECORDS = {"dev", "sandbox", "config", None}  # commands that read or write no record


def _use_schema_registry(settings: Settings) -> None:
    """With a schema registry set, register our schemas before any record is written; a
    registry that cannot be reached is one clear line and exit code 3, like the broker."""
    from app.schema_registry import RegistryError, connect

    try:
        connect(settings)
    except RegistryError as exc:
        click.echo(f"error: {exc} (HOLDED_SYNC_SCHEMA_REGISTRY_URL)", err=True)
        sys.exit(3)


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker: the canonical agents, pollers, sinks and web views on
    HOLDED_SYNC_WEB_PORT (/metrics, /healthz, /readyz, /operator, webhooks), in the
    foreground until Ctrl-C or SIGTERM."""
    from app.connections import IncompleteSettings, check_clients
    from app.observe import replay_plan
    from app.replay import ReplayRunning, require_no_replay_worker
    from app.topics import ensure_topics
    from app.worker import create_app, tune_gc

    settings = _settings(ctx)
    try:
        check_clients(settings)  # before Kafka: half a configuration is one line at once
    except IncompleteSettings as exc:
        raise click.UsageError(f"invalid settings: {exc}") from exc
    _check_data_dir(settings.data_dir)
    _check_web_port(settings.web_host, settings.web_port)

    async def prepare():  # the topics, then the replay plan before this worker commits any of it
        await ensure_topics(settings)
        if settings.run_sinks:
            await require_no_replay_worker(settings)
        return await replay_plan(settings)
    with _broker_errors(settings):
        try:
            replay = asyncio.run(prepare())
        except ReplayRunning as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(3)
    app = create_app(settings, replay=replay)  # its clients passed check_clients above
    tune_gc()
    quiet_worker(app, settings.log_level).execute_from_commandline()


def _check_data_dir(path: Path) -> None:
    """The worker keeps its tables there: say so before faust fails on it with a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"invalid settings: HOLDED_SYNC_DATA_DIR={path} cannot be a "
                               f"directory for the tables: {exc.strerror}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise click.UsageError(f"invalid settings: HOLDED_SYNC_DATA_DIR={path} is not writable "
                               "by this user")


def _check_web_port(host: str, port: int) -> None:
    """The web server (/metrics, /readyz, webhooks) binds late in faust's start, and a port in
    use ended the worker with a traceback; try it first. (It can still be taken in between.)"""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            click.echo(f"error: the worker's web port {host}:{port} (HOLDED_SYNC_WEB_PORT) cannot "
                       f"be bound: {exc.strerror}; another worker on this machine needs a port of "
                       "its own", err=True)
            sys.exit(3)


def quiet_worker(app, log_level: str):  # -> faust.Worker
    """A faust Worker without its terminal spinner. At a log level of WARNING or above faust
    keeps the spinner, and for it puts the root logger at DEBUG: every ``log.debug`` in faust
    and aiokafka then builds a record (18 % of a send), only for the handlers to drop it."""
    import faust

    worker = faust.Worker(app, loglevel=log_level, quiet=True)
    worker.spinner = None
    return worker


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--system", required=True, callback=lambda ctx, param, value: system_name(value),
              help="System the records come from (e.g. odoo, file).")
@click.option("--lane", type=click.Choice(["realtime", "bulk"]), default="realtime",
              help="bulk for big loads: their commands wait behind real-time work.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="The file's encoding, e.g. cp1252 or latin-1 for a Windows or ERP export.")
@click.pass_context
def ingest(ctx: click.Context, file: Path, system: str, lane: str, encoding: str) -> None:
    """Publish canonical entities from a JSON Lines FILE as change events."""
    from app.ingest import ingest_file, line_encoding
    from app.topics import ensure_topics

    settings = _settings(ctx)
    if system not in settings.systems:  # the README's `--system odoo` meets the default set
        raise click.UsageError(f"system {system!r} is not configured "
                               f"(HOLDED_SYNC_SYSTEMS={','.join(settings.systems)}): add it there "
                               "(HOLDED_SYNC_SYSTEMS=" + ",".join((*settings.systems, system)) + "), "
                               "or ingest with --system file, the source of systems with no connector")
    try:
        encoding = line_encoding(encoding)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    with _broker_errors(settings):
        asyncio.run(ensure_topics(settings))
        if sys.stderr.isatty():  # a bar for a person waiting on a big file; logs get no noise
            with file.open("rb") as fh:
                lines = sum(1 for _ in fh)
            with click.progressbar(length=lines, label=f"publishing {file.name}", show_pos=True,
                                   file=click.get_text_stream("stderr")) as bar:
                def on_line(number: int) -> None:
                    if number - bar.pos >= 500:
                        bar.update(number - bar.pos)
                report = asyncio.run(ingest_file(file, system, settings, lane, on_line, encoding))
                bar.update(lines - bar.pos)
        else:
            report = asyncio.run(ingest_file(file, system, settings, lane, encoding=encoding))
    for error in report.errors:
        click.echo(f"{file}:{error}", err=True)
    click.echo(f"published {report.published} change event(s) to changes.{system}; "
               f"{len(report.errors)} invalid line(s) skipped")
    sys.exit(1 if report.errors else 0)


@cli.command()
@click.option("--from-beginning", "from_beginning", is_flag=True,
              help="Rebuild every table from the first record of every topic (new generation).")
@click.option("--since", "since", default=None, metavar="TIME",
              help="Decide the inbox again from TIME (2026-03-01T10:00:00Z, 2026-03-01, 2h, 3d); "
                   "the generation's workers must be stopped.")
@click.option("--generation", type=int, default=None,
              help="With --from-beginning: generation to build (default: the current one + 1).")
@click.option("--run/--no-run", default=True,
              help="With --from-beginning: start the worker of the new generation.")
@click.option("--bulk/--streaming", default=True,
              help="With --from-beginning: build the table with a batch job before the worker "
                   "starts (default; 4-5 times faster), or let the worker re-read inbox.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="With --bulk: processes deciding partitions side by side (default: the CPUs this "
                   "process may use).")
@click.option("--wait/--no-wait", default=True,
              help="With --since: follow the workers until they re-decided everything.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="With --since --wait: give up following after this many seconds (exit 1).")
@click.pass_context
def replay(ctx: click.Context, from_beginning: bool, since: str | None, generation: int | None,
           run: bool, bulk: bool, jobs: int | None, wait: bool, timeout: float | None) -> None:
    """Rebuild all tables under a new generation, or decide the inbox again from a time.

    --from-beginning: a new generation has its own consumer group, changelogs and local store,
    so the current workers keep serving until the new ones have caught up. By default a batch
    job first decides everything in inbox, with the agent's code, and writes the new table and
    the group's offsets; the worker then starts with nothing to re-read. Its workers run no
    sinks; once every worker is switched to it, its sinks read the re-emitted commands, which
    carry the same ids as before, find them in the ledger (shared by all generations) and
    call no API again.

    --since TIME: rewinds the current generation's group on `inbox` to TIME (stop its workers
    first, start them after); already applied records are dropped as duplicates, so only what
    was not decided before (e.g. dead-lettered by a since-fixed bug) has an effect.
    """
    if from_beginning == (since is not None):
        raise click.UsageError("give exactly one of --from-beginning or --since TIME")
    settings = _settings(ctx)
    if since is not None:
        _replay_since(settings, since, wait, timeout)
        return
    # The replay's workers only decide: the commands they re-emit are executed (as
    # already_done, from the ledger) by the generation's sinks once it is switched to.
    new = settings.model_copy(update={"generation": generation if generation is not None
                                      else settings.generation + 1, "run_sinks": False})
    click.echo(f"replaying into generation {new.generation} "
               f"(set HOLDED_SYNC_GENERATION={new.generation} on every worker to switch)")
    if bulk:
        _bulk_replay(new, jobs or len(os.sched_getaffinity(0)))
    if run:
        # Said, because a "batch job" that goes on running surprised people at a terminal.
        click.echo(f"starting generation {new.generation}'s worker (it decides, no sinks) in the "
                   "foreground; Ctrl-C or SIGTERM stops it (--no-run ends after the batch job)")
        ctx.obj["settings"] = new
        ctx.invoke(worker)


def _bulk_replay(settings: Settings, jobs: int) -> None:
    from app.bulk_replay import BulkFailed, GenerationInUse, bulk_replay
    from app.replay import GroupActive

    started = time.monotonic()
    with _broker_errors(settings), click.progressbar(
            length=1, label="deciding inbox", show_pos=True, item_show_func=lambda rate: rate,
            file=click.get_text_stream("stderr")) as bar:
        def on_progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            rate = done / max(time.monotonic() - started, 1e-3)
            bar.update(done - bar.pos, f"{rate:.0f} rec/s")
        try:
            report = asyncio.run(bulk_replay(settings, jobs, on_progress))
        except GenerationInUse as exc:  # a retried Job: its worker carries on where it was
            click.echo(f"\n{exc}; no batch job: its worker carries on from the group's offsets")
            return
        except (GroupActive, BulkFailed) as exc:
            click.echo(f"\nerror: {exc}", err=True)
            sys.exit(1)
    click.echo(f"decided {report.records} inbox record(s) of {report.entities} entities in "
               f"{report.seconds:.1f}s ({report.records / max(report.seconds, 1e-3):.0f} rec/s, "
               f"{len(report.partitions)} partition(s), {report.dead_letters} dead-lettered, "
               f"peak RSS {report.max_rss_mb:.0f} MB); group {report.group} committed at the "
               "end of inbox")


def _replay_since(settings: Settings, since: str, wait: bool, timeout: float | None) -> None:
    from app.operator_cli import parse_since
    from app.replay import GroupActive, follow, rewind_inbox
    from app.topics import ensure_topics

    since_ms = parse_since(since)  # exit 2 with a clear line when it is not a time
    assert since_ms is not None
    with _broker_errors(settings):
        asyncio.run(ensure_topics(settings))
        try:
            rewind = asyncio.run(rewind_inbox(settings, since_ms))
        except GroupActive as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        click.echo(f"rewound {rewind.group} on inbox to {_iso(since_ms)}: {rewind.again} "
                   f"record(s) to decide again, {rewind.total} to read in all")
        if not wait or rewind.total == 0:
            return
        click.echo("start the workers now; following them (Ctrl-C stops following only)", err=True)
        started = time.monotonic()
        with click.progressbar(length=rewind.total, label="re-deciding", show_pos=True,
                               item_show_func=lambda rate: rate,
                               file=click.get_text_stream("stderr")) as bar:
            def on_progress(done: int) -> None:
                rate = done / max(time.monotonic() - started, 1e-3)
                bar.update(done - bar.pos, f"{rate:.0f} rec/s")
            try:
                took = asyncio.run(follow(settings, rewind, on_progress, timeout))
            except TimeoutError as exc:
                click.echo(f"\nerror: gave up following: {exc}", err=True)
                sys.exit(1)
    click.echo(f"replay since {_iso(since_ms)}: {rewind.total} record(s) read in {took:.1f}s "
               f"({rewind.total / max(took, 1e-3):.0f} rec/s), {rewind.again} of them decided again")


def _iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="seconds")


@cli.command()
@click.argument("system", callback=lambda ctx, param, value: system_name(value))
@click.option("--entity", "entities", multiple=True,
              type=click.Choice(["contact", "product", "invoice", "payment"]),
              help="Only these entities (repeatable; default: all).")
@click.option("--since", default=None, metavar="TIME",
              help="Only records changed since TIME (2026-03-01T10:00:00Z, 2026-03-01, 2h, 3d), "
                   "where the system's API can filter by change time.")
@click.pass_context
def backfill(ctx: click.Context, system: str, entities: tuple[str, ...], since: str | None) -> None:
    """Read what SYSTEM holds (everything, or what changed since TIME) and publish it as
    bulk-lane changes.

    Bulk commands queue behind real-time work and the engine drops what it already knows
    (duplicates by content hash), so a backfill is safe to repeat. The mapping in force is read
    from the `mappings` topic; run `mappings publish` first. Holded's API cannot filter by
    change time: --since reads it whole, with a warning.
    """
    import datetime as dt

    from app.backfill import RERUN_SAFE, failure, read_scope, run_backfill, unusable_system
    from app.connections import IncompleteSettings
    from app.operator_cli import parse_since
    from connectors.base.errors import ConnectorError

    settings = _settings(ctx)
    since_ms = parse_since(since)  # exit 2 with a clear line when it is not a time
    why = unusable_system(system, list(settings.systems))
    if why is not None:
        raise click.UsageError(why)
    when = dt.datetime.fromtimestamp(since_ms / 1000, dt.timezone.utc) if since_ms is not None else None
    with _broker_errors(settings):
        try:
            counts = asyncio.run(run_backfill(settings, system, set(entities) or None, when))
        except IncompleteSettings as exc:
            raise click.UsageError(f"invalid settings: {exc}") from exc
        except LookupError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(3)
        except ConnectorError as exc:
            line, code = failure(system, exc)
            click.echo(line, err=True)
            sys.exit(code)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: nothing is lost (what was published stays; {RERUN_SAFE})",
                       err=True)
            sys.exit(130)
    total = sum(counts.values())
    detail = ", ".join(f"{n} {entity}(s)" for entity, n in sorted(counts.items())) or "nothing"
    click.echo(f"backfill of {system}, {read_scope(system, when)}: published {total} change(s) "
               f"to changes.{system} ({detail})")


@cli.command("tables")
@click.argument("table", type=click.Choice(["entities", "replicas", "links"]))
@click.pass_context
def tables(ctx: click.Context, table: str) -> None:
    """Print a table's current content (read from its changelog) as JSON lines."""
    from app.inspect import read_table
    from app.jsonform import to_json
    from app.replay import switched_generation

    settings = _settings(ctx)
    with _broker_errors(settings):
        content = asyncio.run(read_table(settings, table))
        if not content:
            _explain_empty_table(settings, table)
        newer = asyncio.run(switched_generation(settings))
    if newer is not None:
        click.echo(f"note: the workers run generation {newer}, and this read generation "
                   f"{settings.generation}, which they no longer keep: set "
                   f"HOLDED_SYNC_GENERATION={newer} as they have it", err=True)
    for key, value in sorted(content.items()):
        click.echo(json.dumps({"key": key, "value": to_json(value)}, ensure_ascii=False))


def _explain_empty_table(settings, table: str) -> None:
    from app.topics import CANONICAL_TABLE, TopicNames

    explain_empty(settings, table, TopicNames(settings).changelog(CANONICAL_TABLE))


def explain_empty(settings, what: str, topic: str, present: str | None = "") -> None:
    """A note on stderr when a command found nothing (stdout stays empty for pipes): ``topic``
    does not exist, which usually means another app's topic prefix or generation, or it does
    and ``present`` says what it holds (default: no records; None: no note then)."""
    from app.inspect import topic_exists
    from app.topics import TopicNames

    names = TopicNames(settings)
    if asyncio.run(topic_exists(settings, topic)):
        if present is not None:
            click.echo(f"note: no {what} yet: {present or f'{topic} holds no records'}", err=True)
        return
    # Changelogs of tables belong to a generation; dlq, conflicts and the ledgers do not.
    if (topic.startswith(f"{names.app_id}-")
            and not topic.startswith(f"{settings.topic_prefix}{settings.app_id}-ledger-")):
        app, scope = names.app_id, (f"HOLDED_SYNC_TOPIC_PREFIX={settings.topic_prefix!r}, "
                                    f"HOLDED_SYNC_GENERATION={settings.generation}")
    else:
        app, scope = (f"{settings.topic_prefix}{settings.app_id}",
                      f"HOLDED_SYNC_TOPIC_PREFIX={settings.topic_prefix!r}")
    click.echo(f"note: no {what}: {topic} does not exist on this broker, so no worker of app "
               f"{app} has run ({scope})", err=True)


@cli.group()
def dev() -> None:
    """Development helpers."""


@dev.group()
def kafka() -> None:
    """A local single-node Apache Kafka from Maven Central jars."""


_DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                         help="Broker state (default ~/.cache/holded-sync/dev-kafka).")


@kafka.command("start")
@_DATA_DIR
@click.option("--port", type=int, default=None, help="Broker port (default: a free one).")
def kafka_start(data_dir: Path | None, port: int | None) -> None:
    """Start the broker (downloads the jars once) and print its bootstrap address."""
    from app.devkafka import broker

    try:
        info = broker.start(data_dir, port)
    except broker.DevKafkaError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    click.echo(f"Kafka {broker.KAFKA_VERSION} running, pid {info.pid}: "
               f"HOLDED_SYNC_BROKER={info.url}")
    # It runs in the background, past this command and the shell: say how it ends.
    where = f" --data-dir {shlex.quote(str(data_dir))}" if data_dir else ""
    click.echo(f"it runs in the background; `holded-sync dev kafka stop{where}` stops it", err=True)


@kafka.command("stop")
@_DATA_DIR
def kafka_stop(data_dir: Path | None) -> None:
    """Stop the broker by its PID."""
    from app.devkafka import broker

    click.echo("stopped" if broker.stop(data_dir) else "not running")


@kafka.command("status")
@_DATA_DIR
def kafka_status(data_dir: Path | None) -> None:
    """Say whether the broker runs (exit 1 if not)."""
    from app.devkafka import broker

    info = broker.status(data_dir)
    if info is None:
        click.echo("not running")
        sys.exit(1)
    click.echo(f"running, pid {info.pid}: HOLDED_SYNC_BROKER={info.url}")


@cli.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective configuration; secrets are masked."""
    click.echo(_settings(ctx).model_dump_json(indent=2))


@click.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def mappings_diff(old: Path, new: Path) -> None:
    """What NEW changes against OLD (both validated first). Exit 0 same, 1 different or a
    document invalid (its errors printed instead), 2 no such file."""
    import yaml

    from app.mapping import MappingInvalid, load_mapping, read_mapping_text
    from app.mapping.cli import echo_invalid
    from app.mapping.diff import diff

    versions, issues = [], []
    for path in (old, new):  # both validated, so one run shows the errors of both
        try:
            versions.append(load_mapping(path).version)
        except MappingInvalid as exc:
            issues.extend(exc.issues)
    if issues:  # an invalid document is a problem found, as in validate
        echo_invalid(MappingInvalid(issues))
        sys.exit(1)
    lines = list(diff(yaml.safe_load(read_mapping_text(old)), yaml.safe_load(read_mapping_text(new))))
    for line in lines:
        click.echo(line)
    click.echo(f"v{versions[0]} -> v{versions[1]}: {len(lines)} difference(s)")
    sys.exit(1 if lines else 0)


@click.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def mappings_publish(ctx: click.Context, file: Path) -> None:
    """Validate FILE and publish it as the mapping every worker applies from now on. Exit 1
    if it is invalid or not newer than the published version, 2 no such file, 3 no broker."""
    from app.live_mapping import publish_mapping
    from app.mapping.cli import load_valid
    from app.topics import ensure_topics

    settings = _settings(ctx)
    new = load_valid(file)
    with _broker_errors(settings):
        asyncio.run(ensure_topics(settings))
        current = asyncio.run(_published_version(settings))
        if current is not None and new.version <= current:
            click.echo(f"error: {file} is version {new.version}, but version {current} is "
                       "already published; raise `version` to publish a change", err=True)
            sys.exit(1)
        asyncio.run(publish_mapping(settings, file))
    click.echo(f"published mapping v{new.version} from {file}")


async def _published_version(settings: Settings) -> int | None:
    from app.inspect import read_topic
    from app.live_mapping import LiveMapping
    from app.topics import TopicNames

    live = LiveMapping()
    for rec in await read_topic(settings, TopicNames(settings).mappings):
        if rec.value is not None:
            live.offer(rec.value)
    return live.version


def _attribute(path: str) -> Callable[[], click.Command]:
    """A loader of the command at ``"module:attribute"``."""
    def load() -> click.Command:
        module, _, attribute = path.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return load


def _mappings() -> click.Command:
    from app.mapping.cli import mappings
    from app.tenant_check import mappings_check

    mappings.add_command(mappings_publish)
    mappings.add_command(mappings_diff)
    mappings.add_command(mappings_check)
    return mappings


cli.lazy.update({
    "demo": _attribute("app.demo:demo"),
    "mappings": _mappings,
    **{name: _attribute(f"app.operator_cli:{name}")
       for name in ("history", "conflicts", "dlq", "parked")},
})


@cli.group(cls=LazyGroup, lazy={
    "holded": _attribute("connectors.holded.sandbox_cli:sandbox_holded_command"),
    "odoo": _attribute("connectors.odoo.sandbox_cli:sandbox_odoo_command"),
    "business-central": _attribute("connectors.business_central.sandbox_cli:sandbox_bc_command"),
    "sap-b1": _attribute("connectors.sap_b1.sandbox_cli:sandbox_sap_command"),
    "prestashop": _attribute("connectors.prestashop.sandbox_cli:sandbox_prestashop_command"),
    "shopify": _attribute("connectors.shopify.sandbox_cli:sandbox_shopify_command"),
})
def sandbox() -> None:
    """Run a strict sandbox of an external system's API on 127.0.0.1 (tests, demo, trials)."""


def main() -> None:
    cli(prog_name="holded-sync")
