"""`holded-sync replay --from-beginning`: a new generation's table built by a batch job.

Why not the workers: a streaming replay is the canonical agent reading ``inbox`` again, and
faust's per-record work plus an Avro encode of the entity's entry after every record cost more
than the decision itself (docs/scaling.md, "Throughput"). A replay is a batch problem:
everything it reads is known when it starts, and nothing else writes the new generation's
table. So each ``inbox`` partition, up to its end when the job starts, is read here by a plain
consumer and decided in order by the agent's own code (``app.canonical_step.read``/``decide``),
with each entity's records kept decoded; its table value is encoded once, at the end of the
partition, not after each of its changes.

What the agent emits is emitted the same way and in the same order per entity: commands (their
original ids, with the mapping version in force), conflicts, audit lines and dead letters.
Then the entries go to the new generation's table changelog. Once every partition is done, the
generation's consumer group is committed at the ends that were read. Its workers then start
with the table restored from the changelog and with nothing of ``inbox`` to read again.
tests/test_bulk_replay.py checks that the table bytes and emitted records equal the agent's;
tests/integration/test_restart_and_replay.py checks it through Kafka and the CLI.

Partitions are spread over ``jobs`` processes, each holding one partition in memory at a time
(at most ``replay_decoded_entries`` entities decoded, the rest encoded).
An interrupted job commits nothing: run it again. The sinks find the re-emitted commands done,
and a changelog written twice holds the same values.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import resource
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from app.avro import codec
from app.canonical_entry import FIELDS, Entry, encode
from app.canonical_step import changed_parts, decide, encode_parts, read
from app.connections import engine_policy
from app.core.decide import Decision
from app.core.policy import Policy
from app.lag import GroupReader
from app.live_mapping import LiveMapping
from app.replay import commit_outside_group, require_no_members
from app.schema_registry import connect as connect_registry
from app.settings import Settings
from app.topics import CANONICAL_TABLE, TopicNames, ensure_topics, kafka_client_options
from app.worker import REJECTED, dead_letter_value, tune_gc

__all__ = ["BulkReport", "GenerationInUse", "PartitionReport", "bulk_replay"]

COMMAND, CONFLICT, AUDIT = codec("Command"), codec("Conflict"), codec("AuditRecord")
FETCH_RECORDS = 5000
_PARTITIONER = DefaultPartitioner()
MAPPING_WAIT_S = 30.0


class GenerationInUse(RuntimeError):
    """The generation's group has already read ``inbox``: a bulk job would write over it."""


class BulkFailed(RuntimeError):
    """A job process failed; nothing was committed."""


@dataclass(frozen=True, slots=True)
class PartitionReport:
    partition: int
    records: int
    entities: int
    dead_letters: int
    emitted: int  # commands, conflicts and audit lines
    seconds: float


@dataclass(frozen=True, slots=True)
class BulkReport:
    group: str
    partitions: list[PartitionReport]
    seconds: float
    max_rss_mb: float  # the largest job process

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)

    @property
    def entities(self) -> int:
        return sum(p.entities for p in self.partitions)

    @property
    def dead_letters(self) -> int:
        return sum(p.dead_letters for p in self.partitions)


async def bulk_replay(settings: Settings, jobs: int,
                      on_progress: Callable[[int, int], None] = lambda done, total: None,
                      poll_s: float = 0.5) -> BulkReport:
    """Build ``settings.generation``'s table from ``inbox`` and commit its group at the ends.

    Raises GroupActive if a worker of the generation runs, GenerationInUse if its group has
    read ``inbox`` before, BulkFailed if a job process fails."""
    names = TopicNames(settings)
    await ensure_topics(settings)
    await require_no_members(settings, names.app_id,
                             f"stop the workers of generation {settings.generation} first")
    async with GroupReader(settings) as reader:
        positions = await reader.read(names.app_id, [names.inbox])
    if any(p.committed for p in positions.values()):
        raise GenerationInUse(f"generation {settings.generation} has already read {names.inbox} "
                              f"(group {names.app_id})")
    ends = {tp.partition: p.end for tp, p in positions.items()}
    started = time.monotonic()
    reports, rss = await asyncio.to_thread(_run_jobs, settings, ends, jobs, on_progress, poll_s)
    await commit_outside_group(settings, names.app_id, {TopicPartition(names.inbox, p): end
                                                        for p, end in ends.items()})
    return BulkReport(names.app_id, sorted(reports, key=lambda r: r.partition),
                      time.monotonic() - started, rss)


def _spread(ends: dict[int, int], jobs: int) -> list[list[int]]:
    """Partitions over ``jobs`` lists of about equal record counts, largest first."""
    lists: list[list[int]] = [[] for _ in range(max(1, min(jobs, len(ends))))]
    loads = [0] * len(lists)
    for partition in sorted(ends, key=lambda p: -ends[p]):
        i = loads.index(min(loads))
        lists[i].append(partition)
        loads[i] += ends[partition]
    return [p for p in lists if p]


def _run_jobs(settings: Settings, ends: dict[int, int], jobs: int,
              on_progress: Callable[[int, int], None], poll_s: float
              ) -> tuple[list[PartitionReport], float]:
    ctx = mp.get_context("spawn")  # no event loop or broker connection inherited
    done = ctx.Array("q", max(ends, default=0) + 1, lock=False)
    reports = ctx.Queue()
    procs = [ctx.Process(target=_job, args=(settings, {p: ends[p] for p in share}, done, reports),
                         name=f"bulk-replay-{i}", daemon=True)
             for i, share in enumerate(_spread(ends, jobs))]
    for proc in procs:
        proc.start()
    total = sum(ends.values())
    collected: list[PartitionReport] = []
    rss, finished = 0.0, 0
    try:
        while finished < len(procs):
            try:
                kind, payload = reports.get(timeout=poll_s)
            except queue.Empty:
                if not any(proc.is_alive() for proc in procs):  # each puts its last word first
                    codes = [proc.exitcode for proc in procs]
                    raise BulkFailed(f"a job process ended without finishing (exit codes {codes})")
                on_progress(sum(done), total)
                continue
            if kind == "failed":
                raise BulkFailed(payload)
            if kind == "partition":
                collected.append(payload)
            else:  # "rss": the process is done
                rss, finished = max(rss, payload), finished + 1
            on_progress(sum(done), total)
    finally:
        for proc in procs:
            if proc.is_alive() and finished < len(procs):
                proc.terminate()
            proc.join(10)
    return collected, rss


def _job(settings: Settings, ends: dict[int, int], done: Any, reports: Any) -> None:
    """A job process: its partitions, one after the other; reports each, then its peak RSS."""
    try:
        asyncio.run(_rebuild(settings, ends, done, reports))
    except BaseException as exc:  # the parent reports it and commits nothing
        reports.put(("failed", f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc()}"))
        return
    reports.put(("rss", _peak_rss_mb()))


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: since its exec; ru_maxrss would count the parent's
    peak from before the fork)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _rebuild(settings: Settings, ends: dict[int, int], done: Any, reports: Any) -> None:
    tune_gc()  # as in the worker: many short-lived dicts per record
    connect_registry(settings)  # a spawned process: the parent's codec state is not inherited
    live = await _mapping_in_force(settings)
    policy = engine_policy(settings, live)
    options = kafka_client_options(settings)
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    producer = AIOKafkaProducer(**options, acks="all", linger_ms=5, max_batch_size=1 << 20)
    try:
        await consumer.start()  # in the try: a failed start is stopped too
        await producer.start()
        out = Output(producer)
        for partition, end in ends.items():
            rebuild = PartitionRebuild(TopicNames(settings), policy, live.version, out,
                                       settings.replay_decoded_entries)
            report = await rebuild.run(consumer, partition, end, done)
            await out.settle()
            reports.put(("partition", report))
    finally:
        await producer.stop()
        await consumer.stop()


async def _mapping_in_force(settings: Settings) -> LiveMapping:
    """The newest published mapping, as a worker starting now would have it."""
    live, stopping = LiveMapping(), asyncio.Event()
    follow = asyncio.create_task(live.follow(settings, stopping))
    try:
        await asyncio.wait_for(live.loaded.wait(), MAPPING_WAIT_S)
    except asyncio.TimeoutError:
        raise RuntimeError(f"the mappings topic could not be read in {MAPPING_WAIT_S:.0f} s") from None
    finally:
        stopping.set()
        await follow
    return live


class Output:
    """Records for Kafka, appended to one open batch per topic partition (the producer's
    per-record ``send`` costs more than the batching itself); :meth:`settle` sends what is
    open, waits for every batch and raises the first one Kafka refused. A key always lands on
    the partition the producer's default partitioner gives it, as the worker's records do."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.failed: BaseException | None = None
        self._batches: dict[tuple[str, int], Any] = {}
        self._partitions: dict[str, list[int]] = {}

    def _check(self, delivery: asyncio.Future) -> None:
        if not delivery.cancelled() and delivery.exception() is not None and self.failed is None:
            self.failed = delivery.exception()

    async def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        if partition is None:
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = self._partitions[topic] = sorted(await self.producer.partitions_for(topic))
            partition = _PARTITIONER(key, partitions, partitions)
        batch = self._batches.get((topic, partition))
        if batch is None:
            batch = self._batches[(topic, partition)] = self.producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full
            await self._send(topic, partition, batch)
            batch = self._batches[(topic, partition)] = self.producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                raise ValueError(f"a record of {len(value)} bytes is larger than a batch")

    async def _send(self, topic: str, partition: int, batch: Any) -> None:
        batch.close()
        delivery = await self.producer.send_batch(batch, topic, partition=partition)
        delivery.add_done_callback(self._check)

    async def settle(self) -> None:
        for (topic, partition), batch in self._batches.items():
            if batch.record_count():
                await self._send(topic, partition, batch)
        self._batches.clear()
        await self.producer.flush()
        if self.failed is not None:
            raise self.failed


class PartitionRebuild:
    """One ``inbox`` partition decided in order, as the canonical agent decides it."""

    def __init__(self, names: TopicNames, policy: Policy, mapping_version: int | None,
                 out: Output, decoded_max: int) -> None:
        self.names, self.policy, self.mapping_version, self.out = names, policy, mapping_version, out
        self.decoded_max = decoded_max
        # Decoded, least recently decided first: encoded at the end, or when there are too many.
        # OrderedDict: dropping the oldest is O(1) (app/entry_cache.py says why not a dict).
        self.entries: OrderedDict[bytes, Entry] = OrderedDict()
        self.encoded: dict[bytes, bytes] = {}
        self.dead = self.emitted = 0

    async def run(self, consumer: AIOKafkaConsumer, partition: int, end: int, done: Any
                  ) -> PartitionReport:
        started = time.monotonic()
        tp = TopicPartition(self.names.inbox, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        read_records = 0
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=FETCH_RECORDS)
            for msg in batch.get(tp, ()):
                if msg.offset >= end:
                    break
                read_records += 1
                await self.take(msg)
            done[partition] = read_records
        await self.write_table(partition)
        report = PartitionReport(partition, read_records, len(self.entries) + len(self.encoded),
                                 self.dead, self.emitted, time.monotonic() - started)
        self.entries.clear()
        self.encoded.clear()
        return report

    async def take(self, msg: Any) -> None:
        """One inbox record (a ConsumerRecord): decided, or dead-lettered like the agent does."""
        try:
            inbound = read(msg.key, msg.value)
            known = self._entry(msg.key)
            decision = decide(inbound, known, self.policy)
        except REJECTED as exc:
            await self.dead_letter(msg, str(exc), exc.__class__.__name__)
            return
        await self.apply(msg.key, known, decision)

    async def apply(self, key: bytes, known: Entry, decision: Decision) -> None:
        """Keep what the decision changed; emit what the agent would publish."""
        changed = changed_parts(decision)
        if any(record is not None for record in changed.values()):
            self.encoded.pop(key, None)
            self.entries[key] = Entry(None, {}, {
                field: changed[field] if changed[field] is not None else known.record(field)
                for field in FIELDS})
            self.entries.move_to_end(key)  # decided most recently
            if len(self.entries) > self.decoded_max:
                oldest, entry = self.entries.popitem(last=False)
                self.encoded[oldest] = self._encode(oldest, entry)
        names, send = self.names, self.out.send
        for cmd in decision.commands:
            cmd["mapping_version"] = self.mapping_version
            await send(names.commands(cmd["target_system"], cmd["lane"]), key, COMMAND.dumps(cmd))
        for conflict in decision.conflicts:
            await send(names.conflicts, key, CONFLICT.dumps(conflict))
        for record in decision.audit:
            await send(names.audit, key, AUDIT.dumps(record))
        self.emitted += len(decision.commands) + len(decision.conflicts) + len(decision.audit)

    async def dead_letter(self, msg: Any, reason: str, error: str) -> None:
        self.dead += 1
        await self.out.send(self.names.dlq, msg.key, dead_letter_value(
            msg.topic, msg.partition, msg.offset, msg.headers, msg.key, msg.value, reason, error))

    def _entry(self, key: bytes) -> Entry:
        entry = self.entries.get(key)
        if entry is not None:
            return entry
        return Entry.of(self.encoded.get(key))  # decoded part by part, as needed

    @staticmethod
    def _encode(key: bytes, entry: Entry) -> bytes:
        try:
            parts = encode_parts(entry.records)
        except ValueError as exc:
            raise ValueError(f"the entry of {key!r} cannot be encoded ({exc}); the agent "
                             "would have dead-lettered the record that made it: use "
                             "`replay --from-beginning --streaming`") from exc
        return encode(None, parts["state"], parts["replicas"], parts["links"])

    def table(self) -> dict[bytes, bytes]:
        """The table values so far, encoded as the agent encodes them."""
        table = dict(self.encoded)
        table.update((key, self._encode(key, entry)) for key, entry in self.entries.items())
        return table

    async def write_table(self, partition: int) -> None:
        topic = self.names.changelog(CANONICAL_TABLE)
        for key, raw in self.table().items():
            await self.out.send(topic, key, raw, partition=partition)
