"""The demo's sixth step: one contact edited in Odoo and in Holded before either edit synced.

Apart from app/demo.py because it is the one step that drives Holded by hand and times itself
against the Holded poller.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from app.avro import codec
from app.devrun.process import WorkerProcess, pipeline_lag, wait_for
from app.ingest import ingest_file
from app.inspect import read_table, read_topic
from app.settings import Settings
from app.topics import TopicNames

__all__ = ["concurrent_edit"]


async def concurrent_edit(settings: Settings, holded, worker: WorkerProcess, tmp: Path,
                          poll_s: float) -> None:
    """One contact edited in Holded (through its API) and in Odoo (an export line dated a moment
    earlier), each on the version both systems held. Holded's edit is made in Holded, as a
    person would: a change merely claimed to come from Holded once won the conflict while the
    Holded contact kept Odoo's value. The Odoo edit's write to Holded finds the contact changed
    and is held back (parked), the Holded poller reports the edit, and the merge settles it."""
    import httpx

    key = "contact/odoo/C-0002"
    holded_id = (await read_table(settings, "links"))[key]["ids"]["holded"]
    await _just_after_a_poll(holded, worker, poll_s)
    async with httpx.AsyncClient(base_url=holded.url, headers={"key": "sandbox-key"}) as http:
        edited = await http.put(f"/invoicing/v1/contacts/{holded_id}",
                                json={"email": "contabilidad@martinruiz.es"})
    if edited.status_code != 200:
        raise click.ClickException(f"Holded refused the edit of {key}: HTTP {edited.status_code} "
                                   f"{edited.text[:200]}")
    data = {"kind": "customer", "name": "Laura Martín Ruiz", "tax_id": "12345678Z", "is_person": True,
            "email": "laura.martin@empresa.es",
            "address": {"street": "Av. Diagonal 400", "city": "Barcelona", "postal_code": "08037",
                        "province": "Barcelona", "country_code": "ES"},
            "tax_regime": "general", "payment_due_days": 15, "language": "es", "default_taxes": ["iva_21"]}
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    path = tmp / "edit-odoo.jsonl"
    path.write_text(json.dumps({"entity": "contact", "id": "C-0002", "key": key,
                                "updated_at": when.isoformat(), "data": data}, ensure_ascii=False))
    await ingest_file(path, "odoo", settings)
    conflicts = TopicNames(settings).conflicts

    async def settled() -> bool:
        found = await read_topic(settings, conflicts, codec("Conflict").loads)
        return any(r.value["entity_key"] == key for r in found) and await pipeline_lag(settings) == 0
    await wait_for(settled, 60, "the Holded poller to report the edit and the merge to settle it",
                   worker)
    results = await read_topic(settings, TopicNames(settings).results("holded"),
                               codec("CommandResult").loads)
    held_back = any(r.value["entity_key"] == key and r.value["status"] == "parked" for r in results)
    email = (await holded.get("contacts", holded_id) or {}).get("email")
    click.echo(f"    Holded's contact holds {email}" + ("; Odoo's write to it was held back (parked) "
        "rather than overwrite an edit not yet read" if held_back else ""))


async def _just_after_a_poll(holded, worker: WorkerProcess, poll_s: float) -> None:
    """Return once the Holded poller has listed the contacts: its next look is ``poll_s`` away,
    time enough for the Odoo edit to be decided first, so the story runs in one order."""
    seen = len(holded.requests)

    async def listed() -> bool:
        return any(r.method == "GET" and r.path.endswith("/contacts") and r.status is not None
                   for r in holded.requests[seen:])
    await wait_for(listed, 4 * poll_s, "the Holded poller to list the contacts", worker)
