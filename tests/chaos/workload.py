"""The chaos input: a seeded ERP export (JSON Lines for ``app.ingest``) with tax variety.

Customers in the general regime and in recargo de equivalencia, goods and professional
services (IRPF withholding), and later edits of the same contacts, products and invoices.
Amounts are multiples of ten euros so every tax (21, 10, 5.2, 1.4, IRPF 15) is exact to the
cent and Holded's own totals must equal the ERP's.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal

WORKLOAD_SEED = 20260308
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
RATES = {"iva_21": Decimal("0.21"), "iva_10": Decimal("0.10"), "rec_5_2": Decimal("0.052"),
         "rec_1_4": Decimal("0.014")}
IRPF = {"irpf_15": Decimal("0.15")}


@dataclass(frozen=True)
class Workload:
    lines: list[str]                  # JSON lines in publication order
    contacts: frozenset[str]          # entity keys (= Holded customId)
    products: dict[str, str]          # entity key -> sku
    invoices: frozenset[str]          # entity keys (= Holded sync key)
    totals: dict[str, Decimal]        # invoice key -> final total

    @property
    def entities(self) -> int:
        return len(self.contacts) + len(self.products) + len(self.invoices)


def _dni(n: int) -> str:
    return f"{n:08d}{DNI_LETTERS[n % 23]}"


def _cif(n: int) -> str:
    digits = f"{n:07d}"
    odd = sum(sum(divmod(int(d) * 2, 10)) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    return f"B{digits}{(10 - (odd + even) % 10) % 10}"


def _line(entity: str, source_id: str, updated_at: str, data: dict) -> str:
    return json.dumps({"entity": entity, "id": source_id, "updated_at": updated_at, "data": data},
                      ensure_ascii=False)


def generate(contacts: int = 30, products: int = 10, invoices: int = 60,
             seed: int = WORKLOAD_SEED) -> Workload:
    rng = random.Random(seed)
    lines: list[str] = []
    people: dict[str, dict] = {}
    for i in range(1, contacts + 1):
        retailer = i % 5 == 0
        person = i % 3 == 0 and not retailer
        tax_id = _dni(10_000_000 + i * 7919) if person else _cif(1_000_000 + i * 104_729)
        people[f"C-{i:03d}"] = {
            "kind": "customer", "name": f"Cliente Caos {i:03d}", "tax_id": tax_id,
            "is_person": person, "email": f"c{i:03d}@caos.example.es",
            "tax_regime": "equivalence_surcharge" if retailer else "general",
            "payment_due_days": 30, "language": "es",
            "default_taxes": ["iva_21", "rec_5_2"] if retailer else ["iva_21"]}
        lines.append(_line("contact", f"C-{i:03d}", f"2026-03-01T08:{i % 60:02d}:00Z", people[f"C-{i:03d}"]))
    catalogue: dict[str, dict] = {}
    for i in range(1, products + 1):
        service = i % 4 == 0
        catalogue[f"P-{i:02d}"] = {"kind": "service" if service else "product", "sku": f"CAOS-{i:02d}",
                                   "name": f"{'Servicio' if service else 'Artículo'} {i:02d}",
                                   "price": f"{10 * rng.randint(1, 9)}.00",
                                   "sales_taxes": ["iva_21"] if service else [rng.choice(["iva_21", "iva_10"])]}
        lines.append(_line("product", f"P-{i:02d}", "2026-03-01T07:00:00Z", catalogue[f"P-{i:02d}"]))
    docs: dict[str, dict] = {}
    for i in range(1, invoices + 1):
        cid = f"C-{rng.randint(1, contacts):03d}"
        docs[f"INV-{i:03d}"] = _invoice(rng, i, cid, people[cid], catalogue)
    invoice_ids = list(docs)
    edited_invoices = set(rng.sample(invoice_ids, max(1, invoices // 10)))
    edited_contacts = rng.sample(sorted(people), max(1, contacts // 3))
    edited_products = rng.sample(sorted(catalogue), max(1, products // 5))
    for n, iid in enumerate(invoice_ids):
        lines.append(_line("invoice", iid, f"2026-03-03T09:{n % 60:02d}:00Z", docs[iid]))
        if n % 6 == 5 and edited_contacts:  # contact edits interleaved with the invoices
            cid = edited_contacts.pop()
            people[cid] = {**people[cid], "email": f"facturas.{cid.lower()}@caos.example.es"}
            lines.append(_line("contact", cid, f"2026-03-04T10:{n % 60:02d}:00Z", people[cid]))
    for pid in edited_products:
        catalogue[pid] = {**catalogue[pid], "name": catalogue[pid]["name"] + " (v2)"}
        lines.append(_line("product", pid, "2026-03-05T07:00:00Z", catalogue[pid]))
    for iid in sorted(edited_invoices):  # a corrected quantity: new totals
        docs[iid] = _invoice(rng, int(iid[4:]), docs[iid]["customer_key"].rsplit("/", 1)[1],
                             people[docs[iid]["customer_key"].rsplit("/", 1)[1]], catalogue,
                             number=docs[iid]["number"])
        lines.append(_line("invoice", iid, "2026-03-06T09:00:00Z", docs[iid]))
    return Workload(
        lines=lines, contacts=frozenset(f"contact/odoo/{c}" for c in people),
        products={f"product/odoo/{p}": d["sku"] for p, d in catalogue.items()},
        invoices=frozenset(f"invoice/odoo/{i}" for i in docs),
        totals={f"invoice/odoo/{i}": Decimal(d["totals"]["total"]) for i, d in docs.items()})


def _invoice(rng: random.Random, i: int, cid: str, customer: dict, catalogue: dict[str, dict],
             number: str | None = None) -> dict:
    retailer = customer["tax_regime"] == "equivalence_surcharge"
    lines, subtotal, tax, withheld = [], Decimal(0), Decimal(0), Decimal(0)
    for n, pid in enumerate(rng.sample(sorted(catalogue), rng.randint(1, 3)), start=1):
        product = catalogue[pid]
        qty, price = rng.randint(1, 5), Decimal(product["price"])
        vat = product["sales_taxes"][0]
        taxes = [vat, {"iva_21": "rec_5_2", "iva_10": "rec_1_4"}[vat]] if retailer else [vat]
        withholding = "irpf_15" if product["kind"] == "service" and not customer["is_person"] else None
        base = qty * price
        subtotal += base
        tax += sum(base * RATES[t] for t in taxes)
        withheld += base * IRPF[withholding] if withholding else 0
        line = {"line_no": n, "sku": product["sku"], "product_key": f"product/odoo/{pid}",
                "description": product["name"], "quantity": str(qty), "unit_price": product["price"],
                "taxes": taxes}
        if withholding:
            line["withholding"] = withholding
        lines.append(line)
    cent = Decimal("0.01")
    totals = {"subtotal": str(subtotal.quantize(cent)), "tax_total": str(tax.quantize(cent)),
              "withholding_total": str(withheld.quantize(cent)),
              "total": str((subtotal + tax - withheld).quantize(cent))}
    return {"doc_type": "invoice", "number": number or f"CAOS/2026/{i:04d}",
            "issue_date": f"2026-03-{1 + i % 28:02d}", "customer_key": f"contact/odoo/{cid}",
            "customer_tax_id": customer["tax_id"], "tax_regime": customer["tax_regime"],
            "lines": lines, "totals": totals}
