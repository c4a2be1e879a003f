"""The conformance suite every connector passes (singer-sdk style: subclass, provide fixtures).

Each test here runs the connector's REAL client, source and sink against the connector's own
sandbox (real HTTP on 127.0.0.1) and checks one promise of design.md:

- pagination ends, reads every record once, and never loops (a broken cursor raises);
- a 429 backs off for at least its ``Retry-After`` (timed from the sandbox's request log);
- a rejected credential is refreshed once, then fails clearly (a CONFIG-fault error, no retry
  storm);
- every change event a source returns fits the Avro schema ``ChangeEvent``, with a stable
  ``event_id``, an entity key ``<entity>/<system>/<id>`` and ``content_hash(payload)``;
- a sink write whose response is lost after the commit leaves exactly one record, and a
  replay (same command, fresh ledger) creates nothing;
- echoes are suppressed: what the source reports after a sink write hashes equal to what was
  written, on the fields the system holds (``held_fields``).

How to subclass (tests/connectors/<system>/test_conformance.py)::

    from tests.connectors.conformance import ConnectorConformance, RecordedRequest

    class TestAcmeConformance(ConnectorConformance):
        system = "acme"
        held_fields = HELD_FIELDS                  # {"contact": {"name", "tax_id"}, ...}
        page_size = 5                              # records per page the client asks for

        @pytest.fixture
        async def sandbox(self):                   # a running sandbox, stopped afterwards
            server = await start_acme_sandbox(port=0)
            yield server
            await server.stop()

        @pytest.fixture
        def control(self, sandbox) -> SandboxControl:    # see the protocol below
            return AcmeControl(sandbox)

        @pytest.fixture
        def client_factory(self, sandbox, http):   # () -> client; >= 3 attempts, fast limiter
                                                   # (`http`: tests/connectors/conftest.py)
            return lambda: AcmeClient(http, base_url=sandbox.url, ...)

        @pytest.fixture
        def source_factory(self, client_factory):  # () -> Source (connectors.base.contracts)
            return lambda: AcmeSource(client_factory(), mapping=MAPPING)

        @pytest.fixture
        def sink_factory(self, client_factory):    # (ledger) -> Sink
            return lambda ledger: AcmeSink(client_factory(), mapping=MAPPING, ledger=ledger)

        @pytest.fixture
        def sample_commands(self, sandbox):        # Command dicts the sink can execute
            return [payment_command(...), contact_command(...)]

        async def probe(self, client):             # one cheap authenticated read
            await client.search_count("res.partner", [])

        async def list_all(self, client):          # read one entity to the end, paginated
            return [r async for r in client.iterate("res.partner", page_size=self.page_size)]

The fixture names (``sandbox``, ``control``, ``client_factory``, ``source_factory``,
``sink_factory``, ``sample_commands``) and the hooks (``probe``, ``list_all``) are stable.
A sandbox that cannot fake something raises ``NotImplementedError`` in ``control``; that test
is then skipped with the reason, never passed silently. Set ``supports_auth_refresh = False``
for credentials with nothing to refresh (static bearer keys): the 401 test then only checks
the clear failure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import pytest

from app.avro import codec
from app.core.hashing import content_hash
from connectors.base.contracts import MemoryLedger, Sink, Source
from connectors.base.errors import ConnectorError, Fault, PaginationLoop, RetryableError

__all__ = ["ConnectorConformance", "RecordedRequest", "SandboxControl", "execute_until_done", "held",
           "poll_all"]

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the sandbox saw it. ``time``: monotonic seconds at arrival."""

    time: float
    method: str
    path: str
    status: int | None
    auth: bool = False  # a login / token request rather than an API call


class SandboxControl(Protocol):
    """What the suite needs from a sandbox; each connector adapts its own fault switches."""

    def recorded(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order."""
        ...

    def throttle_next(self, count: int, retry_after: int) -> None:
        """The next ``count`` API requests answer 429 with ``Retry-After: retry_after``."""
        ...

    def lose_next_write(self) -> None:
        """The next write that creates or changes a record commits, then its response is lost."""
        ...

    def expire_auth_once(self) -> None:
        """The next API request is rejected as if the session/token had expired; a fresh
        login afterwards works."""
        ...

    def revoke_credentials(self) -> None:
        """From now on the credential is rejected everywhere, logins included."""
        ...

    def break_paging(self) -> None:
        """From now on the listing ignores the page/cursor and returns the first page again."""
        ...

    async def seed(self, count: int) -> None:
        """Add ``count`` records of the entity ``list_all`` reads."""
        ...

    async def count_written(self, command: Record) -> int:
        """Records in the sandbox that carry this command's external reference."""
        ...


def held(payload: Mapping[str, Any] | None, fields: Collection[str]) -> dict[str, Any]:
    """The part of a canonical payload a system stores."""
    return {name: (payload or {}).get(name) for name in sorted(fields)}


async def poll_all(source: Source, state: Any = None,
                   now: dt.datetime | None = None) -> tuple[Any, list[Record]]:
    """One full poll of a source (its own state type; ``None`` = from the beginning)."""
    return await source.poll(state, now or dt.datetime.now(dt.UTC))


async def execute_until_done(sink: Sink, command: Record, attempts: int = 4) -> Record:
    """Run a command as the sink agent would: redeliver it on RetryableError."""
    last: RetryableError | None = None
    for _ in range(attempts):
        try:
            return (await sink.execute(command)).result
        except RetryableError as error:
            last = error
    raise AssertionError(f"command never completed: {last}")


def _supports(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except NotImplementedError as exc:
        pytest.skip(f"the sandbox cannot fake this: {exc}")


class ConnectorConformance:
    """Base class of every connector's conformance tests (see the module docstring)."""

    system: ClassVar[str] = ""
    held_fields: ClassVar[Mapping[str, Collection[str]]] = {}
    page_size: ClassVar[int] = 5
    supports_auth_refresh: ClassVar[bool] = True
    retry_after_tolerance: ClassVar[float] = 0.05  # seconds of clock jitter allowed

    # ---- abstract fixtures: every subclass overrides these -------------------------------
    @pytest.fixture
    def sandbox(self) -> Any:
        raise NotImplementedError("provide a running sandbox")

    @pytest.fixture
    def control(self, sandbox: Any) -> SandboxControl:
        raise NotImplementedError("provide a SandboxControl for the sandbox")

    @pytest.fixture
    def client_factory(self, sandbox: Any) -> Callable[[], Any]:
        raise NotImplementedError("provide () -> client")

    @pytest.fixture
    def source_factory(self, sandbox: Any) -> Callable[[], Source]:
        raise NotImplementedError("provide () -> Source")

    @pytest.fixture
    def sink_factory(self, sandbox: Any) -> Callable[[MemoryLedger], Sink]:
        raise NotImplementedError("provide (ledger) -> Sink")

    @pytest.fixture
    def sample_commands(self, sandbox: Any) -> list[Record]:
        raise NotImplementedError("provide Command dicts the sink can execute")

    # ---- abstract hooks ----------------------------------------------------------------
    async def probe(self, client: Any) -> Any:
        raise NotImplementedError

    async def list_all(self, client: Any) -> list[Any]:
        raise NotImplementedError

    # ---- pagination --------------------------------------------------------------------
    async def test_pagination_reads_everything_once_and_ends(
        self, control: SandboxControl, client_factory: Callable[[], Any]
    ) -> None:
        client = client_factory()
        before = await self.list_all(client)
        await control.seed(self.page_size * 2 + 1)
        start = len(control.recorded())
        records = await self.list_all(client)
        assert len(records) == len(before) + self.page_size * 2 + 1
        assert len({repr(_identity(r)) for r in records}) == len(records), "a record came twice"
        calls = [r for r in control.recorded()[start:] if not r.auth]
        assert len(calls) <= len(records) // self.page_size + 2, "more page requests than pages"

    async def test_pagination_that_ignores_the_cursor_raises_instead_of_looping(
        self, control: SandboxControl, client_factory: Callable[[], Any]
    ) -> None:
        await control.seed(self.page_size * 3)
        _supports(control.break_paging)
        with pytest.raises(PaginationLoop):
            await self.list_all(client_factory())

    # ---- rate limits -------------------------------------------------------------------
    async def test_429_backs_off_for_retry_after(
        self, control: SandboxControl, client_factory: Callable[[], Any]
    ) -> None:
        client = client_factory()
        await self.probe(client)  # log in first, so only the API calls below are timed
        start = len(control.recorded())
        _supports(lambda: control.throttle_next(1, retry_after=1))
        await self.probe(client)
        calls = [r for r in control.recorded()[start:] if not r.auth]
        assert [r.status for r in calls][:1] == [429] and calls[-1].status == 200, calls
        gap = calls[1].time - calls[0].time
        assert gap >= 1 - self.retry_after_tolerance, f"retried after {gap:.3f}s, Retry-After 1"

    # ---- auth --------------------------------------------------------------------------
    async def test_expired_auth_is_refreshed_once(
        self, control: SandboxControl, client_factory: Callable[[], Any]
    ) -> None:
        if not self.supports_auth_refresh:
            pytest.skip("this credential has nothing to refresh")
        client = client_factory()
        await self.probe(client)
        start = len(control.recorded())
        _supports(control.expire_auth_once)
        await self.probe(client)
        new = control.recorded()[start:]
        assert sum(r.auth for r in new) == 1, new

    async def test_revoked_credential_fails_clearly_after_one_refresh(
        self, control: SandboxControl, client_factory: Callable[[], Any]
    ) -> None:
        client = client_factory()
        await self.probe(client)
        start = len(control.recorded())
        _supports(control.revoke_credentials)
        with pytest.raises(ConnectorError) as caught:
            await self.probe(client)
        assert not isinstance(caught.value, RetryableError), "a dead credential is not transient"
        assert caught.value.fault is Fault.CONFIG
        new = control.recorded()[start:]
        assert sum(r.auth for r in new) <= (1 if self.supports_auth_refresh else 0), new
        assert len([r for r in new if not r.auth]) <= 2, f"retried a rejected credential: {new}"

    # ---- source ------------------------------------------------------------------------
    async def test_source_events_fit_the_avro_schema(
        self, source_factory: Callable[[], Source]
    ) -> None:
        state, events = await poll_all(source_factory())
        assert events, "the seeded sandbox should report something"
        for event in events:
            codec("ChangeEvent").dumps(event)  # raises if the record does not fit
            assert event["source_system"] == self.system
            key = re.fullmatch(rf"(\w+)/{re.escape(self.system)}/(.+)", event["entity_key"])
            assert key is not None and key.group(1) == event["entity"], event["entity_key"]
            assert event["content_hash"] == content_hash(event["payload"])
        _, again = await poll_all(source_factory())
        assert sorted(e["event_id"] for e in again) == sorted(e["event_id"] for e in events)

    async def test_source_second_poll_reports_nothing_new(
        self, source_factory: Callable[[], Source]
    ) -> None:
        source = source_factory()
        state, _ = await poll_all(source)
        _, events = await poll_all(source, state)
        assert events == [], [e["entity_key"] for e in events]

    # ---- sink --------------------------------------------------------------------------
    async def test_lost_response_leaves_exactly_one_record(
        self, control: SandboxControl, sink_factory: Callable[[MemoryLedger], Sink],
        sample_commands: list[Record],
    ) -> None:
        for command in sample_commands:
            ledger = MemoryLedger()
            sink = sink_factory(ledger)
            _supports(control.lose_next_write)
            first = await execute_until_done(sink, command)
            assert first["status"] in ("succeeded", "already_done"), first
            assert await control.count_written(command) == 1, command["entity_key"]
            again = (await sink.execute(command)).result
            assert again["status"] == "already_done" and again["target_id"] == first["target_id"]
            replay = await execute_until_done(sink_factory(MemoryLedger()), command)
            assert replay["target_id"] == first["target_id"]
            assert await control.count_written(command) == 1, "a replay created a second record"

    async def test_echo_of_a_sink_write_hashes_equal_on_held_fields(
        self, sink_factory: Callable[[MemoryLedger], Sink],
        source_factory: Callable[[], Source], sample_commands: list[Record],
    ) -> None:
        source = source_factory()
        state, _ = await poll_all(source)
        for command in sample_commands:
            result = await execute_until_done(sink_factory(MemoryLedger()), command)
            state, events = await poll_all(source, state)
            echo = [e for e in events
                    if e["entity"] == command["entity"] and e["source_id"] == result["target_id"]]
            assert echo, f"the source did not report the write of {command['entity_key']}"
            fields = self.held_fields[command["entity"]]
            wrote, saw = held(command["payload"], fields), held(echo[-1]["payload"], fields)
            assert content_hash(saw) == content_hash(wrote), {
                k: (wrote[k], saw[k]) for k in fields if wrote[k] != saw[k]}


def _identity(record: Any) -> Any:
    if isinstance(record, Mapping):
        for key in ("id", "Id", "@odata.id", "No", "number"):
            if key in record:
                return record[key]
    return record

