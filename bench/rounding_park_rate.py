"""Measure: how many single-line, tax-included shop orders reach Holded with the shop's total.

    /work/main/.venv/bin/python bench/rounding_park_rate.py [--low 1.00] [--high 30.00]

Every gross price from ``--low`` to ``--high`` in steps of one cent, at each Spanish VAT rate
(21, 10, 4 %), is one Shopify order of one unit, prices including VAT, taxed the way Shopify
taxes an inclusive price (``tax = gross * rate / (1 + rate)`` to the cent). Each order goes
through ``order_to_invoice`` and the Holded mapping (``map_invoice``): a ``TotalsMismatch``
there is a *park*. What the mapping accepts is posted to the in-process Holded sandbox and read
back with the sink's own check (``check_document``): a difference there is a *wrong write*.

``--line-tax-base cent`` runs the sandbox as a tenant that taxed each line's base rounded to the
cent would (the unverified reading of Holded's line rounding): what the read-back then catches.

Printed per rate: orders, parked (and how many of those have an exact net price ending in half a
cent, which no single line can reproduce), written with a read-back mismatch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from app.mapping import TotalsMismatch, parse_mapping  # noqa: E402
from app.mapping.yamlload import safe_load  # noqa: E402
from connectors.base.jsonio import dumps_json  # noqa: E402
from connectors.holded.mapping import DocumentRefs, map_invoice  # noqa: E402
from connectors.holded.sandbox import start_sandbox  # noqa: E402
from connectors.holded.sink_verify import check_document  # noqa: E402
from connectors.shopify.mapping import order_to_invoice  # noqa: E402
from connectors.shopify.sandbox_seed import line, order, transaction  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CENT = Decimal("0.01")
RATES = (21, 10, 4)


def shopify_order(gross: Decimal, rate: int) -> dict:
    """One unit at ``gross`` (VAT included), its tax as Shopify computes an inclusive tax."""
    tax = (gross * rate / (100 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
    record = order("#1", "gid://shopify/Customer/1", "PAID",
                   [line(1, "SKU-1", "Item", 1, str(gross), rate / 100, str(tax),
                         "gid://shopify/ProductVariant/1")],
                   str(gross), str(tax), "shopify_payments",
                   [transaction(1, "SALE", "shopify_payments", str(gross), "2026-11-20T10:15:00Z")])
    record.update(id="gid://shopify/Order/1", createdAt="2026-11-20T10:00:00Z")
    for node in record["lineItems"]["nodes"]:
        node["sku"] = None  # a free line: no catalogue product to look up
    return record


def half_cent_net(gross: Decimal, rate: int) -> bool:
    """The exact net price ends in half a cent (1.17 at 4 % is 1.125): its base and its tax
    both round up, so no net price gives the shop's gross back with one line."""
    net = gross * 100 / (100 + rate)
    return net == net.quantize(Decimal("0.001")) and net != net.quantize(CENT)


async def measure(low: Decimal, high: Decimal, line_tax_base: str) -> dict[int, Counter]:
    mapping = parse_mapping(safe_load((ROOT / "docs/examples/mapping-es.yaml").read_text("utf-8")),
                            source="mapping-es.yaml")
    server = await start_sandbox(port=0, rate_limit=None)
    server.state.line_tax_base = line_tax_base
    counts: dict[int, Counter] = {rate: Counter() for rate in RATES}
    try:
        async with httpx.AsyncClient(base_url=server.v1_url, headers={"key": "sandbox-key"}) as http:
            contact = (await http.post("/contacts", json={"name": "Cliente"})).json()["id"]
            for rate in RATES:
                gross = low
                while gross <= high:
                    counts[rate]["orders"] += 1
                    invoice = order_to_invoice(shopify_order(gross, rate), mapping=mapping)
                    key = f"invoice/shopify/{rate}-{gross}"
                    try:
                        request = map_invoice(invoice, entity_key=key, mapping=mapping,
                                              refs=DocumentRefs(contact))
                    except TotalsMismatch:
                        counts[rate]["parked"] += 1
                        counts[rate]["ties"] += half_cent_net(gross, rate)
                    else:
                        created = await http.post(request.path, content=dumps_json(request.body),
                                                  headers={"Content-Type": "application/json"})
                        stored = (await http.get(f"{request.path}/{created.json()['id']}")).json()
                        if check_document(request, stored, entity_key=key, mapping=mapping):
                            counts[rate]["wrong_writes"] += 1
                        elif stored["total"] != float(gross):
                            counts[rate]["wrong_writes"] += 1
                    gross += CENT
    finally:
        await server.stop()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=Decimal, default=Decimal("1.00"))
    parser.add_argument("--high", type=Decimal, default=Decimal("30.00"))
    parser.add_argument("--line-tax-base", choices=("exact", "cent"), default="exact",
                        help="what the sandbox taxes a line on (cent: the unverified reading)")
    args = parser.parse_args()
    counts = asyncio.run(measure(args.low, args.high, args.line_tax_base))
    total = Counter()
    for rate, count in counts.items():
        total.update(count)
        print(f"IVA {rate:>2} %: {count['orders']} orders, {count['parked']} parked "
              f"({100 * count['parked'] / count['orders']:.1f} %; {count['ties']} of them "
              f"exact half-cent nets), {count['wrong_writes']} written with a wrong total")
    print(f"all     : {total['orders']} orders, {total['parked']} parked "
          f"({100 * total['parked'] / total['orders']:.1f} %), "
          f"{total['wrong_writes']} written with a wrong total")


if __name__ == "__main__":
    main()
