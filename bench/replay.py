"""A full replay: time to rebuild the tables from ``inbox`` with 1, 2 and 3 workers.

    .venv/bin/python bench/replay.py [--events 1000000] [--entities 100000] [--workers 1 2 3]

Phase 1, the original processing: N synthetic contact changes (bench/_common.py) are
published to ``changes.odoo`` and ONE worker (generation 0) runs until the whole pipeline is
idle: the sequencer has copied them into ``inbox``, the canonical agent has decided them, and
the Holded sink has executed every command against a Holded sandbox (a child process, no rate
limit, the mapping of docs/examples/mapping-es.yaml published). Publishing straight into
``inbox`` would skip the sequencer but not the sink, and replays are only meaningful against a
Holded that already holds what the original wrote, so the bench runs the real thing.

Phase 2, for each worker count k: ``holded-sync replay --from-beginning`` into a new
generation (new consumer group, changelogs and local store). ``--mode bulk`` (the default, as
in the CLI): the batch job of app/bulk_replay.py with k processes decides ``inbox`` and writes
the table, then k worker processes start, restore it and find nothing to read.
``--mode streaming``: k workers read ``inbox`` from offset 0. Timed from the start until the new
group's lag on ``inbox`` is 0 and its ``entities`` table holds every entity. Each worker's RSS is
sampled (VmRSS) every 0.5 s, and each bulk job process reports its peak; the max is reported.
The rebuilt ``entities`` table is compared with the original's, entity by entity. A replay whose lag stops moving for
--stall-after seconds is reported as stalled, with the partitions behind (before
app/faust_fixes.py, faust could skip a record consumed just before a rebalance).
--no-sink runs both phases without a Holded API key: the pure table rebuild, no sink at all.

API calls: the replay workers run the whole app, sinks included, as `holded-sync replay`
does. By design (app/cli.py, docs/architecture.md decision 2) a replay RE-EMITS commands
with their original ids; the sinks must find them done and call no API. The sandbox's
request log is read before and after (after = once the replay's sinks are idle too, bounded);
writes (POST/PUT/DELETE) must be 0. Re-emitted commands are counted (commands topics' end
offsets) and checked to carry only ids the original emitted. Targets (issue #9): <= 120 s on
2 cores, worker RSS <= 400 MB.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from app.avro import codec  # noqa: E402
from app.bulk_replay import bulk_replay  # noqa: E402
from app.devkafka import broker as devkafka  # noqa: E402
from app.devrun.process import WorkerProcess, pipeline_lag, wait_ready  # noqa: E402
from app.inspect import read_table  # noqa: E402
from app.live_mapping import publish_mapping  # noqa: E402
from app.settings import HoldedSettings, Settings  # noqa: E402
from app.topics import TopicNames, ensure_topics, kafka_client_options  # noqa: E402
from bench._common import publish, rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "docs" / "examples" / "mapping-es.yaml"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
TARGET_S, TARGET_RSS_MB, ISSUE_EVENTS = 120.0, 400.0, 1_000_000


def serve_sandbox(conn: Any) -> None:
    """Child process: a Holded sandbox without rate limit; answers "count" with its request
    methods so far, and stops on "stop"."""
    from connectors.holded import sandbox
    from tests.connectors.holded.sink_support import fast_sandbox_lists

    async def main() -> None:
        with fast_sandbox_lists():
            server = await sandbox.start_sandbox(port=0, rate_limit=None)
        conn.send(server.url)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv) != "stop":
            contacts = await server.all("contacts")
            conn.send({"methods": dict(Counter(r.method for r in server.requests)),
                       "contacts": len(contacts)})
        await server.stop()

    asyncio.run(main())


class NoSandbox:
    """--no-sink: Holded has no API key, so no sink or poller runs and nothing is counted."""

    url = ""

    def counts(self) -> dict[str, Any]:
        return {"methods": {}, "contacts": 0}

    def stop(self) -> None:
        pass


class Sandbox:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve_sandbox, args=(child,), daemon=True)
        self.proc.start()
        if not self.conn.poll(60):
            raise SystemExit("the Holded sandbox did not start in 60 s")
        self.url: str = self.conn.recv()

    def counts(self) -> dict[str, Any]:
        self.conn.send("count")
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.conn.send("stop")
        except OSError:
            pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


def writes(counts: dict[str, Any]) -> int:
    return sum(n for m, n in counts["methods"].items() if m in WRITES)


def calls(counts: dict[str, Any]) -> int:
    return sum(counts["methods"].values())


async def end_offsets(settings: Settings, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(**kafka_client_options(settings))
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(settings.partitions)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def inbox_lag(settings: Settings) -> tuple[int, str]:
    """Records of ``inbox`` the generation's canonical group has not committed yet, and the
    partitions behind as ``p<n>:committed/end``."""
    names = TopicNames(settings)
    opts = kafka_client_options(settings)
    admin, consumer = AIOKafkaAdminClient(**opts), AIOKafkaConsumer(**opts)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(names.app_id)
        tps = [TopicPartition(names.inbox, p) for p in range(settings.partitions)]
        ends = await consumer.end_offsets(tps)
        done = {tp: max(0, committed[tp].offset if tp in committed else 0) for tp in tps}
        behind = " ".join(f"p{tp.partition}:{done[tp]}/{ends[tp]}" for tp in tps if done[tp] < ends[tp])
        return sum(ends[tp] - done[tp] for tp in tps), behind
    finally:
        await consumer.stop()
        await admin.close()


async def command_ids(settings: Settings) -> list[str]:
    """Every command id on commands.holded (both lanes), in offset order per partition."""
    names, cmd = TopicNames(settings), codec("Command")
    topics = [names.commands("holded", lane) for lane in ("realtime", "bulk")]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(settings.partitions)]
        ends = {tp: e for tp, e in (await consumer.end_offsets(tps)).items() if e > 0}
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        ids: list[str] = []
        async def behind() -> bool:
            return any([await consumer.position(tp) < e for tp, e in ends.items()])
        while await behind():
            batch = await consumer.getmany(timeout_ms=1000, max_records=10000)
            ids += [cmd.loads(m.value)["command_id"] for msgs in batch.values() for m in msgs
                    if m.offset < ends[TopicPartition(m.topic, m.partition)]]
        return ids
    finally:
        await consumer.stop()


class RssSampler:
    """Samples the workers' VmRSS every 0.5 s; keeps each one's maximum."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers, self.max = workers, [0.0] * len(workers)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            for i, w in enumerate(self.workers):
                if w.proc is not None:
                    self.max[i] = max(self.max[i], rss_mb(w.proc.pid))
            await asyncio.sleep(0.5)

    def stop(self) -> list[float]:
        self._task.cancel()
        return self.max


async def original(settings: Settings, tmp: Path, n: int, entities: int, timeout: float,
                   no_sink: bool) -> None:
    names = TopicNames(settings)
    await publish_mapping(settings, MAPPING)
    secs = await publish(settings, names.changes("odoo"), n, entities)
    print(f"published {n} events over {entities} entities in {secs:.1f} s", flush=True)
    worker = WorkerProcess(settings, tmp / "original.log").start()
    start = time.perf_counter()
    try:
        await wait_ready(settings, worker, 120)
        while (lag := await pipeline_lag(settings)) > 0:
            if time.perf_counter() - start > timeout:
                raise SystemExit(f"original processing not idle after {timeout:.0f} s "
                                 f"(lag {lag}); log: {worker.log_path}")
            if worker.proc.poll() is not None:
                raise SystemExit(f"original worker exited; log: {worker.log_path}")
            await asyncio.sleep(1.0)
        print(f"original processing (1 worker: sequencer, decisions{'' if no_sink else ', Holded sink'}): "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    finally:
        await asyncio.to_thread(worker.stop)


async def replay(base: Settings, tmp: Path, generation: int, k: int, entities: int,
                 sandbox: Sandbox | NoSandbox, original_ids: set[str], original_entities: dict,
                 sink_timeout: float, stall_s: float, mode: str) -> dict[str, Any]:
    names = TopicNames(base)
    command_topics = [names.commands("holded", lane) for lane in ("realtime", "bulk")]
    commands_before = await end_offsets(base, command_topics)
    api_before = sandbox.counts()
    runs = [base.model_copy(update={"generation": generation, "run_sinks": False,
                                    "web_port": devkafka.free_port(),
                                    "data_dir": tmp / f"g{generation}-w{i}"}) for i in range(k)]
    gen = runs[0]
    workers = [WorkerProcess(s, tmp / f"replay-g{generation}-w{i}.log") for i, s in enumerate(runs)]
    start = time.perf_counter()
    bulk_rss, bulk_s = 0.0, None
    if mode == "bulk":
        report = await bulk_replay(gen, k)
        bulk_rss, bulk_s = report.max_rss_mb, time.perf_counter() - start
        print(f"bulk job: {report.records} records, {report.entities} entities, "
              f"{bulk_s:.1f} s, peak RSS {bulk_rss:.0f} MB", flush=True)
    for w in workers:
        w.start()
    sampler = RssSampler(workers)
    await asyncio.gather(*(wait_ready(s, w, 300) for s, w in zip(runs, workers)))
    ready = time.perf_counter() - start - (bulk_s or 0.0)  # the workers' own start-up
    seen_entities, stalled, last = 0, None, (None, time.perf_counter())
    try:
        while True:
            dead = [w for w in workers if w.proc.poll() is not None]
            if dead:
                raise SystemExit(f"replay worker exited; log: {dead[0].log_path}")
            lag, behind = await inbox_lag(gen)
            now = time.perf_counter()
            if lag != last[0]:
                last = (lag, now)
            if lag == 0:
                seen_entities = len(await read_table(gen, "entities"))
                if seen_entities >= entities:
                    break
            if now - last[1] > stall_s:
                # Known faust loss after the first rebalance: a consumed record is never
                # processed, so the group's commit on its partition stays behind forever.
                stalled = (f"inbox lag {lag} unchanged for {stall_s:.0f} s ({behind}); "
                           f"{seen_entities}/{entities} entities")
                break
            await asyncio.sleep(0.5)
        seconds = last[1] - start  # the last progress (the table check is not the replay's time)
        rebuilt = await read_table(gen, "entities")
        seen_entities = len(rebuilt)
        differing = sum(1 for key, state in original_entities.items() if rebuilt.get(key) != state)
        api_at_rebuilt = sandbox.counts()
        # Whatever the replay's workers still do (they run no sinks, as `replay` starts them:
        # pipeline_lag then counts no command lag) ends before the API is counted again.
        sink_start, sinks_idle = time.perf_counter(), False
        while time.perf_counter() - sink_start < sink_timeout:
            if await pipeline_lag(gen) == 0:
                sinks_idle = True
                break
            await asyncio.sleep(1.0)
        api_after = sandbox.counts()
    finally:
        rss = sampler.stop() + [bulk_rss]
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
    commands_after = await end_offsets(base, command_topics)
    ids = await command_ids(base)
    re_emitted = ids[len(ids) - (commands_after - commands_before):] if commands_after > commands_before else []
    return {
        "workers": k, "generation": generation, "seconds": seconds, "ready_s": ready, "stalled": stalled,
        "bulk_s": bulk_s,
        "rss_mb": rss, "writes_rebuilt": writes(api_at_rebuilt) - writes(api_before),
        "calls_rebuilt": calls(api_at_rebuilt) - calls(api_before),
        "writes": writes(api_after) - writes(api_before), "calls": calls(api_after) - calls(api_before),
        "methods": {m: api_after["methods"].get(m, 0) - api_before["methods"].get(m, 0)
                    for m in api_after["methods"]},
        "sinks_idle": sinks_idle, "re_emitted": commands_after - commands_before,
        "foreign_ids": len(set(re_emitted) - original_ids), "entities_seen": seen_entities,
        "entities_differing": differing,
        "logs": [str(w.log_path) for w in workers],
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1])
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--mode", choices=("bulk", "streaming"), default="bulk",
                    help="how the replay rebuilds the tables (holded-sync replay --bulk/--streaming)")
    ap.add_argument("--broker", default=None, help="kafka://host:port (default: start one)")
    ap.add_argument("--no-sink", action="store_true",
                    help="no Holded API key: no sink runs in either phase (pure table rebuild)")
    ap.add_argument("--stall-after", type=float, default=60,
                    help="seconds without progress on inbox before a replay counts as stalled")
    ap.add_argument("--original-timeout", type=float, default=7200)
    ap.add_argument("--sink-timeout", type=float, default=600,
                    help="how long to let the replay's sinks drain after the tables are rebuilt")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hs-replay-"))
    info = devkafka.start(tmp / "kafka") if args.broker is None else None
    sandbox = NoSandbox() if args.no_sink else Sandbox()
    try:
        settings = Settings(
            broker=args.broker or info.url, topic_prefix=f"r{uuid.uuid4().hex[:6]}.",
            partitions=args.partitions, store="rocksdb://", data_dir=tmp / "g0",
            web_port=devkafka.free_port(), systems=("holded", "odoo"), session_timeout_s=10,
            poll_interval_s=3600,
            holded=HoldedSettings() if args.no_sink else HoldedSettings(
                api_url=sandbox.url, api_key="sandbox-key", requests_per_second=5000))
        print(f"temp dir {tmp}; topic prefix {settings.topic_prefix}", flush=True)
        await ensure_topics(settings)
        await original(settings, tmp, args.events, args.entities, args.original_timeout,
                       args.no_sink)
        original_ids = set(await command_ids(settings))
        original_entities = await read_table(settings, "entities")
        api0 = sandbox.counts()
        print(f"original: {len(original_ids)} commands, Holded sandbox {calls(api0)} calls "
              f"({api0['methods']}), {api0['contacts']} contacts", flush=True)
        results = []
        for g, k in enumerate(args.workers, start=1):
            r = await replay(settings, tmp, g, k, args.entities, sandbox, original_ids,
                             original_entities, args.sink_timeout, args.stall_after, args.mode)
            results.append(r)
            print(f"replay g{g} with {k} worker(s): {r}", flush=True)
        summary(args, results)
    finally:
        sandbox.stop()
        if info:
            devkafka.stop(tmp / "kafka")


def summary(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    print(f"\n{args.mode} replay of {args.events:,} events over {args.entities:,} entities, "
          f"{args.partitions} partitions")
    print(f"{'workers':>7} {'seconds':>8} {'of which start-up':>17} {'events/s':>9} {'after start-up':>14} {'max RSS MB':>10} {'API writes':>10} "
          f"{'API calls':>9} {'re-emitted':>10}  targets")
    for r in results:
        # The time target is for 1M events: a smaller run is projected linearly (optimistic:
        # the store grows with the entities).
        projected = r["seconds"] * ISSUE_EVENTS / args.events
        ok_time = projected <= TARGET_S and not r["stalled"]
        ok_rss = max(r["rss_mb"]) <= TARGET_RSS_MB
        print(f"{r['workers']:>7} {r['seconds']:>8.1f} {r['ready_s']:>17.1f} {args.events / r['seconds']:>9,.0f} "
              f"{args.events / max(1e-9, r['seconds'] - r['ready_s']):>14,.0f} "
              f"{max(r['rss_mb']):>10.0f} {r['writes']:>10} {r['calls']:>9} {r['re_emitted']:>10}  "
              f"time {'met' if ok_time else 'MISSED'} ({projected:,.0f} s for 1M), RSS {'met' if ok_rss else 'MISSED'}"
              + (f", bulk job {r['bulk_s']:.1f} s" if r["bulk_s"] is not None else "")
              + ("" if args.no_sink else f", zero API writes {'met' if r['writes'] == 0 else 'MISSED'}")
              + ("" if r["sinks_idle"] else " (sinks not idle at the end)")
              + (f" STALLED: {r['stalled']}" if r["stalled"] else ""))
    failed = [r for r in results
              if r["writes"] or r["foreign_ids"] or r["stalled"] or r["entities_differing"]]
    for r in failed:
        print(f"FAILED g{r['generation']} ({r['workers']} workers): API writes={r['writes']}, "
              f"re-emitted ids the original never emitted={r['foreign_ids']}, entities differing "
              f"from the original tables={r['entities_differing']}, stalled={r['stalled']}, "
              f"logs={r['logs']}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
