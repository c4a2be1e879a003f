"""Ceiling of a PACKED live path, next to the live canonical agent, on one broker.

    python bench/packed_inbox.py [--events 100000] [--entities 20000] [--partitions 4]
                                 [--rounds 2] [--pack-records 500] [--pack-kb 512]
                                 [--profile] [--broker kafka://host:port]

Why: issue #2 asks >= 10k events/s and >= 0.5x raw aiokafka; docs/scaling.md says that
would need a batch path (the sequencer packs each inbox partition's records into one record,
the agent decides a whole pack and writes its table values and commands in bulk). That was
only estimated; this measures it, without changing the product.

Each round publishes the synthetic contact changes of bench/_common.py to a fresh
``changes.odoo`` and measures, one after the other on the same broker:
- raw: bench/pipeline.py's raw aiokafka consume+produce of those records;
- (a) the live worker (``python -m app worker``: sequencer + canonical agent, RocksDB tables),
  as bench/pipeline.py measures it: steady decisions/s and per worker CPU second;
- pack: a raw aiokafka step that reads the changes and writes packs to a packed inbox topic
  as a packing sequencer would (records of one inbox partition, in order, each with its key,
  value and ``hs-source`` origin; a MessagePack list, capped by count and bytes); its own
  records/s and per CPU second;
- (b) bench/_packed_app.py, a prototype faust agent over the packs: the worker's
  CanonicalStep per record against DirectTable.get plus a pack-local overlay, the worker's
  publish per record, one DirectTable.set per distinct entity per pack. Decisions/s and per
  CPU second of its process, from its first pack to its producer's flush.
Rounds alternate (a, b, a, b, ...) since the machine is shared. Then it checks that (b)
decided what (a) decided: the last table value of every key in the two table changelogs and
the command ids of all command topics must be equal (also audit/conflict/dlq counts);
a mismatch is printed loudly and fails the run. ``--profile`` runs (b) once more under
py-spy and prints where its time goes.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgpack
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import publish  # noqa: E402
from bench.pipeline import raw_copy, run_workers, summarize  # noqa: E402
from app.avro import codec  # noqa: E402
from app.devkafka import broker as devkafka  # noqa: E402
from app.devrun.process import settings_env  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.topics import CANONICAL_TABLE, TopicNames, ensure_topics, kafka_client_options  # noqa: E402

COMMAND = codec("Command")
PARTITIONER = DefaultPartitioner()


def bench_settings(broker: str, args: argparse.Namespace, data_dir: Path) -> Settings:
    """The settings bench/pipeline.py runs its workers with, under a fresh topic prefix."""
    return Settings(broker=broker, topic_prefix=f"b{uuid.uuid4().hex[:6]}.",
                    partitions=args.partitions, store=args.store, data_dir=data_dir,
                    web_port=devkafka.free_port(), systems=("holded", "odoo"),
                    session_timeout_s=10)


async def create_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def pack(settings: Settings, source: str, target: str, n: int, max_records: int,
               max_bytes: int) -> dict[str, float]:
    """Read ``n`` records of ``source`` and write them to ``target`` as packs, as a packing
    sequencer would: each record goes to the inbox partition its key gives (the sequencer's
    producer partitioner), a pack holds records of one partition in their order and is sent
    when full or at the end of each fetched batch. Returns seconds, CPU seconds, packs."""
    opts = kafka_client_options(settings)
    consumer = AIOKafkaConsumer(source, **opts, group_id=f"pack-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_poll_records=5000)
    producer = AIOKafkaProducer(**opts, acks="all", enable_idempotence=True, linger_ms=5,
                                max_batch_size=1 << 20)
    await consumer.start()
    await producer.start()
    partitions = sorted(await producer.partitions_for(target))
    start, cpu, copied, packs = time.perf_counter(), time.process_time(), 0, 0
    try:
        while copied < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            open_packs: dict[int, list] = {}
            sizes: dict[int, int] = {}
            futures = []
            for messages in batch.values():
                for m in messages:
                    p = PARTITIONER(m.key, partitions, partitions)
                    origin = f"{m.topic}:{m.partition}:{m.offset}".encode()
                    size = len(m.key) + len(m.value) + len(origin) + 16
                    records = open_packs.get(p)
                    if records is None:
                        records = open_packs[p] = []
                        sizes[p] = 0
                    elif len(records) >= max_records or sizes[p] + size > max_bytes:
                        futures.append(await producer.send(target, value=msgpack.packb(records),
                                                           partition=p))
                        records = open_packs[p] = []
                        sizes[p] = 0
                        packs += 1
                    records.append((m.key, m.value, origin))
                    sizes[p] += size
                    copied += 1
            for p, records in open_packs.items():
                if records:
                    futures.append(await producer.send(target, value=msgpack.packb(records),
                                                       partition=p))
                    packs += 1
            await asyncio.gather(*futures)
            await consumer.commit()
        return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                "packs": packs}
    finally:
        await consumer.stop()
        await producer.stop()


def run_packed(settings: Settings, topic: str, n: int, folder: Path,
               profile: Path | None = None) -> dict[str, float]:
    """bench/_packed_app.py over ``topic`` until it has decided ``n`` records; its result."""
    folder.mkdir(parents=True, exist_ok=True)
    result = folder / "packed.json"
    env = dict(settings_env(settings), HS_PACKED_TOPIC=topic, HS_PACKED_RECORDS=str(n),
               HS_PACKED_RESULT=str(result))
    cmd = [sys.executable, str(ROOT / "bench" / "_packed_app.py")]
    if profile is not None:
        env["HS_PACKED_PROFILE"] = str(profile)
    with (folder / "packed.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log,
                                start_new_session=True)
        try:
            proc.wait(900)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            raise SystemExit(f"(b): no result after 900 s; see {folder / 'packed.log'}")
    if not result.exists():
        raise SystemExit(f"(b): exited without a result; see {folder / 'packed.log'}")
    return json.loads(result.read_text())


async def read_topics(settings: Settings, topics: list[str]) -> dict[str, list[tuple[bytes, bytes]]]:
    """Every record of ``topics`` (those that exist), from the beginning to the current end."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[str, list[tuple[bytes, bytes]]] = {t: [] for t in topics}
        left = {tp for tp in tps if ends[tp] > 0}
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000, max_records=20000)
            for tp, messages in batch.items():
                out[tp.topic].extend((m.key, m.value) for m in messages if m.offset < ends[tp])
            left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
        return out
    finally:
        await consumer.stop()


async def outcome(settings: Settings) -> dict:
    """What an agent left: its table's last value per key, its command ids, and how many
    audit, conflict and dead-letter records it wrote."""
    names = TopicNames(settings)
    command_topics = [names.commands(s, lane) for s in settings.systems for lane in ("realtime", "bulk")]
    changelog = names.changelog(CANONICAL_TABLE)
    records = await read_topics(settings, [changelog, names.audit, names.conflicts, names.dlq,
                                           *command_topics])
    ids = [COMMAND.loads(v)["command_id"] for t in command_topics for _, v in records[t]]
    return {"table": dict(records[changelog]), "changelog records": len(records[changelog]),
            "command ids": set(ids), "commands": len(ids), "audit": len(records[names.audit]),
            "conflicts": len(records[names.conflicts]), "dlq": len(records[names.dlq])}


def compare(a: dict, b: dict) -> bool:
    """Print whether (b) left what (a) left; True if it did."""
    same = True
    if a["table"] != b["table"]:
        same = False
        keys = set(a["table"]) | set(b["table"])
        differ = [k for k in keys if a["table"].get(k) != b["table"].get(k)]
        print(f"!!! MISMATCH: table values differ for {len(differ)} of {len(keys)} keys "
              f"(e.g. {sorted(differ)[:3]})", flush=True)
    if a["command ids"] != b["command ids"]:
        same = False
        print(f"!!! MISMATCH: command ids: {len(a['command ids'] - b['command ids'])} only in (a), "
              f"{len(b['command ids'] - a['command ids'])} only in (b)", flush=True)
    for count in ("commands", "audit", "conflicts", "dlq"):
        if a[count] != b[count]:
            same = False
            print(f"!!! MISMATCH: {count}: (a) {a[count]}, (b) {b[count]}", flush=True)
    print(f"check: {'SAME' if same else 'DIFFERENT'} — {len(a['table'])} table keys "
          f"(changelog records: (a) {a['changelog records']}, (b) {b['changelog records']}), "
          f"{len(a['command ids'])} command ids ({a['commands']} commands), "
          f"{a['audit']} audit, {a['conflicts']} conflicts, {a['dlq']} dead letters", flush=True)
    return same


async def one_round(args: argparse.Namespace, broker: str, tmp: Path) -> tuple[dict, bool, tuple]:
    n = args.events
    sa = bench_settings(broker, args, tmp / "data-a")
    names = TopicNames(sa)
    await ensure_topics(sa)
    secs = await publish(sa, names.changes("odoo"), n, args.entities)
    print(f"published {n} events in {secs:.1f} s", flush=True)
    raw_target = f"{sa.topic_prefix}raw-copy"
    await create_topic(sa, raw_target, args.partitions)
    raw, raw_cpu = await raw_copy(sa, names.changes("odoo"), raw_target, n)
    print(f"raw aiokafka consume+produce: {n / raw:,.0f} events/s ({n / raw_cpu:,.0f} per CPU second)",
          flush=True)

    total, steady, per_cpu = await run_workers(sa, tmp, n, 1)
    print(f"(a) live worker: {steady:,.0f} decisions/s ({per_cpu:,.0f} per worker CPU second); "
          f"start to idle {total:.1f} s", flush=True)

    sb = bench_settings(broker, args, tmp / "data-b")
    await ensure_topics(sb)
    packed_topic = f"{sb.topic_prefix}inbox-packed"
    await create_topic(sb, packed_topic, args.partitions)
    packing = await pack(sa, names.changes("odoo"), packed_topic, n, args.pack_records,
                         args.pack_kb << 10)
    print(f"pack step: {n / packing['seconds']:,.0f} records/s ({n / packing['cpu']:,.0f} per CPU "
          f"second), {packing['packs']} packs, {n / packing['packs']:.0f} records per pack",
          flush=True)
    b = await asyncio.to_thread(run_packed, sb, packed_topic, n, tmp / "packed")
    b_rate, b_cpu = b["records"] / b["seconds"], b["records"] / b["cpu"]
    with_pack = n / (b["cpu"] + packing["cpu"])
    print(f"(b) packed agent: {b_rate:,.0f} decisions/s ({b_cpu:,.0f} per CPU second; "
          f"{with_pack:,.0f} per CPU second with the pack step's CPU added)", flush=True)

    same = compare(await outcome(sa), await outcome(sb))
    numbers = {"raw events/s": n / raw, "raw per CPU second": n / raw_cpu,
               "(a) decisions/s": steady, "(a) per CPU second": per_cpu,
               "pack records/s": n / packing["seconds"], "pack per CPU second": n / packing["cpu"],
               "(b) decisions/s": b_rate, "(b) per CPU second": b_cpu,
               "(b)+pack per CPU second": with_pack,
               "ratio (b)/(a) per CPU second": b_cpu / per_cpu,
               "ratio (b)+pack/(a) per CPU second": with_pack / per_cpu,
               "ratio (b)/raw decisions/s": b_rate / (n / raw)}
    print("  ".join(f"{k} {v:,.2f}" if k.startswith("ratio") else f"{k} {v:,.0f}"
                    for k, v in numbers.items()), flush=True)
    return numbers, same, (sb, packed_topic)


# Where (b)'s time goes: frames (function and file, as py-spy names them) whose samples count
# inclusively, in this order; a sample is attributed to the first that is on its stack.
PARTS = [
    ("decide: change decode (read)", "read (app/canonical_step.py)"),
    ("decide: entry encode (encoded_parts)", "encoded_parts (app/canonical_step.py)"),
    ("decide: entry compose (Entry.updated)", "updated (app/canonical_entry.py)"),
    ("decide: cache get/put", "app/entry_cache.py"),
    ("decide: decision (decide)", "decide (app/canonical_step.py)"),
    ("decide: rest of CanonicalStep", "__call__ (app/canonical_step.py)"),
    ("publish: Avro encode", "dumps (app/avro.py)"),
    ("publish: producer send", "emit (_packed_app.py)"),
    ("publish: rest (metrics)", "publish (_packed_app.py)"),
    ("table get (RocksDB read)", "get (app/direct_table.py)"),
    ("table set (store + changelog send)", "set (app/direct_table.py)"),
    ("agent body rest (msgpack unpack, overlay, loop)", "canonical (_packed_app.py)"),
    ("aiokafka (fetch, send, sender)", "aiokafka/"),
    ("faust/mode (stream, consumer, commits)", "faust/"),
    ("faust/mode (stream, consumer, commits)", "mode/"),
    ("event loop and other", ""),
]


def breakdown(profile: Path) -> None:
    samples: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    for line in profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        frames = [f.replace(str(ROOT) + "/", "") for f in frames]
        for label, marker in PARTS:
            if any(marker in f for f in frames):
                samples[label] += int(count)
                break
        leaves[frames[-1]] += int(count)
    total = sum(samples.values())
    print(f"\nwhere (b)'s time goes (py-spy, {total} samples of the agent's process, active threads):")
    for label, _ in PARTS:
        if samples[label] and label in samples:
            print(f"  {label:48s} {100 * samples.pop(label) / total:5.1f} %")
    print("top functions by own time:")
    for frame, count in leaves.most_common(15):
        print(f"  {100 * count / total:5.1f} %  {frame[:110]}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--entities", type=int, default=20_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of raw, (a), pack, (b)")
    ap.add_argument("--pack-records", type=int, default=500, help="most records per pack")
    ap.add_argument("--pack-kb", type=int, default=512, help="most KB per pack")
    ap.add_argument("--store", default="rocksdb://")
    ap.add_argument("--profile", action="store_true", help="then run (b) once under py-spy")
    ap.add_argument("--broker", default=None, help="kafka://host:port (default: start one)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hs-packed-"))
    print(f"work files in {tmp}", flush=True)
    info = None if args.broker else devkafka.start(tmp / "kafka")
    broker = args.broker or info.url
    ok = True
    try:
        rounds = []
        for r in range(args.rounds):
            print(f"\nround {r + 1} of {args.rounds}", flush=True)
            numbers, same, last = await one_round(args, broker, tmp / f"round-{r}")
            rounds.append(numbers)
            ok = ok and same
        if args.rounds > 1:
            summarize(rounds, width=36)
        if args.profile:
            sb, packed_topic = last
            again = sb.model_copy(update={"topic_prefix": f"b{uuid.uuid4().hex[:6]}.",
                                          "data_dir": tmp / "profile" / "data"})
            await ensure_topics(again)
            profile = tmp / "profile" / "packed.pyspy"
            b = await asyncio.to_thread(run_packed, again, packed_topic, args.events,
                                        tmp / "profile", profile)
            print(f"\n(b) under py-spy: {b['records'] / b['seconds']:,.0f} decisions/s "
                  f"({b['records'] / b['cpu']:,.0f} per CPU second)")
            breakdown(profile)
    finally:
        if info:
            devkafka.stop(tmp / "kafka")
    if not ok:
        print("\n!!! (b) did NOT decide what (a) decided: its numbers are not comparable")
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
