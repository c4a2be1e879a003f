"""``holded-sync sandbox odoo``: run the strict Odoo sandbox from the command line.

app/cli.py loads ``sandbox_odoo_command`` into its ``sandbox`` group only when it runs,
so other commands do not import the sandbox.
"""
from __future__ import annotations

import logging

import click

from connectors.odoo.sandbox import serve
from connectors.odoo.sandbox_faults import Faults

__all__ = ["sandbox_odoo_command"]


@click.command("odoo")
@click.option("--port", type=int, default=8069, show_default=True, help="Port on 127.0.0.1 (0 = any).")
@click.option("--db", "db_path", default=":memory:", show_default=True, help="SQLite file, or :memory:.")
@click.option("--latency-ms", type=int, default=0, show_default=True, help="Added to every request.")
@click.option("--no-seed-data", is_flag=True, help="Start with an empty database.")
def sandbox_odoo_command(port: int, db_path: str, latency_ms: int, no_seed_data: bool) -> None:
    """Run the strict Odoo external-API sandbox (JSON-RPC, XML-RPC, JSON-2) until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(port, db_path=db_path, faults=Faults(latency_ms=latency_ms), seed=not no_seed_data)
