"""Canonical services through HoldedSink into the sandbox's /services catalogue (real HTTP).

Covers design.md section 4 for services: link, marker search, create exactly once after a
lost response; invoice lines that reach Holded with ``serviceId``; and the upgrade path for
services an older version wrote as Holded products."""
from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from connectors.holded.sandbox import SandboxServer
from connectors.holded.sink import DependencyPending, HoldedSink
from tests.connectors.holded.sink_support import (
    DropField, command, contact_command, invoice, line, make_client, make_sink, product,
)

INV = "/api/invoicing/v1"
KEY = "product/odoo/77"


def service_command(*, version: int = 1, price: str = "60.00", links: dict[str, str] | None = None,
                    **fields: Any) -> dict[str, Any]:
    payload = {**product(77, price), "kind": "service", "sku": "CONS-H", "name": "Consultoría",
               "description": "Por horas", **fields}
    return command("product", KEY, payload, version=version, links=links)


def calls(server: SandboxServer, method: str, path: str) -> int:
    return sum(1 for r in server.requests if r.method == method and r.path == f"{INV}/{path}")


@pytest.fixture
def sink(sandbox: SandboxServer, http: httpx.AsyncClient) -> HoldedSink:
    return make_sink(make_client(sandbox, http))


async def test_a_service_is_created_in_the_services_catalogue_not_as_a_product(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    outcome = await sink.execute(service_command())
    assert (outcome.result["status"], outcome.result["reason"], outcome.conflicts) == ("succeeded", None, [])
    [stored] = await sandbox.all("services")
    assert outcome.result["target_id"] == stored["id"]  # the link the engine records
    assert (stored["name"], stored["desc"], stored["subtotal"], stored["taxes"]) == (
        "Consultoría", "Por horas\nhs-sku:CONS-H", 60.0, ["s_iva_21"])
    assert await sandbox.count("products") == 0


async def test_a_lost_create_response_is_found_by_its_marker_not_created_twice(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    sandbox.faults.lose_next_writes = 1
    outcome = await sink.execute(service_command())
    assert sandbox.faults.lose_next_writes == 0  # the fault did fire
    assert outcome.result["status"] == "succeeded"
    [stored] = await sandbox.all("services")
    assert outcome.result["target_id"] == stored["id"]
    assert [r.path for r in sandbox.requests if r.outcome == "dropped"] == [f"{INV}/services"]
    assert calls(sandbox, "POST", "services") == 1


async def test_another_worker_without_cache_or_link_updates_the_service_it_finds(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    first = (await make_sink(make_client(sandbox, http)).execute(service_command())).result
    fresh = make_sink(make_client(sandbox, http))
    result = (await fresh.execute(service_command(version=2, price="65.50"))).result
    assert (result["status"], result["target_id"]) == ("succeeded", first["target_id"])
    [stored] = await sandbox.all("services")
    assert stored["subtotal"] == 65.5 and calls(sandbox, "POST", "services") == 1


async def test_a_linked_service_is_updated_in_place(sink: HoldedSink, sandbox: SandboxServer) -> None:
    first = (await sink.execute(service_command())).result
    before = len(sandbox.requests)
    renamed = service_command(version=2, price="70.00", name="Consultoría senior", sales_taxes=["iva_10"],
                              links={"holded": first["target_id"]})
    result = (await sink.execute(renamed)).result
    assert (result["status"], result["target_id"]) == ("succeeded", first["target_id"])
    sid = first["target_id"]
    assert [(r.method, r.path) for r in sandbox.requests[before:]] == [
        ("PUT", f"{INV}/services/{sid}"), ("GET", f"{INV}/services/{sid}")]
    [stored] = await sandbox.all("services")
    assert (stored["name"], stored["subtotal"], stored["taxes"]) == ("Consultoría senior", 70.0, ["s_iva_10"])


async def test_a_linked_service_deleted_in_holded_is_created_again(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    first = (await sink.execute(service_command())).result
    await sandbox.store.delete("services", first["target_id"])
    result = (await sink.execute(service_command(version=2, links={"holded": first["target_id"]}))).result
    assert result["status"] == "succeeded" and result["target_id"] != first["target_id"]
    assert [s["id"] for s in await sandbox.all("services")] == [result["target_id"]]
    assert await sandbox.count("products") == 0


async def test_a_service_whose_marker_holded_did_not_keep_fails_with_a_conflict(
        sandbox: SandboxServer) -> None:
    """Without its marker the service cannot be found again: say so at once."""
    async with httpx.AsyncClient(transport=DropField("/services", "desc"), timeout=10) as http:
        outcome = await make_sink(make_client(sandbox, http)).execute(service_command())
    assert outcome.result["status"] == "failed"
    [conflict] = outcome.conflicts
    assert (conflict["field"], conflict["canonical_value"], conflict["incoming_value"]) == (
        "desc.marker", '"CONS-H"', "null")


async def test_an_invoice_line_for_a_service_reaches_holded_with_service_id(
        sandbox: SandboxServer) -> None:
    sent: list[dict[str, Any]] = []

    async def record(request: httpx.Request) -> None:
        if request.method == "POST" and "/documents/" in request.url.path:
            sent.append(json.loads(request.content))

    async with httpx.AsyncClient(timeout=10, event_hooks={"request": [record]}) as http:
        sink = make_sink(make_client(sandbox, http))
        assert (await sink.execute(contact_command(1))).result["status"] == "succeeded"
        service_id = (await sink.execute(service_command())).result["target_id"]
        assert (await sink.execute(command("product", "product/odoo/1", product(1, "11.00")))
                ).result["status"] == "succeeded"
        lines = [line(1, "SKU-1", "2", "11.00", product_key="product/odoo/1"),
                 line(2, "CONS-H", "3", "60.00", product_key=KEY)]
        doc = command("invoice", "invoice/odoo/S-1", invoice("contact/odoo/1", lines),
                      depends_on=["contact/odoo/1", "product/odoo/1", KEY])
        outcome = await sink.execute(doc)
    assert (outcome.result["status"], outcome.result["reason"], outcome.conflicts) == ("succeeded", None, [])
    [body] = sent
    goods, hours = body["items"]
    assert goods["sku"] == "SKU-1" and "serviceId" not in goods
    assert hours["serviceId"] == service_id and "sku" not in hours
    [stored] = await sandbox.all("documents", docType="invoice")
    assert [(p["kind"], p["price"]) for p in stored["products"]] == [("product", 11.0), ("service", 60.0)]
    assert (stored["subtotal"], stored["total"]) == (202.0, 244.42)


async def test_an_invoice_waits_for_a_service_not_yet_in_holded(sink: HoldedSink) -> None:
    assert (await sink.execute(contact_command(1))).result["status"] == "succeeded"
    doc = command("invoice", "invoice/odoo/S-2",
                  invoice("contact/odoo/1", [line(1, "CONS-H", "1", "60.00", product_key=KEY)]))
    with pytest.raises(DependencyPending) as waiting:
        await sink.execute(doc)
    assert KEY in str(waiting.value)
    assert (await sink.execute(service_command())).result["status"] == "succeeded"
    assert (await sink.execute(doc)).result["status"] == "succeeded"


# -- upgrade: services an older version wrote as Holded products -----------------------------
async def legacy_product(sink: HoldedSink) -> str:
    """What an older version did with a service: a ``simple`` product with its SKU."""
    older = service_command(kind="product")  # the old writer ignored the kind
    result = (await sink.execute(older)).result
    assert result["status"] == "succeeded"
    return str(result["target_id"])


async def test_a_service_linked_to_a_legacy_product_stays_that_product(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    product_id = await legacy_product(sink)
    result = (await sink.execute(service_command(version=2, price="65.00",
                                                 links={"holded": product_id}))).result
    assert (result["status"], result["target_id"]) == ("succeeded", product_id)
    [stored] = await sandbox.all("products")
    assert (stored["sku"], stored["price"]) == ("CONS-H", 65.0)
    assert await sandbox.count("services") == 0


async def test_a_legacy_product_found_by_sku_without_a_link_is_not_duplicated(
        sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    product_id = await legacy_product(make_sink(make_client(sandbox, http)))
    fresh = make_sink(make_client(sandbox, http))  # a worker after the upgrade: no cache, no link
    result = (await fresh.execute(service_command(version=2))).result
    assert (result["status"], result["target_id"]) == ("succeeded", product_id)
    assert await sandbox.count("services") == 0 and await sandbox.count("products") == 1
    assert (await fresh.execute(contact_command(1))).result["status"] == "succeeded"
    doc = command("invoice", "invoice/odoo/S-3",
                  invoice("contact/odoo/1", [line(1, "CONS-H", "1", "60.00", product_key=KEY)]))
    assert (await fresh.execute(doc)).result["status"] == "succeeded"
    [stored] = await sandbox.all("documents", docType="invoice")
    assert [(p["kind"], p["productId"], p["price"]) for p in stored["products"]] == [
        ("product", product_id, 60.0)]


async def test_a_legacy_product_deleted_by_the_operator_becomes_a_service(
        sink: HoldedSink, sandbox: SandboxServer) -> None:
    """The documented way to move an upgraded service to Holded's services catalogue."""
    product_id = await legacy_product(sink)
    await sandbox.store.delete("products", product_id)  # the same worker, its caches warm
    result = (await sink.execute(service_command(version=2, links={"holded": product_id}))).result
    [stored] = await sandbox.all("services")
    assert (result["status"], result["target_id"]) == ("succeeded", stored["id"])
    assert D(str(stored["subtotal"])) == D("60")
