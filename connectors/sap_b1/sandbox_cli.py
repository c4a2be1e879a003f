"""``holded-sync sandbox sap-b1``: run the strict SAP B1 Service Layer sandbox.

app/cli.py loads ``sandbox_sap_command`` into its ``sandbox`` group only when it runs,
so other commands do not import the sandbox.
"""
from __future__ import annotations

import logging

import click

from connectors.sap_b1.sandbox import serve
from connectors.sap_b1.sandbox_faults import Faults

__all__ = ["sandbox_sap_command"]


@click.command("sap")
@click.option("--port", type=int, default=50000, show_default=True,
              help="Port on 127.0.0.1 (0 = any).")
@click.option("--db", "db_path", default=":memory:", show_default=True,
              help="SQLite file, or :memory:.")
@click.option("--latency-ms", type=int, default=0, show_default=True,
              help="Added to every request.")
@click.option("--zone", default="Europe/Madrid", show_default=True,
              help="The company server's time zone (UpdateDate/UpdateTime are local).")
@click.option("--no-seed-data", is_flag=True, help="Start with an empty database.")
def sandbox_sap_command(port: int, db_path: str, latency_ms: int, zone: str,
                        no_seed_data: bool) -> None:
    """Run the strict SAP Business One Service Layer sandbox until interrupted."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(port, db_path=db_path, faults=Faults(latency_ms=latency_ms), zone=zone,
          seed=not no_seed_data)
