"""A prototype canonical agent over PACKED inbox records, for bench/packed_inbox.py.

Not the product: a measurement of what a batch path could reach. Configured like the worker
(its faust fixes and hand-off, FLOW_OPTIONS, the table store and its options, the table
manager), with one agent and nothing else (no sequencer, sinks, pollers or web views).

A pack is one Kafka record of the packed topic holding the inbox records of one inbox
partition, in order: a MessagePack list of ``[key, value, origin]`` (origin is the
``hs-source`` header the sequencer writes, "<topic>:<partition>:<offset>"). Per pack the agent:
- decides every record with the worker's ``CanonicalStep`` (app/canonical_step.py) against
  the table (``DirectTable.get``), or, for an entity seen earlier in the pack, against the
  value the pack has for it so far (a pack-local overlay);
- sends its commands, conflicts and audit records as the worker's ``publish`` does, and
  dead-letters what the worker would dead-letter;
- at the end of the pack, writes one table value per distinct entity (``DirectTable.set``),
  once the pack's records are in Kafka, as the worker does.

Settings come from the environment (HOLDED_SYNC_*, as app/devrun/process.py passes them);
``HS_PACKED_TOPIC`` names the packed topic, ``HS_PACKED_RECORDS`` the inbox records to expect.
When it has decided them and flushed its producer it writes JSON to ``HS_PACKED_RESULT``:
records, packs, wall and process CPU seconds from the first pack to the flush, and exits.
``HS_PACKED_PROFILE=<file>``: py-spy samples the same span into that file (raw stacks).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import faust
import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.canonical_step import CanonicalStep  # noqa: E402
from app.connections import engine_policy  # noqa: E402
from app.decision_publisher import DecisionPublisher  # noqa: E402
from app.direct_table import DirectTable  # noqa: E402
from app.live_mapping import LiveMapping  # noqa: E402
from app.metrics import METRICS  # noqa: E402
from app.sequencer import SOURCE_HEADER  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.table_manager import TablesDeclaredUpFront  # noqa: E402
from app.topics import CANONICAL_TABLE, TopicNames  # noqa: E402
from app.worker import (  # noqa: E402
    FLOW_OPTIONS, REJECTED, dead_letter_value, install_faust_patches, tune_gc,
)

install_faust_patches()

settings = Settings()
names = TopicNames(settings)
RECORDS = int(os.environ["HS_PACKED_RECORDS"])
app = faust.App(
    names.app_id, broker=settings.broker, store=settings.store, datadir=str(settings.data_dir),
    tabledir=names.app_id, topic_partitions=settings.partitions, topic_allow_declare=True,
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
    **FLOW_OPTIONS, web_enabled=False, TableManager=TablesDeclaredUpFront, logging_config=None)


def topic(name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=settings.partitions)


packed = topic(os.environ["HS_PACKED_TOPIC"])
canonical_table = app.Table(CANONICAL_TABLE, default=None, key_type=bytes, value_type=bytes,
                            partitions=settings.partitions, options=settings.table_options)
entries = DirectTable(app, canonical_table)
live = LiveMapping()  # nothing is published to `mappings` in the bench: version None, as the worker's
policy = engine_policy(settings, live)
step = CanonicalStep(policy, settings.decoded_cache)
publisher = DecisionPublisher(app, names, [(s, lane) for s in settings.systems
                                           for lane in ("realtime", "bulk")], live)
publish, emit = publisher.publish, publisher.emit  # the worker's, record for record
inbox_in = METRICS.events.labels(topic="inbox", direction="in")
decided_counters: dict[str, Any] = {}


async def dead_letter(event: faust.EventT, key: bytes | None, value: bytes, origin: bytes,
                      reason: str, error: str) -> None:
    msg = event.message
    METRICS.dead_letters.inc()
    await emit(names.dlq, key, dead_letter_value(msg.topic, msg.partition, msg.offset,
                                                 [(SOURCE_HEADER, origin)], key, value, reason, error))


def start_py_spy() -> subprocess.Popen | None:
    """With HS_PACKED_PROFILE set, py-spy samples this process from the first pack on, so
    that the profile leaves the start-up out; it writes raw (collapsed) stacks there."""
    out = os.environ.get("HS_PACKED_PROFILE")
    if not out:
        return None
    spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                            str(os.getpid()), "-r", "100", "--nolineno",
                            "-f", "raw", "-o", out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the first pack is decided
    return spy


@app.agent(packed, name="canonical")
async def canonical(stream: faust.StreamT) -> None:
    done_records = packs = 0
    start = cpu = spy = None
    for_outcome: dict[str, int] = {}
    async for event in stream.events():
        if start is None:
            spy = start_py_spy()
            start, cpu = time.perf_counter(), time.process_time()
        records = msgpack.unpackb(event.value, use_list=False)
        overlay: dict[bytes, bytes] = {}  # entity key -> its value after this pack's records so far
        sent: list = []  # the pack's records in flight, which its table values wait for
        for key, value, origin in records:
            stored = overlay.get(key)
            if stored is None and key is not None:
                stored = entries.get(key)
            try:
                done = step(key, value, stored)
            except REJECTED as exc:
                await dead_letter(event, key, value, origin, str(exc), exc.__class__.__name__)
                continue
            decision = done.decision
            for_outcome[decision.outcome] = for_outcome.get(decision.outcome, 0) + 1
            if done.entry is not None:
                overlay[key] = done.entry.raw
            sent += await publish(key, decision)
        for key, raw in overlay.items():
            await entries.set(key, raw, event, after=sent)
        # Metrics per pack rather than per record: what a product would do.
        inbox_in.inc(len(records))
        for outcome, count in for_outcome.items():
            counter = decided_counters.get(outcome)
            if counter is None:
                counter = decided_counters[outcome] = METRICS.decisions.labels(outcome=outcome)
            counter.inc(count)
        for_outcome.clear()
        done_records += len(records)
        packs += 1
        if done_records >= RECORDS:
            await app.producer.flush()
            result = {"records": done_records, "packs": packs,
                      "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}
            if spy is not None:  # it writes its profile on SIGINT
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            Path(os.environ["HS_PACKED_RESULT"]).write_text(json.dumps(result))
            os._exit(0)


if __name__ == "__main__":
    from app.cli import quiet_worker  # the worker's way: faust's spinner put the root logger at DEBUG

    tune_gc()
    quiet_worker(app, "warning").execute_from_commandline()
