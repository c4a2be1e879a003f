"""Does faust lose records when workers join? Rounds of one worker, then a second, then a third.

    .venv/bin/python bench/rebalance_loss.py [--rounds 10] [--records 120000] [--without-fix]

Each round: a fresh topic of 8 partitions holds --records records; worker A (a bare faust app
configured like the holded-sync worker, bench/_rebalance_app.py) starts reading it, B joins
at 15 % and C at 50 %. Every record an agent sees is written down. The round ends when every
offset has been seen (or 120 s pass) and the group's commits reach the end (or 60 s pass).
Reported per round: offsets never seen ("lost") and partitions whose commit stayed behind.
With --without-fix faust runs as released: about one round in three loses a run of records
whose offsets are committed (issue #9). With app/faust_fixes.py: none.
Starts its own local Kafka unless --broker is given.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.devkafka import broker as devkafka  # noqa: E402

PARTITIONS = 8


async def fill(host: str, topic: str, n: int) -> dict[int, int]:
    """Create and fill the topic; the last offset of each partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=host)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=host, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=f"k{i % 5000}".encode(), value=b"x" * 100)
                   for i in range(n)]
        last: dict[int, int] = {}
        for f in await asyncio.gather(*futures):
            last[f.partition] = max(last.get(f.partition, -1), f.offset)
        return last
    finally:
        await producer.stop()


def seen_offsets(folder: Path) -> set[tuple[int, int]]:
    seen = set()
    for f in folder.glob("*.seen"):
        for line in f.read_text().splitlines():
            if line.strip():
                partition, offset = line.split()
                seen.add((int(partition), int(offset)))
    return seen


async def committed(host: str, group: str, topic: str, last: dict[int, int]) -> dict[int, int]:
    """Wait (60 s at most) for the group's commits to reach the end; the partitions behind."""
    consumer = AIOKafkaConsumer(bootstrap_servers=host, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            done = {p: await consumer.committed(TopicPartition(topic, p)) or 0 for p in last}
            behind = {p: last[p] + 1 - done[p] for p in last if done[p] != last[p] + 1}
            if not behind or time.monotonic() > deadline:
                return behind
            await asyncio.sleep(1)
    finally:
        await consumer.stop()


async def one_round(broker: str, folder: Path, records: int, with_fix: bool) -> tuple[dict, dict]:
    host = broker.removeprefix("kafka://")
    topic, group = f"t{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    last = await fill(host, topic, records)
    folder.mkdir(parents=True)
    workers: list[subprocess.Popen] = []

    def start(name: str) -> None:
        env = dict(os.environ, HS_BROKER=broker, HS_TOPIC=topic, HS_APP_ID=group,
                   HS_PARTITIONS=str(PARTITIONS), HS_SEEN_FILE=str(folder / f"{name}.seen"),
                   HS_FAUST_FIXES="1" if with_fix else "0")
        log = (folder / f"{name}.log").open("w")
        workers.append(subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_rebalance_app.py"), "--datadir",
             str(folder / name), "worker", "-l", "info", "--without-web"],
            env=env, stdout=log, stderr=log, start_new_session=True))

    async def until_seen(fraction: float, limit_s: float) -> set:
        deadline = time.monotonic() + limit_s
        while True:
            seen = seen_offsets(folder)
            if len(seen) >= records * fraction or time.monotonic() > deadline:
                return seen
            if any(w.poll() is not None for w in workers):
                raise SystemExit(f"a worker died; see {folder}")
            await asyncio.sleep(0.5)
    try:
        start("A")
        await until_seen(0.15, 120)
        start("B")
        await until_seen(0.5, 120)
        start("C")
        deadline = time.monotonic() + 120
        while True:
            seen = seen_offsets(folder)
            lost = {p: [o for o in range(end + 1) if (p, o) not in seen] for p, end in last.items()}
            lost = {p: offsets for p, offsets in lost.items() if offsets}
            if not lost or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        behind = await committed(host, group, topic, last)
        return lost, behind
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--records", type=int, default=120_000)
    ap.add_argument("--without-fix", action="store_true", help="faust as released")
    ap.add_argument("--broker", default=None, help="kafka://host:port (default: start one)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hs-rebalance-"))
    info = None if args.broker else devkafka.start(tmp / "kafka")
    broker = args.broker or info.url
    losing = 0
    try:
        for n in range(1, args.rounds + 1):
            lost, behind = await one_round(broker, tmp / f"round-{n}", args.records,
                                           not args.without_fix)
            losing += bool(lost)
            summary = {p: f"{len(o)} from offset {o[0]}" for p, o in lost.items()}
            print(f"round {n}: lost {sum(map(len, lost.values()))} records {summary or ''}; "
                  f"commits behind the end: {behind or 'none'}", flush=True)
        print(f"{losing} of {args.rounds} rounds lost records "
              f"({'faust as released' if args.without_fix else 'with app/faust_fixes.py'}); "
              f"logs in {tmp}")
    finally:
        if info:
            devkafka.stop(tmp / "kafka")


if __name__ == "__main__":
    asyncio.run(main())
