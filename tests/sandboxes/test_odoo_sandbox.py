"""The Odoo sandbox's contract over plain HTTP: auth, domains, faults, accounting."""
from __future__ import annotations

import asyncio
import xmlrpc.client
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from connectors.odoo.sandbox import OdooSandbox, start_odoo_sandbox
from connectors.odoo.sandbox_cli import sandbox_odoo_command
from tests.sandboxes.conftest import eventually


@pytest.fixture
async def sb() -> AsyncIterator[OdooSandbox]:
    server = await start_odoo_sandbox(port=0)
    yield server
    await server.stop()


@pytest.fixture
async def http(sb: OdooSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sb.url) as client:
        yield client


async def rpc(http: httpx.AsyncClient, service: str, method: str, *args: Any) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": service, "method": method, "args": list(args)}}
    response = await http.post("/jsonrpc", json=body)
    assert response.status_code == 200
    return response.json()


async def ex(http: httpx.AsyncClient, model: str, method: str, args: list[Any],
             kwargs: dict[str, Any] | None = None, key: str = "sandbox-key", uid: int = 2) -> Any:
    return await rpc(http, "object", "execute_kw", "sandbox", uid, key, model, method, args, kwargs or {})


async def test_authenticate_and_wrong_key(http: httpx.AsyncClient) -> None:
    assert (await rpc(http, "common", "authenticate", "sandbox", "admin", "sandbox-key", {}))["result"] == 2
    assert (await rpc(http, "common", "authenticate", "sandbox", "admin", "nope", {}))["result"] is False
    denied = await ex(http, "res.partner", "search", [[]], key="nope")
    assert denied["error"]["code"] == 200
    assert denied["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"


async def test_domains_order_offset_limit(http: httpx.AsyncClient) -> None:
    taxes = (await ex(http, "account.tax", "search_read", [["|", ("amount", "<", 0), "!", ("amount", ">=", 5)]],
                      {"fields": ["amount"], "order": "amount asc, id desc", "offset": 1, "limit": 3}))["result"]
    assert [t["amount"] for t in taxes] == [-15.0, -15.0, -7.0]
    assert [t["id"] for t in taxes[:2]] == [22, 13]
    ilike = (await ex(http, "res.partner", "search", [[("name", "ilike", "levante"), ("bank_ids", "!=", False)]]))
    assert ilike["result"] == [1]
    dotted = await ex(http, "account.move", "search", [[("partner_id.vat", "=", "ES12345678Z")]])
    assert dotted["result"] == [2]
    bad = await ex(http, "res.partner", "search", [[("nope", "=", 1)]])
    assert "Invalid field" in bad["error"]["data"]["message"]


async def test_xmlrpc_faults_use_odoo_codes(http: httpx.AsyncClient) -> None:
    async def call(*params: Any) -> Any:
        response = await http.post("/xmlrpc/2/object", content=xmlrpc.client.dumps(params, "execute_kw"))
        return xmlrpc.client.loads(response.content)[0][0]

    assert await call("sandbox", 2, "sandbox-key", "res.partner", "search_count", [[]]) == 2
    with pytest.raises(xmlrpc.client.Fault) as denied:
        await call("sandbox", 2, "bad", "res.partner", "search_count", [[]])
    assert denied.value.faultCode == 3
    with pytest.raises(xmlrpc.client.Fault) as access:
        await call("sandbox", 6, "reader-key", "res.partner", "write", [[1], {"name": "X"}])
    assert access.value.faultCode == 4
    with pytest.raises(xmlrpc.client.Fault) as missing:
        await call("sandbox", 2, "sandbox-key", "res.partner", "read", [[999]], {"fields": ["name"]})
    assert missing.value.faultCode == 2 and "does not exist" in missing.value.faultString


async def test_json2_statuses(http: httpx.AsyncClient) -> None:
    ok = await http.post("/json/2/res.partner/search_read", json={"domain": [], "fields": ["name"]},
                         headers={"Authorization": "bearer sandbox-key"})
    assert ok.status_code == 200 and len(ok.json()) == 2
    no_key = await http.post("/json/2/res.partner/search_read", json={})
    assert no_key.status_code == 401 and no_key.json()["name"] == "odoo.exceptions.AccessDenied"
    invalid = await http.post("/json/2/account.move/create", json={"vals_list": [{"move_type": "bogus"}]},
                              headers={"Authorization": "bearer sandbox-key"})
    assert invalid.status_code == 422 and invalid.json()["name"] == "odoo.exceptions.ValidationError"


# Odoo 17's odoo/http.py: Request._set_request_dispatcher refuses a type='json' route a body
# not sent as application/json(-rpc) (BadRequest); JsonRPCDispatcher.dispatch reads the body as
# UTF-8 with bad bytes replaced (werkzeug get_data(as_text=True)) and aborts with a plain 400
# "Invalid JSON data" / "Invalid JSON-RPC data" before any JSON-RPC envelope is built.
@pytest.mark.parametrize(("body", "text"), [
    (b"{", "Invalid JSON data"), (b"", "Invalid JSON data"),
    (b'{"params": {}', "Invalid JSON data"), (b"[]", "Invalid JSON-RPC data"),
    (b"null", "Invalid JSON-RPC data"), (b'"s"', "Invalid JSON-RPC data"),
    (b"1", "Invalid JSON-RPC data"), (b'"\xff"', "Invalid JSON-RPC data")])
async def test_jsonrpc_that_is_no_json_or_no_object_is_a_plain_400(
        http: httpx.AsyncClient, body: bytes, text: str) -> None:
    response = await http.post("/jsonrpc", content=body,
                               headers={"Content-Type": "application/json"})
    assert (response.status_code, response.text) == (400, text)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_jsonrpc_not_sent_as_json_is_a_400(http: httpx.AsyncClient,
                                                 content_type: str) -> None:
    body = b'{"jsonrpc": "2.0", "params": {"service": "common", "method": "version"}}'
    response = await http.post("/jsonrpc", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    ok = await http.post("/jsonrpc", content=body,
                         headers={"Content-Type": "application/json-rpc"})
    assert ok.json()["result"]["server_version"] == "17.0"


@pytest.mark.parametrize(("body", "name"), [
    (b'{"id": 7, "params": 5}', "builtins.TypeError"),
    (b'{"id": 7, "params": null}', "builtins.TypeError"),
    (b'{"id": 7, "params": "x"}', "builtins.ValueError"),
    (b"[" * 100_000 + b"]" * 100_000, "builtins.RecursionError")])
async def test_jsonrpc_params_dict_refuses_or_nesting_too_deep_are_server_errors(
        http: httpx.AsyncClient, body: bytes, name: str) -> None:
    """Raised past the JSON reader, they reach JsonRPCDispatcher.handle_error: HTTP 200."""
    response = await http.post("/jsonrpc", content=body,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    error = response.json()["error"]
    assert (error["code"], error["message"], error["data"]["name"]) == (
        200, "Odoo Server Error", name)


async def test_jsonrpc_bytes_not_utf8_are_replaced_as_werkzeug_does(
        http: httpx.AsyncClient) -> None:
    body = (b'{"id": 1, "params": {"service": "common", "method": "authenticate", '
            b'"args": ["sandbox", "admin\xff", "sandbox-key", {}]}}')
    response = await http.post("/jsonrpc", content=body,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["result"] is False


@pytest.mark.parametrize("body", [b'"\xff"', b"[" * 100_000 + b"]" * 100_000])
async def test_json2_bodies_not_utf8_or_nested_too_deep_are_faults(http: httpx.AsyncClient,
                                                                   body: bytes) -> None:
    headers = {"Content-Type": "application/json", "Authorization": "bearer sandbox-key"}
    response = await http.post("/json/2/res.partner/search", content=body, headers=headers)
    assert response.status_code == 500 and response.json()["name"] == "builtins.ValueError"


@pytest.mark.parametrize(("service", "method", "args"), [
    ("common", "login", ["sandbox", "admin"]), ("common", "authenticate", []),
    ("object", "execute_kw", 5),
    ("object", "execute", ["sandbox", 2, "sandbox-key", "res.partner", None]),
    ("object", "execute_kw", ["sandbox", 2, "sandbox-key", "res.partner", ["search"], [[]]]),
    ("object", "execute", ["sandbox", 2, "sandbox-key", ["res.partner"], "search"]),
    ("object", "execute_kw", ["sandbox", 2, "sandbox-key", {}, "search", [[]]]),
])
async def test_rpc_arguments_of_the_wrong_shape_are_faults(
        http: httpx.AsyncClient, service: str, method: str, args: Any) -> None:
    body = {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": service, "method": method, "args": args}}
    response = await http.post("/jsonrpc", json=body)
    assert response.status_code == 200
    assert response.json()["error"]["data"]["name"] == "builtins.ValueError"


@pytest.mark.parametrize(("model", "method", "args", "kwargs"), [
    ("res.partner", "read", [[[1]]], {}), ("res.partner", "read", [[{"id": 1}]], {}),
    ("res.partner", "read", [[2**63]], {}), ("res.partner", "search", [[]], {"order": 5}),
    ("account.move", "create", ["abc"], {}), ("account.move", "action_post", [[[1]]], {}),
    ("account.move", "create", [[{"move_type": "out_invoice", "partner_id": 1, "invoice_line_ids": [
        [0, 0, {"name": "x", "tax_ids": [[6]]}]]}]], {}),
    ("res.partner", "write", [[1], {"child_ids": [[0, 0]]}], {}),
    ("res.partner", "create", [[{"name": "X"}, {"name": "Y", "country_id": 2**63}]], {}),
    ("account.payment.register", "create", [[{}]],
     {"context": {"active_model": "account.move", "active_ids": [[1]]}}),
])
async def test_arguments_a_method_cannot_take_are_faults_named_after_the_exception(
        sb: OdooSandbox, http: httpx.AsyncClient, model: str, method: str, args: list[Any],
        kwargs: dict[str, Any]) -> None:
    """Odoo reports any exception of a method as a fault with its class; here they crashed."""
    before = await sb.count(model)
    error = (await ex(http, model, method, args, kwargs))["error"]
    assert error["code"] == 200 and error["data"]["name"].startswith("builtins.")
    assert await sb.count(model) == before  # rolled back


async def test_posted_invoice_is_locked_and_payment_register_reconciles(sb: OdooSandbox) -> None:
    from connectors.odoo.sandbox_domain import UserError

    with pytest.raises(UserError):
        await sb.call("account.move", "write", [1], {"partner_id": 2})
    [before] = await sb.search_read("account.move", [("id", "=", 1)], ["amount_residual", "payment_state"])
    assert before == {"id": 1, "amount_residual": 566.54, "payment_state": "not_paid"}
    credit = (await sb.search_read("res.partner", [("id", "=", 1)], ["credit"]))[0]["credit"]
    wizard = await sb.call("account.payment.register", "create", [{"amount": 66.54, "communication": "r1"}],
                           context={"active_model": "account.move", "active_ids": [1]})
    action = await sb.call("account.payment.register", "action_create_payments", wizard)
    [move] = await sb.search_read("account.move", [("id", "=", 1)], ["amount_residual", "payment_state"])
    assert move["amount_residual"] == 500.0 and move["payment_state"] == "partial"
    [payment] = await sb.search_read("account.payment", [("id", "=", action["res_id"])],
                                     ["state", "ref", "reconciled_invoice_ids", "amount"])
    assert payment["state"] == "posted" and payment["ref"] == "r1" and payment["reconciled_invoice_ids"] == [1]
    assert (await sb.search_read("res.partner", [("id", "=", 1)], ["credit"]))[0]["credit"] == pytest.approx(credit - 66.54)
    wizard = await sb.call("account.payment.register", "create", [{}],
                           context={"active_model": "account.move", "active_ids": [1]})
    await sb.call("account.payment.register", "action_create_payments", wizard)
    [move] = await sb.search_read("account.move", [("id", "=", 1)], ["amount_residual", "payment_state"])
    assert move == {"id": 1, "amount_residual": 0.0, "payment_state": "paid"}
    with pytest.raises(UserError):
        await sb.call("account.payment.register", "create", [{}],
                      context={"active_model": "account.move", "active_ids": [1]})


async def test_lost_response_commits_and_429_carries_retry_after(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sb.faults.lose_next_writes = 1
    with pytest.raises(httpx.HTTPError):
        await ex(http, "res.partner", "create", [[{"name": "Lost SL"}]])
    assert await sb.count("res.partner", [("name", "=", "Lost SL")]) == 1
    assert sb.requests[-1].outcome == "dropped"
    sb.faults.throttle_next, sb.faults.retry_after = 1, 3
    response = await http.post("/jsonrpc", json={})
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


async def test_a_closed_write_gate_holds_writes_until_opened(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    sb.faults.writes.close()
    write = asyncio.ensure_future(ex(http, "res.partner", "create", [[{"name": "Gated SL"}]]))

    async def held() -> bool:
        return sb.faults.writes.held == 1
    await eventually(held)
    assert await sb.count("res.partner", [("name", "=", "Gated SL")]) == 0
    sb.faults.writes.open()
    await write
    assert await sb.count("res.partner", [("name", "=", "Gated SL")]) == 1


def test_cli_help() -> None:
    result = CliRunner().invoke(sandbox_odoo_command, ["--help"])
    assert result.exit_code == 0 and "--port" in result.output


async def test_bank_accounts_are_polled_by_write_date_and_archiving_hides_them(
        sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    """What the Odoo source's bank walk asks for, over JSON-RPC, as Odoo answers it."""
    [bank] = (await ex(http, "res.partner.bank", "search", [[("partner_id", "=", 1)]]))["result"]
    [row] = (await ex(http, "res.partner.bank", "read", [[bank]],
                      {"fields": ["write_date", "active"]}))["result"]
    since = [("write_date", ">=", row["write_date"])]
    await sb.call("res.partner.bank", "write", [bank], {"active": False})
    # An archived account is left out of a search, and of its holder's bank_ids...
    assert (await ex(http, "res.partner.bank", "search", [since]))["result"] == []
    [partner] = (await ex(http, "res.partner", "read", [[1]], {"fields": ["bank_ids"]}))["result"]
    assert partner["bank_ids"] == []
    # ...but found with active_test False, with a write_date moved by the archiving.
    found = (await ex(http, "res.partner.bank", "search_read", [since], {
        "fields": ["partner_id", "acc_number", "write_date"], "order": "write_date asc, id asc",
        "context": {"active_test": False}}))["result"]
    assert [(r["id"], r["partner_id"][0]) for r in found] == [(bank, 1)]
    assert found[0]["write_date"] >= row["write_date"]
    # A field the model does not have is refused, as Odoo does.
    bad = await ex(http, "res.partner.bank", "search_read", [[]], {"fields": ["iban"]})
    assert "iban" in bad["error"]["data"]["message"]


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"limit": -1}, "builtins.ValueError"), ({"offset": -1}, "builtins.ValueError"),
    ({"limit": True}, "builtins.ValueError"), ({"offset": True}, "builtins.ValueError")])
async def test_a_negative_or_boolean_limit_or_offset_is_a_fault(
        http: httpx.AsyncClient, kwargs: dict[str, Any], name: str) -> None:
    """Odoo 17 passes them to PostgreSQL as LIMIT / OFFSET parameters (tools/query.py), which
    refuses a value below 0 and a boolean; the store's errors read as builtins.ValueError."""
    for method, args in (("search", [[]]), ("search_read", [[]])):
        error = (await ex(http, "res.partner", method, args, kwargs))["error"]
        assert error["data"]["name"] == name, method
    for nothing in ({"limit": 0}, {"limit": False, "offset": False}, {"limit": None}):
        assert len((await ex(http, "res.partner", "search", [[]], nothing))["result"]) == 2


@pytest.mark.parametrize("value", [20261102, "20261102", "2026-W45-1", "2026-11-32", "ayer"])
async def test_a_date_odoo_cannot_read_is_a_fault(sb: OdooSandbox, http: httpx.AsyncClient,
                                                  value: Any) -> None:
    """fields.Date.to_date: text cut to 10 characters and read with strptime('%Y-%m-%d')."""
    before = await sb.count("account.payment")
    error = (await ex(http, "account.payment", "create", [{
        "payment_type": "inbound", "partner_type": "customer", "partner_id": 1,
        "amount": 10.0, "date": value}]))["error"]
    assert error["data"]["name"] in ("builtins.ValueError", "builtins.TypeError")
    assert await sb.count("account.payment") == before


@pytest.mark.parametrize(("value", "stored"), [("2026-11-02", "2026-11-02"),
                                               ("2026-1-2", "2026-01-02"),
                                               ("2026-11-02 10:30:00", "2026-11-02")])
async def test_a_date_is_read_as_odoo_reads_it(sb: OdooSandbox, http: httpx.AsyncClient,
                                               value: str, stored: str) -> None:
    created = (await ex(http, "account.payment", "create", [{
        "payment_type": "inbound", "partner_type": "customer", "partner_id": 1,
        "amount": 10.0, "date": value}]))["result"]
    rows = await sb.search_read("account.payment", [("id", "=", created)], ["date"])
    assert rows[0]["date"] == stored


@pytest.mark.parametrize("order", ["name asc desc", "name,", ", name", "name,,id", "name asc x",
                                   "name nulls", "name asc nulls  first"])
async def test_an_order_odoo_does_not_match_is_a_fault(http: httpx.AsyncClient,
                                                       order: str) -> None:
    """BaseModel._check_qorder: each term is a field, then asc/desc, then 'nulls first' or
    'nulls last', separated by commas, no empty term (regex_order)."""
    error = (await ex(http, "res.partner", "search", [[]], {"order": order}))["error"]
    assert 'Invalid "order"' in error["data"]["message"]


async def test_an_order_may_say_where_nulls_go(sb: OdooSandbox, http: httpx.AsyncClient) -> None:
    await sb.call("res.partner", "write", [1], {"ref": "B"})
    first = (await ex(http, "res.partner", "search", [[]],
                      {"order": "ref desc nulls first, id"}))["result"]
    last = (await ex(http, "res.partner", "search", [[]],
                     {"order": " ref ASC NULLS LAST , id asc"}))["result"]
    assert first == [2, 1] and last == [1, 2]
    quoted = (await ex(http, "res.partner", "search", [[]], {"order": '"id" desc'}))["result"]
    assert quoted == [2, 1]
