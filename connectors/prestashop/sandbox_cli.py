"""``holded-sync sandbox prestashop``: run the strict PrestaShop webservice sandbox.

app/cli.py loads ``sandbox_prestashop_command`` into its ``sandbox`` group only when it runs,
so other commands do not import the sandbox.
"""
from __future__ import annotations

import logging

import click

from connectors.prestashop.sandbox import serve
from connectors.prestashop.sandbox_faults import Faults

__all__ = ["sandbox_prestashop_command"]


@click.command("prestashop")
@click.option("--port", type=int, default=8080, show_default=True, help="Port on 127.0.0.1 (0 = any).")
@click.option("--db", "db_path", default=":memory:", show_default=True, help="SQLite file, or :memory:.")
@click.option("--timezone", default="Europe/Madrid", show_default=True, help="The shop's time zone.")
@click.option("--latency-ms", type=int, default=0, show_default=True, help="Added to every request.")
@click.option("--no-seed-data", is_flag=True, help="Start with an empty shop.")
def sandbox_prestashop_command(port: int, db_path: str, timezone: str, latency_ms: int,
                               no_seed_data: bool) -> None:
    """Run the strict PrestaShop webservice sandbox (JSON or XML, Basic-auth key) until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(port, db_path=db_path, timezone=timezone, faults=Faults(latency_ms=latency_ms),
          seed=not no_seed_data)
