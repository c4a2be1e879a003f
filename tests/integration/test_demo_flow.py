"""The quick start's story (README: `make demo`) on the session's broker: the sample file
reaches the Holded sandbox once, its bad line is reported, a second ingest writes nothing, and
the same customer edited in Odoo and in Holded is one settled conflict, won in Holded too. `holded-sync demo`
runs exactly this (`app.demo._run`) after starting a local Kafka. The commands it suggests at
the end are run as printed, against the demo's topics."""
from __future__ import annotations

import asyncio
import json
import re

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.demo import _run

pytestmark = pytest.mark.kafka

ENTITIES = ["contact/odoo/C-0001", "contact/odoo/C-0002", "contact/odoo/C-0003",
            "invoice/odoo/INV-2026-0042", "invoice/odoo/INV-2026-0043",
            "invoice/odoo/INV-2026-0044", "product/odoo/P-100", "product/odoo/S-200"]


async def test_the_quick_start_demo_tells_its_whole_story(kafka, tmp_path, capsys):
    await _run(kafka.url, tmp_path)
    out = capsys.readouterr().out
    # The published mapping is checked against the sandbox's tenant (`mappings check`).
    assert "    checked against the Holded sandbox: 39 codes, 0 problem(s)\n" in out
    assert "rejected line 10: data.totals.subtotal: 1.001 has more than 2 decimals" in out
    assert "3/3 invoices in Holded, 0 record(s) in flight" in out
    assert "the same file again: 0 write(s) to Holded (never a duplicate)" in out
    assert "Holded now holds 3 contacts, 1 product, 1 service, 3 documents." in out
    linked = re.findall(r"^  (\S+) .* ids: holded=[0-9a-f]+$", out, re.M)
    assert linked == ENTITIES
    assert re.search(r"^Conflict on contact/odoo/C-0002 field email: odoo=.* vs holded=.* "
                     r"-> holded wins \(last_writer_wins\)$", out, re.M)
    # The winner is what Holded holds: the Holded edit is made in Holded, and the Odoo edit's
    # write is held back instead of overwriting it (it once won only in the engine's table).
    assert ("    Holded's contact holds contabilidad@martinruiz.es; Odoo's write to it was held "
            "back (parked) rather than overwrite an edit not yet read") in out

    # The commands it suggests at the end, run as printed, show that state.
    export = re.search(r"^  export (.+)$", out, re.M)
    assert export, out
    env = dict(pair.split("=", 1) for pair in export.group(1).split())
    assert env["HOLDED_SYNC_BROKER"] == kafka.url and env["HOLDED_SYNC_PARTITIONS"] == "4"

    def run(*args: str):
        return CliRunner().invoke(cli, list(args), env=env)

    tables = await asyncio.to_thread(run, "tables", "entities")
    assert tables.exit_code == 0, tables.output
    assert [json.loads(line)["key"] for line in tables.output.splitlines()] == ENTITIES
    example = re.search(r"^  holded-sync history (\S+)$", out, re.M).group(1)
    assert example == "invoice/odoo/INV-2026-0042"
    history = await asyncio.to_thread(run, "history", example)
    assert history.exit_code == 0, history.output
    assert re.search(r" change +odoo +upsert ", history.output)
    assert re.search(r" result +holded +succeeded ", history.output)
    conflicts = await asyncio.to_thread(run, "conflicts", "list")
    assert conflicts.exit_code == 0 and "contact/odoo/C-0002  email" in conflicts.output
    assert "  holded-sync history contact/odoo/C-0002   # the conflict, step by step" in out
    story = await asyncio.to_thread(run, "history", "contact/odoo/C-0002")
    assert re.search(r" result +holded +parked ", story.output)
    assert re.search(r" conflict +holded +email: took_incoming ", story.output)
    # The merged record is sent to odoo, which nothing plays here: the summary says so.
    assert re.search(r" command +odoo +upsert ", story.output)
    assert not re.search(r" result +odoo ", story.output)
    assert "Odoo is a file here: what the engine sends it waits in commands.odoo" in out
