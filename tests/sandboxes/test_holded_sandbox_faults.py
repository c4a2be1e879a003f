"""Rate limiting and fault switches of the Holded sandbox; each can fail when the switch is broken."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from click.testing import CliRunner

from connectors.holded.sandbox import Faults, RateLimit, SandboxServer
from connectors.holded.sandbox_cli import sandbox_holded_command
from tests.sandboxes.conftest import KEY, eventually

MakeSandbox = Callable[..., Awaitable[SandboxServer]]


def client(server: SandboxServer, key: str = KEY, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.v1_url, headers={"key": key}, **kwargs)  # type: ignore[arg-type]


async def customers(server: SandboxServer, custom_id: str) -> int:
    return await server.count("contacts", custom_id=custom_id)


# --- rate limit ----------------------------------------------------------------------------------
async def test_rate_limit_answers_429_with_retry_after_and_headers(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(rate_limit=RateLimit(requests=3, per_seconds=30))
    async with client(server) as http:
        ok = [await http.get("/taxes") for _ in range(3)]
        limited = await http.get("/taxes")
    assert [r.headers["X-RateLimit-Remaining"] for r in ok] == ["2", "1", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in ok)
    assert limited.status_code == 429
    assert 28 <= int(limited.headers["Retry-After"]) <= 29
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert [r.status for r in server.requests] == [200, 200, 200, 429]  # rejected requests are recorded


async def test_rate_limit_is_per_key_and_a_window_frees_with_retry_after_zero(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(api_keys=("k1", "k2"), rate_limit=RateLimit(requests=2, per_seconds=1))
    async with client(server, "k1") as one, client(server, "k2") as two:
        assert [(await one.get("/taxes")).status_code for _ in range(2)] == [200, 200]
        limited = await one.get("/taxes")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "0"
        assert (await two.get("/taxes")).status_code == 200
        await asyncio.sleep(1)  # the window itself is the condition: it frees 1 s after the first hit
        assert (await one.get("/taxes")).status_code == 200


async def test_requests_log_lets_a_test_check_a_client_never_exceeded_the_limit(make_sandbox: MakeSandbox) -> None:
    limit = RateLimit(requests=5, per_seconds=5)  # wide: a stalled CI machine still fits 8 in it
    server = await make_sandbox(rate_limit=limit)
    async with client(server) as http:
        await asyncio.gather(*(http.get("/taxes") for _ in range(8)))
    times = sorted(r.time for r in server.requests)
    busiest = max(sum(1 for t in times if start <= t < start + limit.per_seconds) for start in times)
    assert busiest == 8 and sum(r.status == 429 for r in server.requests) == 3


async def test_v2_rate_limit_is_a_problem_document(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(rate_limit=RateLimit(requests=1, per_seconds=30))
    async with httpx.AsyncClient(base_url=server.v2_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        await http.get("/taxes")
        limited = await http.get("/taxes")
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["status"] == 429 and "Retry-After" in limited.headers


# --- storms, HTML, 5xx, latency --------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", [3, None])
async def test_429_storm_hits_the_next_n_requests(sandbox: SandboxServer, v1: httpx.AsyncClient,
                                                  retry_after: int | None) -> None:
    sandbox.faults.storm_next, sandbox.faults.storm_retry_after = 2, retry_after
    responses = [await v1.get("/taxes") for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].headers.get("Retry-After") == (None if retry_after is None else "3")


async def test_html_fault_answers_200_html_for_the_next_n_requests(sandbox: SandboxServer,
                                                                   v1: httpx.AsyncClient) -> None:
    sandbox.faults.html_next = 1
    first = await v1.post("/contacts", json={"name": "X", "CustomId": "c/html"})
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
    assert await customers(sandbox, "c/html") == 0
    assert (await v1.get("/taxes")).headers["content-type"].startswith("application/json")


async def test_error_next_gives_503_without_committing(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    sandbox.faults.error_next = 1
    assert (await v1.post("/contacts", json={"name": "X", "CustomId": "c/5xx"})).status_code == 503
    assert await customers(sandbox, "c/5xx") == 0
    assert (await v1.post("/contacts", json={"name": "X", "CustomId": "c/5xx"})).status_code == 201


async def test_error_rate_is_deterministic_for_a_seed(make_sandbox: MakeSandbox) -> None:
    async def statuses(seed: int) -> list[int]:
        server = await make_sandbox(faults=Faults(error_rate=0.5, seed=seed))
        async with client(server) as http:
            return [(await http.get("/taxes")).status_code for _ in range(20)]

    first, again, other = await statuses(7), await statuses(7), await statuses(8)
    assert first == again and first != other
    assert {200, 503} == set(first)


async def test_latency_is_added_to_every_request(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    sandbox.faults.latency_ms = 150
    loop = asyncio.get_running_loop()
    started = loop.time()
    await v1.get("/taxes")
    assert loop.time() - started >= 0.15


# --- timeouts ------------------------------------------------------------------------------------
async def test_timeout_without_commit_ends_in_504_and_no_record(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    sandbox.faults.timeout_next, sandbox.faults.timeout_seconds = 1, 0.1
    response = await v1.post("/contacts", json={"name": "X", "CustomId": "c/504"})
    assert response.status_code == 504 and response.json()["status"] == 0
    assert await customers(sandbox, "c/504") == 0


async def test_timeout_holds_longer_than_the_client_waits(sandbox: SandboxServer) -> None:
    sandbox.faults.timeout_next, sandbox.faults.timeout_seconds, sandbox.faults.timeout_commits = 1, 30, True
    async with client(sandbox, timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/contacts", json={"name": "X", "CustomId": "c/held"})

    async def committed() -> bool:
        return await customers(sandbox, "c/held") == 1

    await eventually(committed)
    assert sandbox.requests[-1].outcome == "held"


# --- lost responses: the write commits, the client never hears of it -------------------------------
async def test_lost_response_drops_the_connection_after_commit(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    sandbox.faults.lose_next_writes = 1
    assert (await v1.get("/contacts")).status_code == 200  # reads do not consume the switch
    with pytest.raises(httpx.RemoteProtocolError):
        await v1.post("/contacts", json={"name": "X", "CustomId": "c/lost"})
    found = (await v1.get("/contacts", params={"customId[]": "c/lost"})).json()
    assert len(found) == 1  # the create committed: a retry must find it instead of creating again
    assert sandbox.requests[-2].outcome == "dropped"
    assert (await v1.post("/contacts", json={"name": "Y"})).status_code == 201


async def test_lost_response_in_error_mode_answers_502_after_commit(sandbox: SandboxServer,
                                                                    v1: httpx.AsyncClient) -> None:
    sandbox.faults.lose_next_writes, sandbox.faults.lose_mode = 1, "error"
    response = await v1.post("/documents/invoice", json={"date": 1767268800, "notes": "ERP-1"})
    assert response.status_code == 502
    assert [d["notes"] for d in (await v1.get("/documents/invoice")).json()] == ["ERP-1"]


async def test_lose_rate_is_seeded(make_sandbox: MakeSandbox) -> None:
    async def outcomes(seed: int) -> list[str]:
        server = await make_sandbox(faults=Faults(lose_rate=0.5, lose_mode="error", seed=seed))
        async with client(server) as http:
            for i in range(12):
                await http.post("/contacts", json={"name": f"C{i}"})
        assert await server.count("contacts") == 12  # every write committed, lost or not
        return [str(r.status) for r in server.requests]

    first = await outcomes(3)
    assert first == await outcomes(3) and {"201", "502"} == set(first)


async def test_faults_can_be_cleared(sandbox: SandboxServer, v1: httpx.AsyncClient) -> None:
    sandbox.faults.error_rate, sandbox.faults.storm_next = 1.0, 5
    sandbox.faults.clear()
    assert (await v1.get("/taxes")).status_code == 200


def test_cli_command_parses_its_options() -> None:
    result = CliRunner().invoke(sandbox_holded_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--port", "--latency-ms", "--error-rate", "--lose-responses", "--rate-limit"):
        assert option in result.output
    bad = CliRunner().invoke(sandbox_holded_command, ["--rate-limit", "lots"])
    assert bad.exit_code != 0 and "N/SECONDS" in bad.output


async def test_a_closed_write_gate_holds_writes_until_opened_while_reads_pass(
        make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox()
    server.faults.writes.close()
    async with client(server) as http:
        write = asyncio.ensure_future(http.post("/contacts", json={"name": "Gated SL", "CustomId": "g-1"}))
        async def held() -> bool:
            return server.faults.writes.held == 1
        await eventually(held)
        assert (await http.get("/contacts")).status_code == 200  # reads are not held
        assert await customers(server, "g-1") == 0  # nothing committed while held
        server.faults.writes.open()
        assert (await write).status_code in (200, 201)
    assert await customers(server, "g-1") == 1
