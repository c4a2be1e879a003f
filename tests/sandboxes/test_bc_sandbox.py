"""The Business Central sandbox's contract, with plain httpx (no connector code in the way)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.business_central.sandbox import BCSandbox, start_bc_sandbox

SCOPE = "https://api.businesscentral.dynamics.com/.default"


@pytest.fixture
async def bc_sandbox() -> AsyncIterator[BCSandbox]:
    server = await start_bc_sandbox(port=0, page_size=2)
    yield server
    await server.stop()


async def token(http: httpx.AsyncClient, server: BCSandbox, secret: str | None = None,
                scope: str = SCOPE) -> httpx.Response:
    return await http.post(server.token_url, data={
        "grant_type": "client_credentials", "client_id": server.client_id,
        "client_secret": secret or server.client_secret, "scope": scope})


@pytest.fixture
async def api(bc_sandbox: BCSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as raw:
        access = (await token(raw, bc_sandbox)).json()["access_token"]
    async with httpx.AsyncClient(base_url=bc_sandbox.company_url + "/", timeout=10,
                                 headers={"Authorization": f"Bearer {access}"}) as client:
        yield client


def odata_error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"]


async def test_token_endpoint_speaks_entra_id(bc_sandbox: BCSandbox) -> None:
    async with httpx.AsyncClient() as http:
        ok = await token(http, bc_sandbox)
        assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer"
        assert ok.json()["expires_in"] == 3599
        wrong = await token(http, bc_sandbox, secret="nope")
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        assert wrong.json()["error_codes"] == [7000215]
        assert "AADSTS7000215" in wrong.json()["error_description"]
        bad_scope = await token(http, bc_sandbox, scope="https://graph.microsoft.com/.default")
        assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
        no_token = await http.get(bc_sandbox.company_url + "/customers")
        assert odata_error(no_token) == (401, "Authentication_InvalidCredentials")


async def test_server_driven_paging_with_next_link(api: httpx.AsyncClient) -> None:
    first = (await api.get("customers", params={"$filter": "blocked eq ' '"})).json()
    assert len(first["value"]) == 2 and "@odata.nextLink" in first
    assert "%24filter" in first["@odata.nextLink"] or "$filter" in first["@odata.nextLink"]
    second = (await api.get(first["@odata.nextLink"])).json()
    assert len(second["value"]) == 1 and "@odata.nextLink" not in second
    preferred = await api.get("items", headers={"Prefer": "odata.maxpagesize=1"})
    assert len(preferred.json()["value"]) == 1
    assert preferred.headers["Preference-Applied"] == "odata.maxpagesize=1"
    top = (await api.get("items", params={"$top": 3})).json()
    assert len(top["value"]) == 2 and "@odata.nextLink" in top
    rest = (await api.get(top["@odata.nextLink"])).json()
    assert len(rest["value"]) == 1 and "@odata.nextLink" not in rest


async def test_filters_are_typed_strictly(api: httpx.AsyncClient) -> None:
    since = await api.get("customers", params={
        "$filter": "lastModifiedDateTime gt 2000-01-01T00:00:00Z", "$top": 1})
    assert since.status_code == 200 and len(since.json()["value"]) == 1
    quoted = await api.get("customers", params={
        "$filter": "lastModifiedDateTime gt '2000-01-01T00:00:00Z'"})
    assert odata_error(quoted) == (400, "BadRequest")
    assert "incompatible types" in quoted.json()["error"]["message"]
    unknown = await api.get("customers", params={"$filter": "vatNumber eq 'x'"})
    assert odata_error(unknown)[0] == 400
    assert odata_error(await api.get("customers", params={"$search": "x"}))[0] == 400
    future = await api.get("customers", params={
        "$filter": "lastModifiedDateTime gt 2999-01-01T00:00:00Z or number eq 'C00002'"})
    assert [c["number"] for c in future.json()["value"]] == ["C00002"]


async def test_writes_refuse_unknown_and_read_only_properties(api: httpx.AsyncClient) -> None:
    unknown = await api.post("customers", json={"displayName": "X", "iban": "ES00"})
    assert odata_error(unknown) == (400, "BadRequest")
    read_only = await api.post("customers", json={"displayName": "X", "lastModifiedDateTime": "x"})
    assert odata_error(read_only) == (400, "BadRequest_PropertyReadOnly")
    too_long = await api.post("customers", json={"taxRegistrationNumber": "B" * 21})
    assert odata_error(too_long)[0] == 400
    created = await api.post("customers", json={"displayName": "Nuevo S.L.", "number": "c77"})
    assert created.status_code == 201 and created.json()["number"] == "C77"  # Code fields
    assert created.headers["Location"].endswith(f"customers({created.json()['id']})")


async def test_if_match_is_required_and_stale_etags_get_412(api: httpx.AsyncClient) -> None:
    customer = (await api.get("customers", params={"$top": 1})).json()["value"][0]
    path = f"customers({customer['id']})"
    missing = await api.patch(path, json={"email": "a@b.es"})
    assert odata_error(missing)[0] == 400
    ok = await api.patch(path, json={"email": "a@b.es"}, headers={"If-Match": customer["@odata.etag"]})
    assert ok.status_code == 200 and ok.json()["@odata.etag"] != customer["@odata.etag"]
    assert ok.json()["lastModifiedDateTime"] >= customer["lastModifiedDateTime"]
    stale = await api.patch(path, json={"email": "c@d.es"},
                            headers={"If-Match": customer["@odata.etag"]})
    assert odata_error(stale) == (412, "Request_EntityChanged")
    assert (await api.get(path)).json()["email"] == "a@b.es"


async def test_invoice_lines_totals_and_posting(api: httpx.AsyncClient) -> None:
    customer = (await api.get("customers", params={"$top": 1})).json()["value"][0]
    item = (await api.get("items", params={"$filter": "number eq 'ART-001'"})).json()["value"][0]
    invoice = (await api.post("salesInvoices", json={"customerId": customer["id"]})).json()
    assert invoice["status"] == "Draft"
    lines = f"salesInvoices({invoice['id']})/salesInvoiceLines"
    for quantity in (1, 2):
        line = await api.post(lines, json={"itemId": item["id"], "quantity": quantity,
                                           "unitPrice": 0.05})
        assert line.status_code == 201, line.text
    read = (await api.get(f"salesInvoices({invoice['id']})",
                          params={"$expand": "salesInvoiceLines"})).json()
    assert [line["sequence"] for line in read["salesInvoiceLines"]] == [10000, 20000]
    # Tax rounded once per document: 0.15 * 21% = 0.0315 -> 0.03 (per line: 0.01 + 0.02)
    assert read["totalAmountExcludingTax"] == 0.15 and read["totalTaxAmount"] == 0.03
    posted = await api.post(f"salesInvoices({invoice['id']})/Microsoft.NAV.post")
    assert posted.status_code == 204
    after = (await api.get(f"salesInvoices({invoice['id']})")).json()
    assert after["status"] == "Open" and after["remainingAmount"] == 0.18
    assert after["number"].startswith("V-FAC")
    changed = await api.post(lines, json={"itemId": item["id"], "quantity": 1})
    assert odata_error(changed)[0] == 400


async def test_payment_journal_posting_pays_the_invoice(api: httpx.AsyncClient) -> None:
    invoice = (await api.get("salesInvoices", params={"$filter": "number eq 'V-FAC00001'"})
               ).json()["value"][0]
    journal = (await api.get("customerPaymentJournals")).json()["value"][0]
    payments = f"customerPaymentJournals({journal['id']})/customerPayments"
    details = f"customers({invoice['customerId']})/customerFinancialDetails"
    balance = (await api.get(details)).json()["balance"]
    negative = await api.post(payments, json={"customerId": invoice["customerId"], "amount": -5})
    assert odata_error(negative)[0] == 400
    other = (await api.get("customers", params={"$filter": "number eq 'C00002'"})).json()["value"][0]
    wrong = await api.post(payments, json={"customerId": other["id"], "amount": 5,
                                           "appliesToInvoiceId": invoice["id"]})
    assert odata_error(wrong)[0] == 400
    draft = (await api.get("salesInvoices", params={"$filter": "status eq 'Draft'"})
             ).json()["value"][0]
    unposted = await api.post(payments, json={"customerId": draft["customerId"], "amount": 5,
                                              "appliesToInvoiceId": draft["id"]})
    assert odata_error(unposted)[0] == 400
    assert "open posted invoice" in unposted.json()["error"]["message"]
    line = await api.post(payments, json={"customerId": invoice["customerId"], "amount": 95.6,
                                          "appliesToInvoiceId": invoice["id"],
                                          "documentNumber": "cobro-1"})
    assert line.status_code == 201 and line.json()["lineNumber"] == 10000
    assert line.json()["documentNumber"] == "COBRO-1"
    assert (await api.post(f"customerPaymentJournals({journal['id']})/Microsoft.NAV.post")
            ).status_code == 204
    after = (await api.get(f"salesInvoices({invoice['id']})")).json()
    assert after["remainingAmount"] == 200 and after["status"] == "Open"
    assert (await api.get(details)).json()["balance"] == round(balance - 95.6, 2)
    assert (await api.get(payments)).json()["value"] == []
    entries = (await api.get("generalLedgerEntries",
                             params={"$filter": "documentNumber eq 'COBRO-1'"})).json()["value"]
    assert sorted((e["debitAmount"], e["creditAmount"]) for e in entries) == [(0, 95.6), (95.6, 0)]
    empty = await api.post(f"customerPaymentJournals({journal['id']})/Microsoft.NAV.post")
    assert odata_error(empty) == (400, "Internal_NothingToPost")


async def test_faults_storm_error_and_lost_response(bc_sandbox: BCSandbox,
                                                    api: httpx.AsyncClient) -> None:
    bc_sandbox.faults.storm_next, bc_sandbox.faults.storm_retry_after = 1, 3
    storm = await api.get("items")
    assert odata_error(storm) == (429, "Application_TooManyRequests")
    assert storm.headers["Retry-After"] == "3"
    bc_sandbox.faults.error_next = 1
    assert (await api.post("customers", json={"displayName": "Nunca"})).status_code == 503
    assert await bc_sandbox.all("customers", displayName="Nunca") == []  # a 5xx commits nothing
    bc_sandbox.faults.lose_next_writes = 1
    with pytest.raises(httpx.HTTPError):
        await api.post("customers", json={"displayName": "Perdido"})
    assert len(await bc_sandbox.all("customers", displayName="Perdido")) == 1  # committed
    assert bc_sandbox.requests[-1].outcome == "dropped"
    bc_sandbox.revoke_tokens()
    assert (await api.get("items")).status_code == 401


async def test_latency_is_applied(bc_sandbox: BCSandbox, api: httpx.AsyncClient) -> None:
    import time
    bc_sandbox.faults.latency_ms = 150
    start = time.monotonic()
    await api.get("items", params={"$top": 1})
    assert time.monotonic() - start >= 0.15


async def test_subscription_validation_fails_without_an_echo(bc_sandbox: BCSandbox) -> None:
    async with httpx.AsyncClient() as http:
        access = (await token(http, bc_sandbox)).json()["access_token"]
        response = await http.post(f"{bc_sandbox.api_root}/subscriptions", headers={
            "Authorization": f"Bearer {access}"}, json={
            "notificationUrl": "http://127.0.0.1:9/nowhere",  # nothing listens: no echo
            "resource": f"/api/v2.0/companies({bc_sandbox.company_id})/customers",
            "clientState": "s"})
        assert odata_error(response) == (400, "BadRequest_SubscriptionValidationFailed")
        unsupported = await http.post(f"{bc_sandbox.api_root}/subscriptions", headers={
            "Authorization": f"Bearer {access}"}, json={
            "notificationUrl": "http://127.0.0.1:9/x",
            "resource": f"/api/v2.0/companies({bc_sandbox.company_id})/customerPayments",
            "clientState": "s"})
        assert odata_error(unsupported)[0] == 400


async def test_concurrent_renewals_with_one_etag_let_exactly_one_through(bc_sandbox: BCSandbox) -> None:
    import asyncio

    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:  # the subscriber's handshake
        await asyncio.sleep(0.05)
        return web.Response(text=request.query["validationToken"])
    receiver = web.Application()
    receiver.router.add_post("/hook", echo)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    body = {"notificationUrl": f"http://127.0.0.1:{port}/hook", "clientState": "s",
            "resource": f"/api/v2.0/companies({bc_sandbox.company_id})/customers"}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            auth = {"Authorization": f"Bearer {(await token(http, bc_sandbox)).json()['access_token']}"}
            created = await http.post(f"{bc_sandbox.api_root}/subscriptions", headers=auth, json=body)
            assert created.status_code == 201, created.text
            sub = created.json()
            url = f"{bc_sandbox.api_root}/subscriptions('{sub['subscriptionId']}')"
            renewals = await asyncio.gather(*(http.patch(url, json=body, headers={
                **auth, "If-Match": sub["@odata.etag"]}) for _ in range(5)))
            assert sorted(r.status_code for r in renewals) == [200, 412, 412, 412, 412]
    finally:
        await runner.cleanup()


# ---- malformed requests are 4xx, never the sandbox's 500 ("Server got itself in trouble") ----
@pytest.mark.parametrize("body, content_type", [
    (b"grant_type=client_credentials&client_id=\xff\xfe", "application/x-www-form-urlencoded"),
    (b"grant_type=client_credentials", "application/x-www-form-urlencoded; charset=bogus")])
async def test_a_token_request_in_no_readable_text_is_invalid_request(
        bc_sandbox: BCSandbox, body: bytes, content_type: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(bc_sandbox.token_url, content=body,
                                   headers={"Content-Type": content_type})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("nested", ["not " * 400 + "number eq 'a'",
                                    "(" * 400 + "number eq 'a'" + ")" * 400])
async def test_a_filter_nested_too_deeply_is_a_400(api: httpx.AsyncClient, nested: str) -> None:
    response = await api.get("customers", params={"$filter": nested})
    assert odata_error(response) == (400, "BadRequest")
    assert "recursion limit" in response.json()["error"]["message"]


@pytest.mark.parametrize("literal", ["lastModifiedDateTime gt 2024-13-45T00:00:00Z",
                                     "lastModifiedDateTime gt 0000-01-01T00:00:00Z",
                                     "dueDate lt 2024-02-30"])
async def test_a_filter_date_that_is_no_date_is_a_400(api: httpx.AsyncClient, literal: str) -> None:
    entity_set = "salesInvoices" if literal.startswith("dueDate") else "customers"
    response = await api.get(entity_set, params={"$filter": literal})
    assert odata_error(response) == (400, "BadRequest")


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
                                  b'{"displayName": "\\ud800"}', b'{"\\udfff": "x"}'],
                         ids=["deep-array", "deep-object", "lone-surrogate", "surrogate-key"])
async def test_a_body_json_cannot_carry_is_a_400(bc_sandbox: BCSandbox, api: httpx.AsyncClient,
                                                 body: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    response = await api.post("customers", content=body, headers=headers)
    assert odata_error(response) == (400, "BadRequest")
    subscription = await api.post(f"{bc_sandbox.api_root}/subscriptions", content=body,
                                  headers=headers)
    assert odata_error(subscription) == (400, "BadRequest")


@pytest.mark.parametrize("prefer", ["odata.maxpagesize=\u00b2".encode(),
                                    b"odata.maxpagesize=" + b"9" * 5000])
async def test_a_page_size_preference_that_is_no_number_is_not_applied(
        api: httpx.AsyncClient, prefer: bytes) -> None:
    response = await api.get("customers", headers={"Prefer": prefer})
    assert response.status_code == 200 and len(response.json()["value"]) == 2
    assert "Preference-Applied" not in response.headers


async def test_decimals_beyond_bcs_range_are_a_400(api: httpx.AsyncClient) -> None:
    item = await api.post("items", content=b'{"displayName": "X", "unitPrice": 1e30}',
                          headers={"Content-Type": "application/json"})
    assert odata_error(item) == (400, "BadRequest")
    invoice = (await api.post("salesInvoices", json={"customerNumber": "C00001"})).json()
    lines = f"salesInvoices({invoice['id']})/salesInvoiceLines"
    for line in ('{"lineObjectNumber": "ART-001", "quantity": 10000000000000000000000000}',
                 '{"lineObjectNumber": "ART-001", "quantity": 1, "discountPercent": 1e30}',
                 '{"lineObjectNumber": "ART-001", "quantity": 999999999999999999, '
                 '"unitPrice": 999999999999999999}'):
        response = await api.post(lines, content=line.encode(),
                                  headers={"Content-Type": "application/json"})
        assert odata_error(response) == (400, "BadRequest"), line


async def test_a_due_date_beyond_the_calendar_is_a_400(api: httpx.AsyncClient) -> None:
    late = await api.post("salesInvoices", json={"customerNumber": "C00001",
                                                 "invoiceDate": "9999-12-31"})
    assert odata_error(late) == (400, "BadRequest")
    term = await api.post("paymentTerms", json={"code": "EONS",
                                                "dueDateCalculation": "9999999999D"})
    assert term.status_code == 201, term.text
    eons = await api.post("salesInvoices", json={"customerNumber": "C00001",
                                                 "paymentTermsId": term.json()["id"]})
    assert odata_error(eons) == (400, "BadRequest")


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:99999/hook",
                                 "http://host\u0000.invalid/"])
async def test_a_notification_url_that_is_no_url_is_a_400(bc_sandbox: BCSandbox,
                                                          api: httpx.AsyncClient, url: str) -> None:
    response = await api.post(f"{bc_sandbox.api_root}/subscriptions", json={
        "notificationUrl": url,
        "resource": f"/api/v2.0/companies({bc_sandbox.company_id})/customers"})
    assert odata_error(response) == (400, "BadRequest")


@pytest.mark.parametrize("option", ["$top", "$skip"])
@pytest.mark.parametrize("value", ["1_0", "\u0661", "\uff15", "9" * 19 + "0"],
                         ids=["underscore", "arabic-indic", "fullwidth", "beyond-int64"])
async def test_top_and_skip_take_only_what_net_reads_as_a_long(
        api: httpx.AsyncClient, option: str, value: str) -> None:
    """ODataLib reads $top/$skip with long.TryParse: no digit group separators, no digits
    of other scripts, nothing beyond Int64 (Python's int() takes all three)."""
    response = await api.get("customers", params={option: value})
    assert odata_error(response) == (400, "BadRequest")


async def test_top_and_skip_take_a_sign_and_surrounding_blanks_as_net_does(
        api: httpx.AsyncClient) -> None:
    response = await api.get("customers", params={"$top": " +1 ", "$skip": "-0"})
    assert response.status_code == 200 and len(response.json()["value"]) == 1


@pytest.mark.parametrize("token", ["-2", "1_0", "\u0661"])
async def test_a_skip_token_the_sandbox_never_issued_is_a_400(
        api: httpx.AsyncClient, token: str) -> None:
    response = await api.get("customers", params={"$skiptoken": token})
    assert odata_error(response) == (400, "BadRequest")


async def test_a_top_of_many_digits_is_a_400_and_leading_zeros_are_read(
        api: httpx.AsyncClient) -> None:
    assert odata_error(await api.get("customers", params={"$top": "9" * 5000})) == (
        400, "BadRequest")
    padded = await api.get("customers", params={"$top": "0" * 5000 + "1"})
    assert padded.status_code == 200 and len(padded.json()["value"]) == 1


@pytest.mark.parametrize("option,values", [("$top", ("1", "2")),
                                           ("$filter", ("number eq 'C00001'", "number eq 'X'")),
                                           ("$expand", ("salesInvoiceLines",) * 2)])
async def test_a_system_query_option_given_twice_is_a_400(
        api: httpx.AsyncClient, option: str, values: tuple[str, str]) -> None:
    """ODataLib: "Query option '$top' was specified more than once, but it must be
    specified at most once." (QueryOptionUtils_QueryParameterMustBeSpecifiedOnce)."""
    entity_set = "salesInvoices" if option == "$expand" else "customers"
    response = await api.get(entity_set, params=[(option, v) for v in values])
    assert odata_error(response) == (400, "BadRequest")
    assert "more than once" in response.json()["error"]["message"]


async def test_select_names_properties_of_the_type_and_returns_only_those(
        api: httpx.AsyncClient) -> None:
    unknown = await api.get("customers", params={"$select": "number,nickname"})
    assert odata_error(unknown) == (400, "BadRequest")
    assert "nickname" in unknown.json()["error"]["message"]
    some = (await api.get("customers", params={"$select": "id, displayName",
                                                "$top": 1})).json()["value"][0]
    assert set(some) == {"@odata.etag", "id", "displayName"}
    invoice = (await api.get("salesInvoices", params={
        "$select": "number", "$expand": "salesInvoiceLines", "$top": 1})).json()["value"][0]
    assert set(invoice) == {"@odata.etag", "number", "salesInvoiceLines"}
    one = (await api.get(f"customers({some['id']})", params={"$select": "email"})).json()
    assert set(one) == {"@odata.etag", "email"}
    every = (await api.get("customers", params={"$select": "*", "$top": 1})).json()["value"][0]
    assert "lastModifiedDateTime" in every


@pytest.mark.parametrize("value", ["yes", "1", "True"])
async def test_count_takes_only_true_or_false(api: httpx.AsyncClient, value: str) -> None:
    """ODataLib's ParseCount: "'yes' is not a valid count option." """
    response = await api.get("customers", params={"$count": value})
    assert odata_error(response) == (400, "BadRequest")


@pytest.mark.parametrize("value", [2 ** 31, -(2 ** 31) - 1])
async def test_an_int32_property_beyond_32_bits_is_a_400(api: httpx.AsyncClient,
                                                         value: int) -> None:
    """sequence and lineNumber are Edm.Int32 (AL Integer): a value beyond 32 bits cannot
    be converted to the type."""
    invoice = (await api.post("salesInvoices", json={"customerNumber": "C00001"})).json()
    line = await api.post(f"salesInvoices({invoice['id']})/salesInvoiceLines",
                          json={"lineObjectNumber": "ART-001", "quantity": 1, "sequence": value})
    assert odata_error(line) == (400, "BadRequest")
    journal = (await api.get("customerPaymentJournals")).json()["value"][0]
    payment = await api.post(f"customerPaymentJournals({journal['id']})/customerPayments",
                             json={"customerNumber": "C00001", "amount": 5, "lineNumber": value})
    assert odata_error(payment) == (400, "BadRequest")
    widest = await api.post(f"salesInvoices({invoice['id']})/salesInvoiceLines",
                            json={"lineObjectNumber": "ART-001", "quantity": 1,
                                  "sequence": 2 ** 31 - 1})
    assert widest.status_code == 201, widest.text


@pytest.mark.parametrize("entity_set", ["customers", "vendors"])
async def test_a_phone_number_with_letters_is_a_400(api: httpx.AsyncClient,
                                                    entity_set: str) -> None:
    """Customer and Vendor "Phone No." OnValidate: FieldError 'must not contain letters' when
    any character is a letter (DotNet Char.IsLetter), digits of any script aside."""
    record = (await api.get(entity_set, params={"$top": 1})).json()["value"][0]
    path = f"{entity_set}({record['id']})"
    etag = {"If-Match": record["@odata.etag"]}
    for phone in ("600 123 ext 4", "+34 6OO 123 456", "tel\u00e9fono 600"):
        refused = await api.patch(path, json={"phoneNumber": phone}, headers=etag)
        assert odata_error(refused) == (400, "BadRequest"), phone
        assert "must not contain letters" in refused.json()["error"]["message"]
    fine = await api.patch(path, json={"phoneNumber": "+34 (600) 12-34-56"}, headers=etag)
    assert fine.status_code == 200, fine.text
    created = await api.post(entity_set, json={"displayName": "X", "phoneNumber": "call me"})
    assert odata_error(created) == (400, "BadRequest")


@pytest.mark.parametrize("entity_set,field,limit", [
    ("customers", "addressLine2", 50), ("customers", "currencyCode", 10),
    ("vendors", "addressLine1", 100), ("vendors", "addressLine2", 50), ("vendors", "city", 30),
    ("vendors", "state", 30), ("vendors", "country", 10), ("vendors", "postalCode", 20),
    ("vendors", "phoneNumber", 30), ("vendors", "email", 80),
    ("items", "itemCategoryCode", 20), ("items", "baseUnitOfMeasureCode", 10),
    ("items", "taxGroupCode", 20),
    ("salesInvoices", "customerNumber", 20), ("salesInvoices", "currencyCode", 10),
    ("salesInvoices", "phoneNumber", 30), ("salesInvoices", "email", 80),
    ("salesCreditMemos", "customerNumber", 20),
    ("salesInvoiceLines", "lineObjectNumber", 20), ("salesInvoiceLines", "unitOfMeasureCode", 10),
    ("salesInvoiceLines", "taxCode", 20),
    ("customerPayments", "customerNumber", 20), ("customerPayments", "appliesToInvoiceNumber", 20),
    ("customerPaymentJournals", "balancingAccountNumber", 20),
])
async def test_a_string_longer_than_its_table_field_is_a_400(
        api: httpx.AsyncClient, entity_set: str, field: str, limit: int) -> None:
    """Each property's length is its BaseApp table field's (Code[20], Text[50]...): one more
    character is 'The length of the string is ..., but it must be less than or equal to'."""
    path = entity_set
    if entity_set == "salesInvoiceLines":
        invoice = (await api.post("salesInvoices", json={"customerNumber": "C00001"})).json()
        path = f"salesInvoices({invoice['id']})/salesInvoiceLines"
    elif entity_set == "customerPayments":
        journal = (await api.get("customerPaymentJournals")).json()["value"][0]
        path = f"customerPaymentJournals({journal['id']})/customerPayments"
    response = await api.post(path, json={field: "9" * (limit + 1)})
    assert odata_error(response) == (400, "BadRequest_InvalidValue"), response.text
    assert f"less than or equal to {limit}" in response.json()["error"]["message"]


@pytest.mark.parametrize("percent,message", [(-5, "greater than or equal to 0"),
                                             (100.5, "less than or equal to 100")])
async def test_a_line_discount_percent_outside_0_to_100_is_a_400(
        api: httpx.AsyncClient, percent: float, message: str) -> None:
    """Sales Line "Line Discount %": MinValue = 0, MaxValue = 100."""
    invoice = (await api.post("salesInvoices", json={"customerNumber": "C00001"})).json()
    lines = f"salesInvoices({invoice['id']})/salesInvoiceLines"
    refused = await api.post(lines, json={"lineObjectNumber": "ART-001", "quantity": 1,
                                          "discountPercent": percent})
    assert odata_error(refused) == (400, "BadRequest_InvalidValue")
    assert message in refused.json()["error"]["message"]
    whole = await api.post(lines, json={"lineObjectNumber": "ART-001", "quantity": 1,
                                        "discountPercent": 100})
    assert whole.status_code == 201 and whole.json()["amountExcludingTax"] == 0


@pytest.mark.parametrize("entity_set", ["customers", "vendors"])
async def test_an_email_that_is_no_address_is_a_400(api: httpx.AsyncClient,
                                                    entity_set: str) -> None:
    """The tables' "E-Mail" OnValidate (Mail Management's CheckValidEmailAddresses): each
    ';'-separated address has exactly one '@', not at either end, and no blank; empty is
    allowed."""
    record = (await api.get(entity_set, params={"$top": 1})).json()["value"][0]
    path = f"{entity_set}({record['id']})"
    etag = {"If-Match": record["@odata.etag"]}
    for email in ("ventas", "a@b@c.es", "@b.es", "ventas@", "ana ruiz@b.es", "a@b.es;x"):
        refused = await api.patch(path, json={"email": email}, headers=etag)
        assert odata_error(refused) == (400, "BadRequest"), email
        assert "is not valid" in refused.json()["error"]["message"]
    for email in ("ana@b.es;luis@b.es", " ana@b.es ", ""):
        fine = await api.patch(path, json={"email": email}, headers=etag)
        assert fine.status_code == 200, (email, fine.text)
        etag = {"If-Match": fine.json()["@odata.etag"]}
