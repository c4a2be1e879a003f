"""`holded-sync replay --since TIME`: the canonical agent decides the inbox again from TIME.

How: the workers of the generation are stopped; the faust group's committed offsets on
``inbox`` are moved back to the first record at or after TIME (``offsets_for_times``); the
workers are started again and read those records once more, then carry on with new ones.

Why a rewind of the group, and not re-publishing the records:

- ``inbox`` is the one written-down order of every entity's changes and results (see
  app/sequencer.py); decisions are only reproducible in that order. Re-reading it gives the
  agent exactly what it saw the first time; copies appended to its end would be interleaved
  with live records in a new order, and would stay in the system of record for ever (every
  later replay from the beginning would decide them again).
- Nothing is written to any topic, so an abandoned replay leaves nothing behind.
- The decision is idempotent on versions it already applied: a change the state already holds
  is a ``duplicate``, an older one ``stale``, a result already recorded changes nothing. So
  re-read records emit no command (only an audit line each); records the agent could not
  decide the first time (dead-lettered by a since-fixed bug) are decided now.
- Kafka itself guards it: a commit from outside the group is refused while the group has
  members, so a rewind can never race a running worker.

TIME is matched against the inbox records' timestamps: when the sequencer copied them, which
is when the engine first saw them. A partition is never moved forward (records not yet
decided stay pending). Commands already executed by sinks are not re-driven: the sinks' groups
are left alone (failed commands go back with `holded-sync dlq redrive`).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError, KafkaError

from app.lag import GroupReader, Progress
from app.settings import Settings
from app.topics import TopicNames, kafka_client_options

__all__ = ["GroupActive", "REPLAY_CLIENT_ID", "ReplayRunning", "Rewind", "WORKER_CLIENT_ID",
           "commit_outside_group", "follow", "group_members", "require_no_members",
           "require_no_replay_worker", "rewind_inbox", "switched_generation"]

POLL_S = 0.5
COORDINATOR_TRIES = 40  # x POLL_S: how long a group's coordinator may take to be found


class GroupActive(RuntimeError):
    """The group still has members: its workers must be stopped before a rewind."""


@dataclass(frozen=True, slots=True)
class Rewind:
    group: str
    since_ms: int
    previous: dict[TopicPartition, int]  # committed before the rewind
    offsets: dict[TopicPartition, int]  # committed now
    ends: dict[TopicPartition, int]  # ends of inbox when rewound

    @property
    def again(self) -> int:
        """Records decided before and to be decided again."""
        return sum(self.previous[tp] - self.offsets[tp] for tp in self.offsets)

    @property
    def total(self) -> int:
        """Records the workers will read to be back where inbox ended at the rewind."""
        return sum(self.ends[tp] - self.offsets[tp] for tp in self.offsets)

    @property
    def progress(self) -> Progress:
        return Progress(dict(self.offsets), dict(self.ends))


REPLAY_CLIENT_ID = "holded-sync-replay"  # the Kafka client id of a replay generation's worker
WORKER_CLIENT_ID = "holded-sync"  # ... and of a worker that runs sinks (app/worker.py)


async def switched_generation(settings: Settings) -> int | None:
    """The next generation, when the workers were switched to it: its group has workers that
    run sinks and this generation's has none. A command reading generation N's tables (the
    default when HOLDED_SYNC_GENERATION is unset) then reads what they no longer keep. None
    also when the groups cannot be described (the answer only adds a note or a refusal)."""
    now, after = TopicNames(settings).app_id, TopicNames(
        settings.model_copy(update={"generation": settings.generation + 1})).app_id
    try:
        # one group per request: asking for both in one, the broker sometimes closed the
        # connection (the test of this, about one run in two), so the note went missing
        groups = {**await _describe(settings, [now], tries=6),
                  **await _describe(settings, [after], tries=6)}
    except KafkaError:
        return None
    workers = {group: sum(1 for m in members if m[1] == WORKER_CLIENT_ID)
               for group, (_state, members) in groups.items()}
    if workers.get(after) and not workers.get(now):
        return settings.generation + 1
    return None


async def _describe(settings: Settings, groups: list[str], tries: int = 1
                    ) -> dict[str, tuple[str, list]]:
    """Each group's (state, members (member id, client id, host, ...)), asking up to ``tries``
    times while a coordinator cannot be found (a new group's, or one a restarted broker loads)."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    try:
        await admin.start()  # in the try: a failed start is closed too
        for attempt in range(tries):
            try:
                responses = await admin.describe_consumer_groups(groups)
                return {group[1]: (group[2], list(group[5])) for r in responses for group in r.groups}
            except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(POLL_S)
        raise AssertionError("unreachable: tries >= 1")
    finally:
        await admin.close()


class ReplayRunning(RuntimeError):
    """A replay's worker (sinks off) is in the generation's group a sinks worker would join."""


async def require_no_replay_worker(settings: Settings) -> None:
    """Raise ReplayRunning while a replay's worker is a member of this generation's group.

    faust needs every member of a group to run the same agents and tables; one without the
    sinks' makes the others' partition assignment fail (workers crashed, or hung not ready
    with /healthz still 200). So a worker that runs sinks does not join it until it is gone."""
    group = TopicNames(settings).app_id
    _state, members = (await _describe(settings, [group], COORDINATOR_TRIES))[group]
    if any(str(member[1]).startswith(REPLAY_CLIENT_ID) for member in members):
        raise ReplayRunning(
            f"the replay job's worker is still running in generation {settings.generation}; stop "
            "it first (kubectl delete the replay Job, or stop `holded-sync replay --run`), then "
            f"start this worker (it is a member of consumer group {group})")


async def group_members(settings: Settings, group: str) -> tuple[str, int]:
    state, members = (await _describe(settings, [group]))[group]
    return state, len(members)


async def require_no_members(settings: Settings, group: str, advice: str) -> None:
    """Raise GroupActive, with ``advice``, while ``group`` has members (a worker runs)."""
    state, members = await group_members(settings, group)
    if members:
        # Static members (group_instance_id) send no LeaveGroup when they stop.
        raise GroupActive(f"consumer group {group} has {members} member(s) ({state}): {advice} "
                          "(a worker with HOLDED_SYNC_GROUP_INSTANCE_ID stays a member after it "
                          "stops, until HOLDED_SYNC_SESSION_TIMEOUT_S passes)")


async def rewind_inbox(settings: Settings, since_ms: int) -> Rewind:
    """Move the generation's group on ``inbox`` back to ``since_ms``. Raises GroupActive."""
    names = TopicNames(settings)
    group = names.app_id
    await require_no_members(settings, group, f"stop every worker of generation "
                             f"{settings.generation} first, then start them again once the "
                             "rewind is done")
    async with GroupReader(settings) as reader:
        positions = await reader.read(group, [names.inbox])
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    try:
        await consumer.start()  # in the try: a failed start is stopped too
        tps = list(positions)
        found = await consumer.offsets_for_times({tp: since_ms for tp in tps})
    finally:
        await consumer.stop()
    previous = {tp: positions[tp].committed for tp in tps}
    ends = {tp: positions[tp].end for tp in tps}
    # No record at or after TIME: nothing to re-read there. Never move a partition forward.
    offsets = {tp: min(previous[tp], found[tp].offset if found[tp] else ends[tp]) for tp in tps}
    await commit_outside_group(settings, group, offsets)
    return Rewind(group, since_ms, previous, offsets, ends)


async def commit_outside_group(settings: Settings, group: str,
                               offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for ``group`` from outside it (generation -1): the coordinator
    refuses it if a worker has joined the group since it was found empty."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=group,
                                enable_auto_commit=False)
    try:
        await consumer.start()  # in the try: a failed start is stopped too
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def follow(settings: Settings, rewind: Rewind, on_progress: Callable[[int], None],
                 timeout_s: float | None = None) -> float:
    """Wait until the group is back at the ends of the rewind, reporting records done; returns
    the seconds it took. Raises TimeoutError after ``timeout_s``."""
    topic = TopicNames(settings).inbox
    progress = rewind.progress
    started = time.monotonic()
    async with GroupReader(settings) as reader:
        while True:
            positions = await reader.read(rewind.group, [topic])
            done = progress.done({tp: p.committed for tp, p in positions.items()})
            on_progress(done)
            if done >= progress.planned:
                return time.monotonic() - started
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise TimeoutError(f"{done} of {progress.planned} record(s) re-decided "
                                   f"after {timeout_s:.0f}s")
            await asyncio.sleep(POLL_S)
