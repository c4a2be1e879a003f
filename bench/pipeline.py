"""Throughput of the canonical agent next to raw aiokafka on the same broker.

    python bench/pipeline.py [--events 100000] [--entities 20000] [--partitions 4] [--workers 1]
                             [--rounds 1]

Publishes N synthetic contact change events to ``changes.odoo``, then measures:
- raw: one aiokafka consumer reading them and producing each to another topic (the floor
  cost of any consume+produce pipeline on this broker);
- holded-sync: ``--workers`` worker processes (sequencer + canonical agent + tables, sharing
  the partitions) from start until every event is decided and its commands are out, and their
  steady-state decision rate read from /metrics (summed over the workers);
- both per CPU second (the raw client's process time, the workers' process_cpu_seconds_total),
  a comparison the broker's share of the cores does not skew.
Targets (issue #2): >= 10k events/s and >= 0.5x the raw client. Starts its own local Kafka
unless --broker is given. On a shared machine one run's numbers spread by about ±10 %;
``--rounds N`` repeats the whole measurement on fresh topics and prints the median and range
of each number, so that two versions of the code can be compared.
"""
from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import publish  # noqa: E402
from app.devkafka import broker as devkafka  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.topics import TopicNames, ensure_topics, kafka_client_options  # noqa: E402
from app.devrun.process import WorkerProcess, wait_idle, wait_ready  # noqa: E402

async def raw_copy(settings: Settings, source: str, target: str, n: int) -> tuple[float, float]:
    """Consume every record of ``source`` and produce it to ``target``: the baseline. Returns
    (seconds, this process's CPU seconds)."""
    opts = kafka_client_options(settings)
    consumer = AIOKafkaConsumer(source, **opts, group_id=f"raw-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_poll_records=5000)
    producer = AIOKafkaProducer(**opts, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await consumer.start()
    await producer.start()
    start, cpu, copied = time.perf_counter(), time.process_time(), 0
    try:
        while copied < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            futures = [await producer.send(target, key=m.key, value=m.value)
                       for msgs in batch.values() for m in msgs]
            await asyncio.gather(*futures)
            await consumer.commit()
            copied += len(futures)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        await consumer.stop()
        await producer.stop()


async def decisions(port: int) -> tuple[float, float]:
    """(decisions so far, CPU seconds so far) of one worker, from its /metrics."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    done = sum(float(v) for v in re.findall(r"^holded_sync_decisions_total\{[^}]*\} (\S+)", text, re.M))
    cpu = re.search(r"^process_cpu_seconds_total (\S+)", text, re.M)
    return done, float(cpu.group(1)) if cpu else float("nan")


async def run_workers(settings: Settings, tmp: Path, n: int, k: int) -> tuple[float, float, float]:
    """(seconds from start to idle, steady decisions/s, steady decisions per worker CPU second)."""
    runs = [settings if i == 0 else settings.model_copy(update={
        "web_port": devkafka.free_port(), "data_dir": tmp / f"data-w{i}"}) for i in range(k)]
    workers = [WorkerProcess(s, tmp / f"worker-{i}.log") for i, s in enumerate(runs)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    try:
        await asyncio.gather(*(wait_ready(s, w, 120) for s, w in zip(runs, workers)))
        samples: list[tuple[float, float, float]] = []
        while True:
            counts = await asyncio.gather(*(decisions(s.web_port) for s in runs))
            done, cpu = sum(c[0] for c in counts), sum(c[1] for c in counts)
            samples.append((time.perf_counter(), done, cpu))
            if done >= n:
                break
            if time.perf_counter() - start > 900:
                raise SystemExit(f"workers too slow: {done:.0f}/{n} after 900 s\n"
                                 f"{workers[0].log()[-2000:]}")
            await asyncio.sleep(0.5)
        await wait_idle(settings, workers[0], 300)
        total = time.perf_counter() - start
        busy = [s for s in samples if 0 < s[1] < n] or samples[-2:]
        (t1, d1, c1), (t2, d2, c2) = busy[0], samples[-1]
        steady = (d2 - d1) / (t2 - t1) if t2 > t1 else float("nan")
        per_cpu = (d2 - d1) / (c2 - c1) if c2 > c1 else float("nan")
        return total, steady, per_cpu
    finally:
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))


async def one_round(args: argparse.Namespace, broker: str, tmp: Path) -> dict[str, float]:
    """Publish the events under a fresh topic prefix, then time the raw client and the workers
    on them; prints the round's numbers and returns them."""
    settings = Settings(broker=broker, topic_prefix=f"b{uuid.uuid4().hex[:6]}.",
                        partitions=args.partitions, store=args.store, data_dir=tmp / "data",
                        web_port=devkafka.free_port(), systems=("holded", "odoo"),
                        session_timeout_s=10)
    names = TopicNames(settings)
    await ensure_topics(settings)
    secs = await publish(settings, names.changes("odoo"), args.events, args.entities)
    print(f"published {args.events} events in {secs:.1f} s ({args.events / secs:,.0f}/s)", flush=True)
    raw_target = f"{settings.topic_prefix}raw-copy"
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    await admin.create_topics([NewTopic(raw_target, args.partitions, 1)])
    await admin.close()
    raw, raw_cpu = await raw_copy(settings, names.changes("odoo"), raw_target, args.events)
    raw_rate = args.events / raw
    print(f"raw aiokafka consume+produce: {raw:.1f} s = {raw_rate:,.0f} events/s "
          f"({args.events / raw_cpu:,.0f} per CPU second)", flush=True)
    total, steady, per_cpu = await run_workers(settings, tmp, args.events, args.workers)
    e2e = args.events / total
    print(f"holded-sync, {args.workers} worker(s), tables in {args.store}, start to last "
          f"command: {total:.1f} s = {e2e:,.0f} events/s (includes start-up and the "
          "sequencer hop)")
    print(f"canonical agent steady state: {steady:,.0f} decisions/s "
          f"({per_cpu:,.0f} per worker CPU second)", flush=True)
    per_cpu_ratio = per_cpu * raw_cpu / args.events
    print(f"ratio steady/raw = {steady / raw_rate:.2f}x; end-to-end/raw = {e2e / raw_rate:.2f}x; "
          f"per CPU second = {per_cpu_ratio:.2f}x", flush=True)
    return {"raw events/s": raw_rate, "decisions/s": steady, "decisions per CPU second": per_cpu,
            "ratio": steady / raw_rate, "ratio per CPU second": per_cpu_ratio}


def summarize(rounds: list[dict[str, float]], width: int = 26) -> None:
    """Median and range of each number over the rounds: one run's spread on a shared machine
    (about ±10 %) hides smaller changes."""
    print(f"\n{len(rounds)} rounds: median (min-max)")
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        fmt = "{:.2f}x" if name.startswith("ratio") else "{:,.0f}"
        print(f"  {name:{width}s} {fmt.format(statistics.median(values))} "
              f"({fmt.format(min(values))}-{fmt.format(max(values))})")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--entities", type=int, default=20_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1, help="worker processes sharing the partitions")
    ap.add_argument("--broker", default=None, help="kafka://host:port (default: start one)")
    ap.add_argument("--store", default="rocksdb://",
                    help="the workers' table store (default: production's RocksDB)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the whole measurement on fresh topics and report the median")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hs-bench-"))
    info = None
    if args.broker is None:
        info = devkafka.start(tmp / "kafka")
    try:
        rounds = []
        for n in range(args.rounds):
            if args.rounds > 1:
                print(f"\nround {n + 1} of {args.rounds}", flush=True)
            rounds.append(await one_round(args, args.broker or info.url, tmp / f"round-{n}"))
        if args.rounds > 1:
            summarize(rounds)
    finally:
        if info:
            devkafka.stop(tmp / "kafka")


if __name__ == "__main__":
    asyncio.run(main())
