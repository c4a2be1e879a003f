"""What faust alone costs per event: the ceiling of any agent built on its per-event stream.

    .venv/bin/python bench/faust_floor.py [--records 100000] [--broker kafka://host:port]

Runs bench/_floor_app.py (faust configured like the worker, no decoding and no decision) over
the synthetic events of bench/_common.py, in three modes: ``read`` (records from the stream,
nothing else), ``table`` (plus one table write each) and ``send`` (plus one record sent, the
canonical agent's shape: one table value and one command per event). Each mode runs with
faust's fetch loop as released and with app/faust_handoff.py plus the direct sends and table
writes (app/direct_table.py) the worker uses. Prints records/s per mode. The canonical agent
cannot be faster than the ``send`` row: the rest of its time per event is decoding, deciding
and encoding (bench/canonical_cpu.py).
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
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import publish  # noqa: E402
from app.devkafka import broker as devkafka  # noqa: E402
from app.settings import Settings  # noqa: E402

PARTITIONS = 4
RUNS = [("read", "1"), ("read", "0"), ("table", "1"), ("table", "0"), ("send", "1"), ("send", "0")]


def run(broker: str, topic: str, records: int, mode: str, patched: str, folder: Path) -> float:
    name = f"{mode}-{'patched' if patched == '1' else 'released'}"
    result = folder / f"{name}.rate"
    env = dict(os.environ, HS_BROKER=broker, HS_TOPIC=topic, HS_APP_ID=f"floor{uuid.uuid4().hex[:8]}",
               HS_PARTITIONS=str(PARTITIONS), HS_FLOOR_MODE=mode, HS_FLOOR_RECORDS=str(records),
               HS_FLOOR_RESULT=str(result), HS_HANDOFF=patched, HS_DIRECT_SEND=patched)
    with (folder / f"{name}.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_floor_app.py"), "--datadir",
                                 str(folder / name), "worker", "-l", "info", "--without-web"],
                                env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            proc.wait(600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise SystemExit(f"{name}: no result after 600 s; see {folder / (name + '.log')}")
    if not result.exists():
        raise SystemExit(f"{name}: exited without a result; see {folder / (name + '.log')}")
    return float(result.read_text())


async def prepare(broker: str, topic: str, records: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.removeprefix("kafka://"))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (topic, topic + ".out")])
    finally:
        await admin.close()
    await publish(Settings(broker=broker), topic, records, 20_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--broker", default=None, help="kafka://host:port (default: start one)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hs-floor-"))
    info = None if args.broker else devkafka.start(folder / "kafka")
    broker = args.broker or info.url
    try:
        topic = f"floor{uuid.uuid4().hex[:8]}"
        asyncio.run(prepare(broker, topic, args.records))
        print(f"{'mode':8s} {'faust as released':>20s} {'as the worker runs':>20s}")
        rates: dict[tuple[str, str], float] = {}
        for mode, patched in RUNS:
            rates[mode, patched] = run(broker, topic, args.records, mode, patched, folder)
            if patched == "0":
                print(f"{mode:8s} {rates[mode, '0']:>18,.0f}/s {rates[mode, '1']:>18,.0f}/s",
                      flush=True)
        print(f"logs in {folder}")
    finally:
        if info:
            devkafka.stop(folder / "kafka")


if __name__ == "__main__":
    main()
