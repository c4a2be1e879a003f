"""The Service Layer client: sessions, SAP's error shape, paging, ETags, no blind POST repeats."""
from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from connectors.base.errors import FatalError, Fault, RetryableError
from connectors.base.limiter import RateLimit, TokenBucket
from connectors.base.retry import RetryPolicy
from connectors.sap_b1.client import SapB1Client
from connectors.sap_b1.errors import EtagConflict, LoginRejected, NotFound, Rejected
from connectors.sap_b1.sandbox import SapSandbox
from tests.connectors.sap_b1.support import make_client


def api_calls(sandbox: SapSandbox, start: int = 0) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in sandbox.requests[start:]]


async def test_login_sends_credentials_and_every_call_carries_both_cookies() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/Login"):
            return httpx.Response(200, json={"SessionId": "abc", "SessionTimeout": 30},
                                  headers=[("Set-Cookie", "B1SESSION=abc; path=/b1s"),
                                           ("Set-Cookie", "ROUTEID=.node7; path=/b1s")])
        return httpx.Response(200, json={"value": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        sap = SapB1Client(http, base_url="https://sap.example:50000/b1s/v1/",
                          company_db="SBODEMOES", username="manager", password="s3cret-pass",
                          page_size=50, limiter=TokenBucket(RateLimit(rate=1000, burst=100)))
        assert [r async for r in sap.list("Items", filter="ItemCode eq 'A'")] == []
    login, listing = seen
    assert json.loads(login.content) == {"CompanyDB": "SBODEMOES", "UserName": "manager",
                                         "Password": "s3cret-pass"}
    assert str(listing.url).startswith("https://sap.example:50000/b1s/v1/Items?")
    assert listing.headers["Cookie"] == "B1SESSION=abc; ROUTEID=.node7"
    assert listing.headers["Prefer"] == "odata.maxpagesize=50"
    assert listing.url.params["$filter"] == "ItemCode eq 'A'"


async def test_two_clients_on_one_httpx_client_keep_their_own_sessions(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    first, second = make_client(sandbox, http), make_client(sandbox, http)
    await first.get("Items", "A0001")
    await second.get("Items", "A0001")
    await first.logout()  # ends only the first session
    assert len(sandbox.sessions) == 1
    await second.get("Items", "A0002")
    assert second.logins == 1


async def test_sap_error_shape_becomes_taxonomy_errors_with_the_sap_code(
        sap: SapB1Client) -> None:
    with pytest.raises(NotFound) as missing:
        await sap.get("Invoices", 999)
    assert missing.value.code == "-2028" and "No matching records" in str(missing.value)
    with pytest.raises(Rejected) as bad:
        await sap.create("BusinessPartners", {"CardCode": "C0001", "CardName": "Dup"})
    assert bad.value.code == "-2035" and bad.value.fault is Fault.DATA
    with pytest.raises(Rejected, match="Property 'Nope' is invalid"):
        await sap.call("GET", "Items", params={"$filter": "Nope eq 1"})


async def test_wrong_password_is_a_config_failure_without_retries(
        sandbox: SapSandbox, http: httpx.AsyncClient) -> None:
    sap = make_client(sandbox, http, password="wrong-password")
    with pytest.raises(LoginRejected) as caught:
        await sap.get("Items", "A0001")
    assert caught.value.fault is Fault.CONFIG
    assert "wrong-password" not in str(caught.value)
    assert api_calls(sandbox) == [("POST", "Login", 401)]


async def test_expired_session_logs_in_again_once(sandbox: SapSandbox, sap: SapB1Client) -> None:
    await sap.get("Items", "A0001")
    sandbox.expire_sessions()
    item = await sap.get("Items", "A0001")
    assert item["ItemName"].startswith("Tornillo")
    assert [c[1] for c in api_calls(sandbox)] == ["Login", "Items('A0001')", "Items('A0001')",
                                                  "Login", "Items('A0001')"]
    assert sap.logins == 2


async def test_a_session_rejected_right_after_login_fails_clearly(
        sandbox: SapSandbox, sap: SapB1Client) -> None:
    await sap.get("Items", "A0001")
    sandbox.faults.expire_next = 5  # every session dies on first use
    with pytest.raises(FatalError) as caught:
        await sap.get("Items", "A0001")
    assert caught.value.fault is Fault.CONFIG
    assert sap.logins == 2


async def test_next_link_paging_honours_the_page_size(sandbox: SapSandbox,
                                                      http: httpx.AsyncClient) -> None:
    sap = make_client(sandbox, http, page_size=2)
    start = len(sandbox.requests)
    codes = [bp["CardCode"] async for bp in sap.list("BusinessPartners", select=("CardCode",),
                                                     orderby="CardCode desc")]
    assert codes == ["P0001", "C0003", "C0002", "C0001"]
    pages = sandbox.requests[start + 1:]
    assert [r.query.count("$skip=") for r in pages] == [0, 1]


async def test_patch_with_a_stale_etag_is_refused_and_changes_nothing(
        sandbox: SapSandbox, sap: SapB1Client) -> None:
    bp = await sap.get("BusinessPartners", "C0002")
    assert bp["odata.etag"] == 'W/"1"'
    await sandbox.patch("BusinessPartners", "C0002", {"Phone1": "+34 910 000 000"})
    with pytest.raises(EtagConflict) as caught:
        await sap.update("BusinessPartners", "C0002", {"FederalTaxID": "B00000000"},
                         etag=bp["odata.etag"])
    assert caught.value.code == "-2039"
    assert (await sandbox.get("BusinessPartners", "C0002"))["FederalTaxID"] == "B87654323"
    fresh = await sap.get("BusinessPartners", "C0002")
    await sap.update("BusinessPartners", "C0002", {"FederalTaxID": "B00000000"},
                     etag=fresh["odata.etag"])
    assert (await sandbox.get("BusinessPartners", "C0002"))["DataVersion"] == 3
    with pytest.raises(ValueError):
        await sap.update("BusinessPartners", "C0002", {"Phone1": "1"}, etag="")


async def test_a_post_whose_answer_is_lost_is_not_sent_again(
        sandbox: SapSandbox, sap: SapB1Client) -> None:
    await sap.get("Invoices", 1)
    sandbox.faults.lose_next_writes = 1
    body = {"CardCode": "C0001", "TransferSum": Decimal("10.00"), "TransferAccount": "57200000",
            "Remarks": "payment/holded/x1",
            "PaymentInvoices": [{"DocEntry": 1, "SumApplied": Decimal("10.00")}]}
    with pytest.raises(RetryableError):
        await sap.create("IncomingPayments", body)
    posts = [r for r in sandbox.requests if r.method == "POST" and not r.auth]
    assert [r.outcome for r in posts] == ["dropped"]
    assert len(await sandbox.find("IncomingPayments", Remarks="payment/holded/x1")) == 1


async def test_5xx_is_retried_on_reads_but_not_on_creates(sandbox: SapSandbox,
                                                          sap: SapB1Client) -> None:
    await sap.get("Items", "A0001")
    sandbox.faults.error_next = 1
    assert (await sap.get("Items", "A0002"))["ItemCode"] == "A0002"
    sandbox.faults.error_next = 1
    with pytest.raises(RetryableError):
        await sap.create("BusinessPartners", {"CardCode": "C0100", "CardName": "Nuevo"})
    assert await sandbox.find("BusinessPartners", CardCode="C0100") == []


async def test_decimals_travel_exactly(sandbox: SapSandbox, sap: SapB1Client) -> None:
    invoice = await sap.get("Invoices", 1)
    assert invoice["DocTotal"] == Decimal("711.59") and isinstance(invoice["VatSum"], Decimal)


async def test_highest_doc_entry(sap: SapB1Client) -> None:
    assert await sap.highest("Invoices") == 3
    assert await sap.highest("IncomingPayments") == 1


def test_constructor_refuses_missing_credentials() -> None:
    http = httpx.AsyncClient()
    with pytest.raises(ValueError):
        SapB1Client(http, base_url="http://x/b1s/v1", company_db="", username="u",
                    password="p", retry=RetryPolicy())


async def test_concurrent_calls_on_an_expired_session_log_in_again_once(
        sandbox: SapSandbox, sap: SapB1Client) -> None:
    import asyncio

    await sap.get("Items", "A0001")
    sandbox.expire_sessions()
    items = await asyncio.gather(*(sap.get("Items", code) for code in ("A0001", "A0002", "S0001")))
    assert [i["ItemCode"] for i in items] == ["A0001", "A0002", "S0001"]
    assert sap.logins == 2
    assert len(sandbox.sessions) == 1


async def test_v4_next_link_spelling_is_followed() -> None:
    pages = {"": {"value": [{"id": 1}], "@odata.nextLink": "/b1s/v2/Items?$skip=1"},
             "$skip=1": {"value": [{"id": 2}]}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Login"):
            return httpx.Response(200, json={}, headers={"Set-Cookie": "B1SESSION=s"})
        return httpx.Response(200, json=pages[request.url.query.decode().replace("%24", "$")])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        sap = SapB1Client(http, base_url="https://sap/b1s/v2", company_db="C", username="u",
                          password="pass", limiter=TokenBucket(RateLimit(rate=1000, burst=100)))
        assert [r["id"] async for r in sap.iterate("Items")] == [1, 2]
