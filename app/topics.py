"""Topic names and their creation. Every flow topic is keyed by entity key and has the same
partition count, so one entity's changes, commands and results share a partition number and
are co-partitioned with the tables.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.protocol.offset import OffsetRequest

from app.settings import Settings

__all__ = ["CANONICAL_TABLE", "PartitionMismatch", "REDRIVE_HEADER", "TopicNames", "TopicSpec",
           "ensure_topics", "kafka_client_options", "topic_plan"]

log = logging.getLogger(__name__)
CANONICAL_TABLE = "canonical"  # state, replicas and links of each entity (app/canonical_entry.py)
# On a record an operator published again from the dead letters (`dlq redrive`): "dlq:<p>:<o>".
# A sink runs a command that failed for good only when it carries it (app/sinks.py).
REDRIVE_HEADER = "hs-redriven-from"
TABLES = (CANONICAL_TABLE,)


def ledger_table(system: str) -> str:
    return f"ledger-{system}"


@dataclass(frozen=True, slots=True)
class TopicNames:
    settings: Settings

    def _p(self, name: str) -> str:
        return f"{self.settings.topic_prefix}{name}"

    def logical(self, name: str) -> str:
        """``name`` without the deployment's prefix (metric labels, messages)."""
        prefix = self.settings.topic_prefix
        return name[len(prefix):] if prefix and name.startswith(prefix) else name

    def changes(self, system: str) -> str:
        return self._p(f"changes.{system}")

    def commands(self, system: str, lane: str = "realtime") -> str:
        """Real-time and bulk commands travel apart, so a backfill never queues ahead of
        a real-time change."""
        return self._p(f"commands.{system}" + (".bulk" if lane == "bulk" else ""))

    def retries(self, system: str) -> str:
        """Commands waiting for their dependencies (contact, products) to reach the target."""
        return self._p(f"retry.{system}")

    def results(self, system: str) -> str:
        return self._p(f"results.{system}")

    @property
    def conflicts(self) -> str:
        return self._p("conflicts")

    @property
    def audit(self) -> str:
        return self._p("audit")

    @property
    def dlq(self) -> str:
        return self._p("dlq")

    @property
    def inbox(self) -> str:
        return self._p("inbox")

    @property
    def sequencer_group(self) -> str:
        """Not tied to the generation: a replay must not copy the sources into inbox again."""
        return self._p(f"{self.settings.app_id}-sequencer")

    @property
    def poller_state(self) -> str:
        """Compacted: each poller's watermark, so a new leader resumes where the old one was."""
        return self._p("poller-state")

    @property
    def mappings(self) -> str:
        return self._p("mappings")

    @property
    def app_id(self) -> str:
        gen = self.settings.generation
        return f"{self.settings.topic_prefix}{self.settings.app_id}" + (f"-g{gen}" if gen else "")

    def changelog(self, table: str) -> str:
        """A table's changelog. The sinks' ledgers belong to no generation: what was written
        to an API stays written, so a replay's workers find every past command in them and
        call no API (a ledger per generation would start empty and write everything again)."""
        if table.startswith("ledger-"):
            return f"{self.settings.topic_prefix}{self.settings.app_id}-{table}-changelog"
        return f"{self.app_id}-{table}-changelog"

    def flow(self) -> list[str]:
        systems = self.settings.systems
        return ([self.changes(s) for s in systems] + [self.commands(s) for s in systems]
                + [self.commands(s, "bulk") for s in systems] + [self.retries(s) for s in systems]
                + [self.results(s) for s in systems]
                + [self.inbox, self.conflicts, self.audit, self.dlq])


def kafka_client_options(settings: Settings) -> dict:
    """aiokafka keyword arguments for the configured security settings."""
    opts: dict = {"bootstrap_servers": settings.bootstrap,
                  "security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        opts["sasl_mechanism"] = settings.kafka_sasl_mechanism
        opts["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password:
            opts["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context
        opts["ssl_context"] = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
    return opts


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


KEEP_FOREVER = {"retention.ms": "-1"}  # flow topics are the system of record: replays start at 0
COMPACT = {"cleanup.policy": "compact"}


def topic_plan(settings: Settings) -> list[TopicSpec]:
    """Every topic the engine uses, with its partitions and configs: the one list that
    ``ensure_topics``, the docker-compose topic init and the Strimzi manifests all follow."""
    names = TopicNames(settings)
    n = settings.partitions
    plan = [TopicSpec(t, n, dict(KEEP_FOREVER)) for t in names.flow()]
    # Read whole by every worker: one partition keeps one order.
    plan += [TopicSpec(t, 1, dict(COMPACT)) for t in (names.mappings, names.poller_state)]
    # Same partition count as the flow topics, or faust raises PartitionsMismatch.
    tables = [*TABLES, *(ledger_table(s) for s in settings.systems)]
    plan += [TopicSpec(names.changelog(t), n, dict(COMPACT)) for t in tables]
    return plan


class PartitionMismatch(ValueError):
    """Existing topics have another partition count than the settings say."""


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the topics of ``topic_plan`` that do not exist yet; raise PartitionMismatch if
    existing ones have another partition count. Tables must be co-partitioned with ``inbox``,
    and readers that trust the setting would wait for partitions that do not exist."""
    plan = topic_plan(settings)
    wanted = [NewTopic(t.name, t.partitions, 1, topic_configs=t.config) for t in plan]
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [t for t in plan if t.name in existing]
        if present:
            _check_partitions(present, await admin.describe_topics([t.name for t in present]),
                              settings.partitions)
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another worker created them first
            log.info("created topics: %s", ", ".join(t.name for t in missing))
            await _wait_for_leaders(admin, [t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()


def _check_partitions(specs: list[TopicSpec], described: list[dict], setting: int) -> None:
    counts = {d["topic"]: len(d["partitions"]) for d in described if d.get("error_code", 0) == 0}
    wrong: dict[int, list[str]] = {}  # actual count -> topics
    for s in specs:
        if s.name in counts and counts[s.name] != s.partitions:
            wrong.setdefault(counts[s.name], []).append(s.name)
    if wrong:
        found = "; ".join(f"{len(names)} have {count} ({', '.join(names[:3])}"
                          f"{f' and {len(names) - 3} more' if len(names) > 3 else ''})"
                          for count, names in sorted(wrong.items()))
        raise PartitionMismatch(
            f"topics exist with another partition count than HOLDED_SYNC_PARTITIONS={setting}: "
            f"{found}. Set HOLDED_SYNC_PARTITIONS to the count they have (Kafka cannot shrink a "
            "topic, and growing one sends keys to other partitions than their tables hold)")


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str], timeout: float = 30.0) -> None:
    """New topics accept writes once every partition's leader serves it; wait for that (bounded).

    The metadata names a leader about 0.2 s before that broker has taken the partition on
    (KRaft). A write in between is refused with NOT_LEADER_OR_FOLLOWER: the client retries,
    but logs a warning for each, which the demo printed among its first lines. So a partition
    counts as ready once its leader answers a ListOffsets request for it without an error.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(topics)
        if all(t.get("error_code", 0) == 0 and t["partitions"]
               and all(p.get("leader", -1) >= 0 for p in t["partitions"]) for t in described) \
                and await _leaders_serve(admin, described):
            return
        await asyncio.sleep(0.05)
    log.warning("topics still without a leader after %.0fs: %s", timeout, ", ".join(topics))


# ListOffsets errors that mean "not served yet": unknown partition, no leader, not the leader,
# leader epoch not there yet, offset not available. Any other error is not waited out.
_NOT_SERVED_YET = frozenset((3, 5, 6, 74, 75, 78))


async def _leaders_serve(admin: AIOKafkaAdminClient, described: list[dict]) -> bool:
    """Does each partition's leader answer ListOffsets for it? (aiokafka's admin client has no
    public call for it; its own request path is used.)"""
    by_leader: dict[int, dict[str, list[int]]] = {}
    for t in described:
        for p in t["partitions"]:
            by_leader.setdefault(p["leader"], {}).setdefault(t["topic"], []).append(p["partition"])
    for leader, partitions in by_leader.items():
        request = OffsetRequest(-1, 0, [(topic, [(p, -1) for p in ps])  # -1: the latest offset
                                        for topic, ps in partitions.items()])
        response = await admin._send_request_to_node(leader, request)
        if any(part[1] in _NOT_SERVED_YET for _, parts in response.topics for part in parts):
            return False  # part[1]: the partition's error code
    return True
