"""`holded-sync demo --erp NAME` (README's quick start; `app.demo._run_erp`) on the session's
broker, as test_demo_flow does for the file demo: what it prints, checked against what the
Holded and ERP sandboxes hold once it ends.

All five ERPs run: each demo takes 14-20 s on an idle 2-core machine (80-105 s together; 24-26
s each at a load of 8), within the suite's budget, and each seed tells its own part of the
story. Two branches of `_run_erp`: a payment made in Holded that reaches the ERP (Odoo; SAP
B1, whose seed holds a credit note numbered like an invoice and a paid invoice, neither of
which may be the one paid; Business Central, whose seed parks an invoice a cent apart and
whose tenant lacks the example's IRPF groups) and a shop's own payments registered on their
Holded invoices (Shopify, with a refund; PrestaShop).
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

import connectors.holded.sandbox as holded_sandbox
from app.cli import cli
from app.demo import _run_erp

pytestmark = pytest.mark.kafka


@pytest.fixture
async def sandboxes(monkeypatch):
    """The demo's Holded and ERP sandboxes, kept serving after the demo ends so the test can
    read what they hold (the demo stops them in its `finally`); stopped when the test ends."""
    import app.devrun.sandboxes as erp_sandboxes

    kept: dict[str, Any] = {}
    stops = []

    def keep(name: str, sandbox: Any) -> Any:
        stops.append(sandbox.stop)

        async def later() -> None:
            pass
        sandbox.stop = later
        kept[name] = sandbox
        return sandbox

    start_holded, start_erp = holded_sandbox.start_sandbox, erp_sandboxes.start_erp_sandbox

    async def holded(**options: Any) -> Any:
        return keep("holded", await start_holded(**options))

    async def erp(system: str) -> tuple[Any, dict]:
        sandbox, extra = await start_erp(system)
        return keep("erp", sandbox), extra
    monkeypatch.setattr(holded_sandbox, "start_sandbox", holded)
    monkeypatch.setattr(erp_sandboxes, "start_erp_sandbox", erp)
    yield kept
    for stop in reversed(stops):
        await stop()


@dataclass(frozen=True)
class Doc:
    """An ERP's invoice or credit note as the ERP holds it after the demo."""

    number: str
    total: Decimal
    owed: Decimal


async def odoo_docs(odoo) -> tuple[dict[str, Doc], int]:
    moves = await odoo.search_read("account.move", [["move_type", "in", ["out_invoice", "out_refund"]]],
                                   ["id", "name", "amount_total", "amount_residual"])
    docs = {f"invoice/odoo/{m['id']}": Doc(m["name"], dec(m["amount_total"]), dec(m["amount_residual"]))
            for m in moves}
    return docs, await odoo.count("account.payment")


async def sap_docs(sap) -> tuple[dict[str, Doc], int]:
    docs = {}
    for entity_set, prefix, label in (("Invoices", "", ""), ("CreditNotes", "CN-", "CN ")):
        for d in await sap.all(entity_set):
            docs[f"invoice/sap_b1/{prefix}{d['DocEntry']}"] = Doc(
                f"{label}{d['DocNum']}", dec(d["DocTotal"]), dec(d["DocTotal"]) - dec(d["PaidToDate"]))
    return docs, len(await sap.all("IncomingPayments"))


async def bc_docs(bc) -> tuple[dict[str, Doc], int]:
    docs = {f"invoice/business_central/{d['id']}": Doc(
                d["number"], dec(d["totalAmountIncludingTax"]), dec(d["remainingAmount"]))
            for entity_set in ("salesInvoices", "salesCreditMemos") for d in await bc.all(entity_set)}
    posted = await bc.all("generalLedgerEntries", documentType="Payment")  # 2 lines each
    return docs, len({e["documentNumber"] for e in posted})


@dataclass(frozen=True)
class ErpStory:
    docs: Any  # the ERP's invoices and its payment count, read from its sandbox
    payments_seeded: int
    paid: str  # the number of the invoice the demo pays in Holded
    parked: frozenset[str]  # numbers of the invoices the example mapping parks
    holded_holds: str
    checked: str  # step 3's line (and problems) for the ERP's own tenant


ERPS = {
    "odoo": ErpStory(odoo_docs, 0, "INV/2026/00001", frozenset(),
                     "2 contacts, 2 products, 1 service, 2 documents",
                     "Odoo sandbox: 30 codes, 0 problem(s), 2 list(s) not checked\n"),
    # Its credit note CN-1 is also numbered 1001, and invoice 3 is paid already.
    "sap-b1": ErpStory(sap_docs, 1, "1001", frozenset(),
                       "4 contacts, 2 products, 1 service, 4 documents",
                       "SAP B1 sandbox: 22 codes, 0 problem(s), 1 list(s) not checked\n"),
    # BC rounds VAT per document, Holded per line: V-FAC00001 is a cent apart and parks;
    # BORR-FV00001 is a draft, not due, so V-FAC00002 is the one paid. BC has no withholding:
    # the example's IRPF groups are not in its tenant (docs/business_central.md).
    "business-central": ErpStory(
        bc_docs, 0, "V-FAC00002", frozenset({"V-FAC00001"}),
        "4 contacts, 3 products, 1 service, 2 documents",
        "Business Central sandbox: 19 codes, 3 problem(s), 3 list(s) not checked\n" + "".join(
            f"      systems.business_central.taxes.{code}: Business Central has no tax "
            f"'{code}'; none near among its 12 taxes\n" for code in ("IRPF15", "IRPF7", "IRPF19"))),
}
CHECKED_HOLDED = "\n3/6 published mapping v3 (mapping-es.yaml)\n" \
                 "    checked against the Holded sandbox: 39 codes, 0 problem(s)\n"


def dec(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def outcome_lines(out: str, entity: str = "invoice") -> dict[str, str]:
    """The demo's line per invoice (step 5) or shop payment (step 6): key -> status (and the
    reason when not sent)."""
    return dict(re.findall(rf"^    ({entity}/\S+): (\w+(?:: .+)?)$", out, re.M))


async def suggested_entity_keys(out: str) -> list[str]:
    """`holded-sync tables entities`, run with the environment the demo's last lines print."""
    export = re.search(r"^  export (.+)$", out, re.M)
    assert export, out
    env = dict(pair.split("=", 1) for pair in export.group(1).split())
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["tables", "entities"], env=env)
    assert result.exit_code == 0, result.output
    return [json.loads(line)["key"] for line in result.output.splitlines()]


@pytest.mark.parametrize("erp", sorted(ERPS))
async def test_a_payment_made_in_holded_reaches_the_erp(kafka, tmp_path, capsys, sandboxes, erp):
    story = ERPS[erp]
    await _run_erp(kafka.url, tmp_path, erp)
    out = capsys.readouterr().out
    system = erp.replace("-", "_")
    docs, payments = await story.docs(sandboxes["erp"])
    by_number = {doc.number: key for key, doc in docs.items()}

    # The example mapping checked against both tenants (`mappings check`), as step 3.
    assert f"{CHECKED_HOLDED}    checked against the {story.checked}4/6 " in out, out
    # Every invoice and credit note of the ERP has an outcome; only the expected ones park.
    outcomes = outcome_lines(out)
    assert set(outcomes) == set(docs), out
    parked = {docs[k].number for k, o in outcomes.items() if o.startswith("parked: ")}
    assert parked == story.parked, out
    assert all(o == "succeeded" for k, o in outcomes.items() if docs[k].number not in parked), out
    assert {k for k in await suggested_entity_keys(out) if k.startswith("invoice/")} == set(docs)

    # The invoice paid in Holded is paid in the ERP, by one payment of its whole total.
    paid_key = by_number[story.paid]
    amount = docs[paid_key].total
    assert f"6/6 a customer pays {amount} EUR in Holded for {paid_key}...\n" in out, out
    assert f"    the payment is registered in {erp} against the invoice (reconciled)\n" in out
    assert docs[paid_key].owed == 0
    assert payments == story.payments_seeded + 1
    assert re.search(rf"^  payment/holded/\S+ +payment {amount} EUR +v\[holded:1\]  "
                     rf"ids: {system}=\S+$", out, re.M), out
    assert f"\nHolded now holds {story.holded_holds}.\n" in out


# The shops: invoice key -> what Holded's invoice shows paid once the demo ends.
SHOPS = {
    "shopify": {"invoice/shopify/8100000000014": Decimal(0),  # a refund: a credit note
                "invoice/shopify/8100000000021": Decimal("17.90"),
                "invoice/shopify/8100000000022": Decimal("39.80"),
                "invoice/shopify/8100000000024": Decimal("104.45")},
    "prestashop": {"invoice/prestashop/1": Decimal("276.10"),
                   "invoice/prestashop/2": Decimal("50.00")},
}
SHOP_HOLDED_HOLDS = {"shopify": "3 contacts, 3 products, 0 services, 4 documents",
                     "prestashop": "2 contacts, 3 products, 0 services, 2 documents"}
SHOP_CHECKED = {"shopify": "Shopify sandbox: 3 codes, 0 problem(s), 2 list(s) not checked\n",
                "prestashop": "PrestaShop sandbox: 5 codes, 0 problem(s), 2 list(s) not checked\n"}


@pytest.mark.parametrize("shop", sorted(SHOPS))
async def test_a_shops_payments_are_registered_on_their_holded_invoices(
        kafka, tmp_path, capsys, sandboxes, shop):
    await _run_erp(kafka.url, tmp_path, shop)
    out = capsys.readouterr().out
    holded = sandboxes["holded"]
    expected = SHOPS[shop]

    assert f"{CHECKED_HOLDED}    checked against the {SHOP_CHECKED[shop]}4/6 " in out, out
    assert outcome_lines(out) == dict.fromkeys(expected, "succeeded"), out
    keys = await suggested_entity_keys(out)
    assert {k for k in keys if k.startswith("invoice/")} == set(expected)

    docs = {f["value"]: d for d in await holded.all("documents") for f in d.get("customFields", [])
            if f.get("field") == "holded_sync_key"}
    assert {k: dec(d["paymentsTotal"]) for k, d in docs.items()} == expected
    # Created issued (the demo's HOLDED_APPROVE_DOCUMENTS): a draft's payment would be parked.
    assert all(d["docNumber"] and not d.get("draft") for d in docs.values()), docs
    payments = [k for k in keys if k.startswith("payment/")]
    assert len(payments) == sum(1 for paid in expected.values() if paid)
    assert await holded.count("payments") == len(payments)  # each once
    assert (f"6/6 the shop's payments: {len(payments)} of {len(payments)} registered on their "
            "Holded invoices\n") in out
    assert outcome_lines(out, "payment") == dict.fromkeys(payments, "succeeded"), out
    assert f"\nHolded now holds {SHOP_HOLDED_HOLDS[shop]}.\n" in out
