"""The operator page without Kafka: rendering, escaping, secrets, and who may act."""
from __future__ import annotations

import re

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from pydantic import SecretStr

from app.operator_cli import OperatorError, find_conflict
from app.operator_page.guard import OperatorGuard
from app.operator_page.model import (ConflictRow, DeadLetterRow, ParkedRow, Snapshot, SystemRow,
                                     secret_values)
from app.operator_page.render import render_page
from app.operator_page.routes import OperatorRoutes
from app.settings import HoldedSettings, Settings

TOKEN = "op-token-1234567890"
EVIL = '<script>alert("x")</script>'


def conflict(cid: str = "c0ffee" * 6, value: str = '"B111"') -> ConflictRow:
    return ConflictRow(cid, "2026-03-01T10:00:00.000Z", "contact/odoo/C1", "tax_id", "odoo", value,
                       "holded", '"B222"', "took_incoming", "lww", '"B222"', "holded")


def snapshot(**over) -> Snapshot:
    base = dict(
        conflicts=[conflict()],
        conflicts_total=1,
        parked=[ParkedRow("holded", "contact/odoo/P1", "p" * 32, "upsert", "no mapping", "2026-03-01T10:00:00.000Z", 1)],
        dead_letters=[DeadLetterRow("2:17", 1, "2026-03-01T10:00:00.000Z", "SinkFailed",
                                    "t.commands.holded[0]@4", "contact/odoo/D1", "account blocked", "failed")],
        systems=[SystemRow("holded", 12, 3, 429, "2026-03-01T10:00:00.000Z", 30, 300,
                           "2026-03-01T10:00:00.000Z", True, None)],
        read_at="2026-03-01T10:00:01.000Z")
    base.update(over)
    return Snapshot(**base)


class FakeData:
    """Records the actions asked for; knows one conflict, one dead letter, one parked command."""

    def __init__(self, snap: Snapshot | None = None) -> None:
        self.snap = snap or snapshot()
        self.done: list[tuple] = []

    async def snapshot(self) -> Snapshot:
        return self.snap

    async def override(self, conflict_id: str, take: str) -> str:
        if conflict_id not in {c.conflict_id for c in self.snap.conflicts}:
            raise OperatorError(f"no conflict {conflict_id!r}", 1)
        self.done.append(("override", conflict_id, take))
        return f"override of {conflict_id[:12]} published ({take})"

    async def redrive_dead_letter(self, ref: str) -> str:
        self.done.append(("dlq", ref))
        return f"dead letter {ref} re-driven: Talleres Gómez 10 € <b>"

    async def redrive_parked(self, system: str, command_id: str) -> str:
        self.done.append(("parked", system, command_id))
        return f"parked {command_id[:12]} re-driven"


@pytest.fixture
async def served():
    """A factory: (client, fake data) for a page guarded by ``token``."""
    clients: list[TestClient] = []

    async def make(token: str | None = TOKEN, snap: Snapshot | None = None, secrets=()):
        data = FakeData(snap)
        routes = OperatorRoutes(data, OperatorGuard(SecretStr(token) if token else None), secrets)
        client = TestClient(TestServer(routes.aiohttp_app()), cookie_jar=CookieJar(unsafe=True))
        await client.start_server()
        clients.append(client)
        return client, data
    yield make
    for client in clients:
        await client.close()


async def sign_in(client: TestClient) -> str:
    resp = await client.post("/operator/login", data={"token": TOKEN}, allow_redirects=False)
    assert resp.status == 303
    page = await (await client.get("/operator")).text()
    return re.search(r'name="form_token" value="([0-9a-f]+)"', page).group(1)


def test_values_are_escaped_and_secrets_masked():
    snap = snapshot(conflicts=[conflict(value=EVIL)],
                    systems=[SystemRow("holded", 1, 0, 500, None, 1, None, "t", False,
                                       "HTTPError: key=s3cr3t-api-key rejected")])
    page = render_page(snap, form_token="f" * 64, secrets=["s3cr3t-api-key"])
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "s3cr3t-api-key" not in page and "key=**********" in page
    assert page.count('action="/operator/') == 3  # one override, one per re-drive


def test_secret_values_come_from_nested_settings():
    s = Settings(holded=HoldedSettings(api_key="hk-1"), operator_token="ot-2")
    assert set(secret_values(s)) >= {"hk-1", "ot-2"}


def test_unknown_conflict_id_is_an_operator_error():
    with pytest.raises(OperatorError, match="no conflict 'nope'"):
        find_conflict([], "nope")


async def test_without_a_token_the_page_is_read_only(served):
    client, data = await served(token=None)
    resp = await client.get("/operator")
    page = await resp.text()
    assert resp.status == 200 and "Read-only" in page and "<form" not in page
    assert "contact/odoo/C1" in page and "account blocked" in page
    resp = await client.post("/operator/dlq/redrive", data={"ref": "2:17"})
    assert resp.status == 403 and "operator actions are disabled" in await resp.text()
    assert data.done == []


async def test_sign_in_needs_the_right_token(served):
    client, _ = await served()
    first = await client.get("/operator")
    assert first.status == 200 and 'name=token' in await first.text()
    assert "contact/odoo/C1" not in await first.text()
    wrong = await client.post("/operator/login", data={"token": "nope"}, allow_redirects=False)
    assert wrong.status == 403 and "wrong operator token" in await wrong.text()
    await sign_in(client)
    assert "contact/odoo/C1" in await (await client.get("/operator")).text()


async def test_an_action_redirects_back_with_its_outcome(served):
    client, data = await served()
    form_token = await sign_in(client)
    resp = await client.post("/operator/conflicts/override", allow_redirects=False,
                             data={"conflict_id": "c0ffee" * 6, "take": "canonical",
                                   "form_token": form_token})
    assert resp.status == 303 and resp.headers["Location"] == "/operator"
    assert data.done == [("override", "c0ffee" * 6, "canonical")]
    page = await (await client.get("/operator")).text()
    assert "override of c0ffeec0ffee published (canonical)" in page
    assert "published" not in await (await client.get("/operator")).text()  # shown once
    for path, fields in (("/operator/dlq/redrive", {"ref": "2:17"}),
                         ("/operator/parked/redrive", {"system": "holded", "command_id": "p" * 32})):
        resp = await client.post(path, data={**fields, "form_token": form_token}, allow_redirects=False)
        assert resp.status == 303
        if path.startswith("/operator/dlq"):
            shown = await (await client.get("/operator")).text()
            assert "re-driven: Talleres Gómez 10 € &lt;b&gt;" in shown
    assert data.done[1:] == [("dlq", "2:17"), ("parked", "holded", "p" * 32)]


async def test_actions_are_refused_without_session_form_token_or_same_origin(served):
    client, data = await served()
    fields = {"ref": "2:17"}
    resp = await client.post("/operator/dlq/redrive", data={**fields, "form_token": "x"})
    assert resp.status == 403 and "not signed in" in await resp.text()
    form_token = await sign_in(client)
    resp = await client.post("/operator/dlq/redrive", data=fields)
    assert resp.status == 403 and "form token is missing or wrong" in await resp.text()
    resp = await client.post("/operator/dlq/redrive", data={**fields, "form_token": "0" * 64})
    assert resp.status == 403 and "form token is missing or wrong" in await resp.text()
    resp = await client.post("/operator/dlq/redrive", data={**fields, "form_token": form_token},
                             headers={"Origin": "https://evil.example"})
    assert resp.status == 403 and "cross-site form refused" in await resp.text()
    assert data.done == []


async def test_bad_input_is_a_clear_error(served):
    client, data = await served()
    form_token = await sign_in(client)
    resp = await client.post("/operator/conflicts/override",
                             data={"conflict_id": "deadbeef", "take": "incoming", "form_token": form_token})
    assert resp.status == 404 and "no conflict &#x27;deadbeef&#x27;" in await resp.text()
    resp = await client.post("/operator/parked/redrive", data={"system": "holded", "form_token": form_token})
    assert resp.status == 400 and "missing form field(s): command_id" in await resp.text()
    for garbage in ("garbage", "2:", ":17", "2:17:1", "-1:3", "2:x"):
        resp = await client.post("/operator/dlq/redrive", data={"ref": garbage, "form_token": form_token})
        assert resp.status == 400, garbage
        assert "is not &lt;partition&gt;:&lt;offset&gt; of the dlq topic" in await resp.text()
    assert data.done == []


async def test_an_unknown_well_formed_dead_letter_ref_is_404(served):
    client, data = await served()
    form_token = await sign_in(client)

    async def unknown(ref: str) -> str:
        raise OperatorError(f"no dead letter {ref!r} (partition:offset of the dlq topic)", 1)
    data.redrive_dead_letter = unknown
    resp = await client.post("/operator/dlq/redrive", data={"ref": "3:999", "form_token": form_token})
    assert resp.status == 404 and "no dead letter &#x27;3:999&#x27;" in await resp.text()


def test_the_page_data_refuses_a_malformed_dead_letter_ref_as_bad_input():
    import asyncio

    from app.operator_page.model import KafkaOperatorData

    with pytest.raises(OperatorError, match="is not <partition>:<offset>") as exc:
        asyncio.run(KafkaOperatorData(Settings()).redrive_dead_letter("garbage"))
    assert exc.value.code == 2


class PeerTransport:
    """Just enough transport for ``request.remote``."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default=None):
        return (self.peer, 50000) if name == "peername" else default


def test_without_a_token_only_loopback_clients_may_view():
    guard = OperatorGuard(None)
    def request(peer: str):
        return make_mocked_request("GET", "/operator", transport=PeerTransport(peer))
    assert guard.may_view(request("127.0.0.1")) is None and guard.may_view(request("::1")) is None
    assert "localhost only" in guard.may_view(request("10.1.2.3"))
    assert OperatorGuard(SecretStr(TOKEN)).may_view(request("10.1.2.3")) == "sign in"


def test_long_lists_say_how_many_are_shown():
    page = render_page(snapshot(conflicts_total=250, dead_letters_total=1), form_token=None)
    assert "Conflicts (newest 1 of 250)" in page and "<h2>Dead letters</h2>" in page
