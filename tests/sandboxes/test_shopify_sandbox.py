"""The Shopify sandbox itself, through plain httpx: strictness, costs, faults, REST, CLI."""
from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from connectors.shopify.queries import DOCUMENTS
from connectors.shopify.sandbox import ShopifySandbox, start_shopify_sandbox
from connectors.shopify.sandbox_cli import sandbox_shopify_command


@pytest.fixture
async def shop() -> AsyncIterator[ShopifySandbox]:
    server = await start_shopify_sandbox(port=0, bucket_size=1000, restore_rate=100)
    yield server
    await server.stop()


@pytest.fixture
async def http(shop: ShopifySandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=shop.url, timeout=5,
                                 headers={"X-Shopify-Access-Token": shop.access_token}) as c:
        yield c


async def gql(http: httpx.AsyncClient, operation: str, variables: dict[str, Any] | None = None,
              *, version: str = "2025-01", document: str | None = None) -> httpx.Response:
    return await http.post(f"/admin/api/{version}/graphql.json", json={
        "query": document if document is not None else DOCUMENTS[operation],
        "operationName": operation, "variables": variables or {}})


async def test_every_answer_reports_its_cost(http: httpx.AsyncClient) -> None:
    body = (await gql(http, "Customers", {"first": 2})).json()
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 2 * 3 and cost["actualQueryCost"] == 8
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable",
                                           "restoreRate"}
    assert body["data"]["customers"]["pageInfo"]["hasNextPage"] is True


async def test_token_and_version_are_checked(shop: ShopifySandbox,
                                             http: httpx.AsyncClient) -> None:
    assert (await gql(http, "Shop", version="2019-04")).status_code == 404
    http.headers["X-Shopify-Access-Token"] = "shpat_wrong"
    answer = await gql(http, "Shop")
    assert answer.status_code == 401 and "Invalid API key" in answer.text


async def test_the_shop_says_whether_its_prices_include_tax(shop: ShopifySandbox,
                                                           http: httpx.AsyncClient) -> None:
    answer = (await gql(http, "Shop")).json()["data"]["shop"]
    assert answer["taxesIncluded"] is True and answer["currencyCode"] == "EUR"  # a Spanish shop
    shop.shop["taxesIncluded"] = False
    assert (await gql(http, "Shop")).json()["data"]["shop"]["taxesIncluded"] is False
    products = (await gql(http, "Products", {"first": 10})).json()["data"]["products"]["nodes"]
    assert {p["metafield"]["value"] for p in products} == {"IVA 10%", "IVA 21%"}
    assert all(v["taxable"] is True for p in products for v in p["variants"]["nodes"])


async def test_unknown_or_undeclared_operations_are_graphql_errors(http: httpx.AsyncClient
                                                                   ) -> None:
    unknown = (await gql(http, "DeleteEverything", document="mutation DeleteEverything { x }"))
    assert unknown.status_code == 200 and unknown.json()["errors"][0]["message"].startswith(
        "unknown operation")
    mismatch = await gql(http, "Shop", document="query Other { shop { name } }")
    assert "not defined in the document" in mismatch.json()["errors"][0]["message"]
    too_many = await gql(http, "Customers", {"first": 251})
    assert too_many.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    bad_cursor = await gql(http, "Customers", {"first": 1, "after": "nope"})
    assert "Invalid cursor" in bad_cursor.json()["errors"][0]["message"]


async def test_an_id_beyond_64_bits_is_an_invalid_global_id_not_a_crash(
        http: httpx.AsyncClient) -> None:
    # It reached SQLite and answered 500, which the client retries as a server fault.
    for number in ("9223372036854775808", "123456789012345678901234567890", "0"):
        answer = await gql(http, "Nodes", {"ids": [f"gid://shopify/Customer/{number}"]})
        assert answer.status_code == 200, number
        assert answer.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    largest = await gql(http, "Nodes", {"ids": ["gid://shopify/Customer/9223372036854775807"]})
    assert largest.json()["data"]["nodes"] == [None]  # a well-formed id nobody has


async def test_an_id_with_a_trailing_newline_is_an_invalid_global_id(
        shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    # ``$`` matched before a final newline: Nodes read the customer, TagsAdd and
    # CustomerUpdate wrote it, as the inventory ids no longer do (\Z).
    customer, order = shop.seeded["lucia"]["id"], shop.seeded["order_paid"]["id"]
    nodes = await gql(http, "Nodes", {"ids": [customer + "\n"]})
    assert nodes.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    tags = await gql(http, "TagsAdd", {"id": order + "\n", "tags": ["x"]})
    assert tags.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    update = await gql(http, "CustomerUpdate", {"input": {"id": customer + "\n", "note": "x"}})
    assert update.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert (await shop.get("Customer", customer))["note"] is None  # type: ignore[index]
    assert "x" not in (await shop.get("Order", order))["tags"]  # type: ignore[index]


async def test_cursors_walk_every_record_once(http: httpx.AsyncClient) -> None:
    seen, after = [], None
    while True:
        page = (await gql(http, "Customers", {"first": 1, "after": after})).json()
        connection = page["data"]["customers"]
        seen += [n["id"] for n in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 3


async def test_an_empty_bucket_throttles_and_runs_nothing(shop: ShopifySandbox,
                                                          http: httpx.AsyncClient) -> None:
    lucia = shop.seeded["lucia"]["id"]
    now = [shop.bucket.clock()]  # stopped: a stalled machine must not refill it meanwhile
    shop.bucket.clock = lambda: now[0]
    shop.bucket.drain(1000)
    answer = await gql(http, "CustomerUpdate", {"input": {"id": lucia, "email": "x@y.es"}})
    body = answer.json()
    assert answer.status_code == 200 and body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 10
    stored = await shop.get("Customer", lucia)
    assert stored is not None and stored["email"] != "x@y.es"

    now[0] += 0.2  # 20 points at 100 per second; a mutation costs 10
    assert shop.bucket.available() >= 10
    ok = (await gql(http, "CustomerUpdate", {"input": {"id": lucia, "email": "x@y.es"}})).json()
    assert ok["data"]["customerUpdate"]["userErrors"] == []


async def test_a_query_above_the_maximum_cost_is_refused(http: httpx.AsyncClient) -> None:
    body = (await gql(http, "Orders", {"first": 250})).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_updated_at_filters(shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    future = (await gql(http, "Orders", {"first": 10,
                                         "query": "updated_at:>'2999-01-01T00:00:00Z'"})).json()
    assert future["data"]["orders"]["nodes"] == []
    past = (await gql(http, "Orders", {"first": 10,
                                       "query": "updated_at:>'2000-01-01T00:00:00Z'"})).json()
    assert len(past["data"]["orders"]["nodes"]) == 4
    other = (await gql(http, "Orders", {"first": 10, "query": "status:open"})).json()
    assert "only understands updated_at" in other["errors"][0]["message"]


async def test_429_storm_and_5xx_faults(shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    shop.faults.storm_next, shop.faults.storm_retry_after = 1, 2
    storm = await gql(http, "Shop")
    assert storm.status_code == 429 and storm.headers["Retry-After"] == "2.0"
    shop.faults.error_next = 1
    assert (await gql(http, "Shop")).status_code == 503
    assert (await gql(http, "Shop")).status_code == 200
    assert [r.status for r in shop.requests[-3:]] == [429, 503, 200]


async def test_a_lost_response_still_commits(shop: ShopifySandbox,
                                             http: httpx.AsyncClient) -> None:
    order = shop.seeded["order_paid"]["id"]
    shop.faults.lose_next_writes = 1
    with pytest.raises(httpx.TransportError):
        await gql(http, "TagsAdd", {"id": order, "tags": ["holded:F1"]})
    stored = await shop.get("Order", order)
    assert stored is not None and stored["tags"] == ["holded:F1"]
    assert shop.requests[-1].outcome == "dropped"


async def test_user_errors_for_bad_input(shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    missing = (await gql(http, "CustomerUpdate", {"input": {"id": "gid://shopify/Customer/1"}}
                         )).json()
    assert missing["data"]["customerUpdate"]["userErrors"][0]["field"] == ["id"]
    unknown_field = (await gql(http, "CustomerUpdate", {"input": {
        "id": shop.seeded["lucia"]["id"], "vatNumber": "B1"}})).json()
    assert unknown_field["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    long_tag = (await gql(http, "TagsAdd", {"id": shop.seeded["order_paid"]["id"],
                                            "tags": ["x" * 41]})).json()
    assert "too long" in long_tag["data"]["tagsAdd"]["userErrors"][0]["message"]


async def test_a_metafield_is_never_blank_and_is_cleared_by_deleting_it(
        shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    lucia = shop.seeded["lucia"]["id"]
    blank = {"namespace": "holded_sync", "key": "tax_id", "type": "single_line_text_field"}
    for value in ("", "  ", None):
        answer = (await gql(http, "CustomerUpdate", {"input": {
            "id": lucia, "firstName": "Otra", "metafields": [{**blank, "value": value}]}})).json()
        assert answer["data"]["customerUpdate"]["userErrors"] == [
            {"field": ["metafields", "0", "value"], "message": "Value can't be blank"}]
    stored = await shop.get("Customer", lucia)
    assert stored["metafield"] == {"value": "12345678Z"} and stored["firstName"] == "Lucía"
    identifier = {"ownerId": lucia, "namespace": "holded_sync", "key": "tax_id"}
    gone = (await gql(http, "MetafieldsDelete", {"metafields": [identifier]})).json()
    assert gone["data"]["metafieldsDelete"] == {"deletedMetafields": [identifier],
                                                "userErrors": []}
    assert (await shop.get("Customer", lucia))["metafield"] is None
    again = (await gql(http, "MetafieldsDelete", {"metafields": [identifier]})).json()
    assert again["data"]["metafieldsDelete"]["deletedMetafields"] == [None]  # none: null
    for bad in ([], [{"ownerId": lucia}], [{**identifier, "ownerId": "gid://shopify/Customer/x"}]):
        refused = (await gql(http, "MetafieldsDelete", {"metafields": bad})).json()
        assert refused["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"


async def test_rest_customers_page_by_link_with_the_call_limit(http: httpx.AsyncClient) -> None:
    first = await http.get("/admin/api/2025-01/customers.json", params={"limit": 2})
    assert first.headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/40")
    assert len(first.json()["customers"]) == 2 and 'rel="next"' in first.headers["Link"]
    next_url = first.headers["Link"].split(">")[0].lstrip("<")
    second = await http.get(next_url)
    assert len(second.json()["customers"]) == 1 and "Link" not in second.headers


REST = "/admin/api/2025-01/customers.json"


@pytest.mark.parametrize("params", [
    {"limit": " 5"}, {"limit": "5 "}, {"limit": "+5"}, {"limit": "\u0665"}, {"limit": "0"},
    {"limit": "251"}, {"limit": "abc"},
])
async def test_rest_customers_limit_is_ascii_digits_1_to_250(http: httpx.AsyncClient,
                                                             params: dict[str, str]) -> None:
    answer = await http.get(REST, params=params)
    assert answer.status_code == 400 and "limit" in answer.json()["errors"]


@pytest.mark.parametrize("page_info", ["-1", "0", "2", "nope", "e30=", "W10=",
                                       base64.b64encode(b"[" * 5000).decode()])
async def test_rest_customers_refuse_a_page_info_they_did_not_issue(
        http: httpx.AsyncClient, page_info: str) -> None:
    answer = await http.get(REST, params={"limit": 1, "page_info": page_info})
    assert answer.status_code == 400
    assert answer.json() == {"errors": {"page_info": "Invalid value."}}


async def test_rest_customers_since_id_lists_the_ids_after_it(http: httpx.AsyncClient) -> None:
    everyone = [c["id"] for c in (await http.get(REST)).json()["customers"]]
    assert everyone == sorted(everyone) and len(everyone) == 3
    after = await http.get(REST, params={"since_id": everyone[0], "limit": 1})
    assert [c["id"] for c in after.json()["customers"]] == [everyone[1]]
    second = await http.get(after.headers["Link"].split(">")[0].lstrip("<"))
    assert [c["id"] for c in second.json()["customers"]] == [everyone[2]]
    assert (await http.get(REST, params={"since_id": everyone[2]})).json() == {"customers": []}
    not_an_id = await http.get(REST, params={"since_id": " 1"})
    assert not_an_id.status_code == 400 and "since_id" in not_an_id.json()["errors"]
    unimplemented = await http.get(REST, params={"updated_at_min": "2026-01-01T00:00:00Z"})
    assert unimplemented.status_code == 400  # not silently ignored


async def test_rest_customers_page_info_takes_only_limit_and_fields(
        http: httpx.AsyncClient) -> None:
    first = await http.get(REST, params={"limit": 1})
    next_url = httpx.URL(first.headers["Link"].split(">")[0].lstrip("<"))
    fields = await http.get(next_url.copy_merge_params({"fields": "id,email"}))
    assert fields.status_code == 200 and set(fields.json()["customers"][0]) == {"id", "email"}
    mixed = await http.get(next_url.copy_merge_params({"since_id": "1"}))
    assert mixed.status_code == 400
    assert mixed.json()["errors"]["since_id"].startswith("since_id cannot be passed when "
                                                         "page_info is present")
    paged = await http.get(REST, params={"page": 2})
    assert paged.status_code == 400 and paged.json()["errors"] == {"page": "page cannot be passed."}


def test_cli_help_lists_the_fault_switches() -> None:
    result = CliRunner().invoke(sandbox_shopify_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--bucket-size", "--restore-rate", "--webhook-url", "--lose-responses"):
        assert option in result.output


@pytest.mark.parametrize("body, content_type", [
    (b"[" * 100_000, "application/json"),  # RecursionError in json.loads
    (b'{"a":' * 50_000, "application/json"),
    (b'{"query": "query Shop { shop { name } }", "operationName": "Shop"}',
     "application/json; charset=bogus"),  # LookupError decoding the body
    (b'{"query": "query Shop { shop { name } }", "operationName": "Shop"}',
     "application/json; charset=rot13"),
    (b'{"query": "query Customers { x }", "operationName": "Customers", '
     b'"variables": {"first": NaN}}', "application/json"),  # not JSON; Python reads it
])
async def test_a_body_that_is_not_json_is_a_400_not_a_crash(
        http: httpx.AsyncClient, body: bytes, content_type: str) -> None:
    answer = await http.post("/admin/api/2025-01/graphql.json", content=body,
                             headers={"Content-Type": content_type})
    assert answer.status_code == 400 and "errors" in answer.json()


@pytest.mark.parametrize("operation, variables", [
    ("Customers", {"first": "abc"}), ("Orders", {"first": [1]}), ("Products", {"first": {}}),
    ("Locations", {"first": 1e300}), ("VariantsBySku", {"first": "9" * 5000, "query": "sku:\"a\""}),
    ("Nodes", {"ids": 5}), ("Nodes", {"ids": True}),
    ("Customers", {"first": -10**30}),  # priced below zero, it emptied the bucket for good
])
async def test_a_variable_of_the_wrong_type_is_invalid_not_a_crash(
        http: httpx.AsyncClient, operation: str, variables: dict[str, Any]) -> None:
    # Pricing the query read int(first) / len(ids) before the resolver checked them: 500.
    answer = await gql(http, operation, variables)
    assert answer.status_code == 200, answer.text
    assert answer.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert answer.json()["extensions"]["cost"]["requestedQueryCost"] >= 1
    assert "data" in (await gql(http, "Shop")).json()  # the bucket still holds points


@pytest.mark.parametrize("query", [5, 1.5, True, ["updated_at:>'2020-01-01'"], {"a": 1}])
async def test_a_listing_query_that_is_not_a_string_is_invalid(http: httpx.AsyncClient,
                                                               query: Any) -> None:
    # It reached re.sub: TypeError, 500.
    answer = await gql(http, "Orders", {"first": 5, "query": query})
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"


@pytest.mark.parametrize("operation, decoded", [
    ("Customers", b"[" * 100_000), ("Locations", b"[" * 100_000),  # RecursionError
    ("Locations", b"{}"), ("Locations", b'{"a": 1}'),  # KeyError: 0
    ("Locations", b"[Infinity]"), ("Locations", b"[1e400]"),  # OverflowError
])
async def test_a_forged_cursor_is_invalid_not_a_crash(http: httpx.AsyncClient, operation: str,
                                                      decoded: bytes) -> None:
    after = base64.b64encode(decoded).decode()
    answer = await gql(http, operation, {"first": 5, "after": after})
    assert answer.status_code == 200
    assert "Invalid cursor" in answer.json()["errors"][0]["message"]


async def test_a_sku_query_with_a_bad_escape_is_an_error_not_a_crash(
        http: httpx.AsyncClient) -> None:
    # The regex let sku:"\uZZZZ" through to json.loads: JSONDecodeError, 500.
    answer = await gql(http, "VariantsBySku", {"first": 5, "query": 'sku:"\\uZZZZ"'})
    assert answer.status_code == 200
    assert "only understands sku" in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize("field, value", [
    ("firstName", 5), ("lastName", ["Pérez"]), ("email", {"a": 1}), ("note", True),
    ("metafields", "abc"), ("metafields", [1]), ("metafields", [None]),
    ("metafields", [{"namespace": "holded_sync", "key": "tax_id", "value": 5}]),
    ("tags", 5), ("tags", [1]), ("tags", [None]),
])
async def test_a_customer_input_field_of_the_wrong_type_is_invalid(
        shop: ShopifySandbox, http: httpx.AsyncClient, field: str, value: Any) -> None:
    # firstName 5 crashed joining displayName, metafields [1] reading .get, and tags [1]
    # were stored, then crashed the next tagsAdd on the customer (sorted() of int and str).
    lucia = shop.seeded["lucia"]["id"]
    before = await shop.get("Customer", lucia)
    answer = await gql(http, "CustomerUpdate", {"input": {"id": lucia, field: value}})
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert await shop.get("Customer", lucia) == before
    tagged = await gql(http, "TagsAdd", {"id": lucia, "tags": ["vip"]})
    assert tagged.json()["data"]["tagsAdd"]["userErrors"] == []


async def test_null_tags_read_as_no_tags(shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    # tags: null was stored as null, and the next tagsAdd crashed on it.
    lucia = shop.seeded["lucia"]["id"]
    answer = await gql(http, "CustomerUpdate", {"input": {"id": lucia, "tags": None}})
    assert answer.json()["data"]["customerUpdate"]["userErrors"] == []
    tagged = await gql(http, "TagsAdd", {"id": lucia, "tags": ["vip"]})
    assert tagged.json()["data"]["tagsAdd"]["userErrors"] == []
    assert (await shop.get("Customer", lucia))["tags"] == ["vip"]  # type: ignore[index]


@pytest.mark.parametrize("value", [5, True, [[1]], [{}], "abc"])
async def test_an_inventory_input_that_is_not_an_object_is_invalid(http: httpx.AsyncClient,
                                                                   value: Any) -> None:
    # Naming its unknown fields called set() on it: TypeError, 500.
    answer = await gql(http, "InventorySetQuantities", {"input": value})
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"


async def test_inventory_ids_beyond_64_bits_are_unknown_not_a_crash(
        shop: ShopifySandbox, http: httpx.AsyncClient) -> None:
    # They reached SQLite: OverflowError, 500.
    item = (await shop.all("InventoryItem"))[0]
    location = next(iter(item["levels"]))
    huge = "9" * 30
    for path, entry in ((["inventoryItemId"], {"inventoryItemId":
                                                f"gid://shopify/InventoryItem/{huge}"}),
                        (["locationId"], {"locationId": f"gid://shopify/Location/{huge}"})):
        answer = await gql(http, "InventorySetQuantities", {"input": {
            "name": "available", "reason": "correction", "ignoreCompareQuantity": True,
            "quantities": [{"inventoryItemId": item["id"], "locationId": location,
                            "quantity": 1, **entry}]}})
        assert answer.status_code == 200, answer.text
        errors = answer.json()["data"]["inventorySetQuantities"]["userErrors"]
        assert errors[0]["field"] == ["input", "quantities", "0", *path]
