"""``holded-sync sandbox business-central``: run the strict BC sandbox from the command line.

app/cli.py loads ``sandbox_bc_command`` into its ``sandbox`` group only when it runs,
so other commands do not import the sandbox.
"""
from __future__ import annotations

import logging

import click

from connectors.business_central.sandbox import CLIENT_ID, CLIENT_SECRET, serve
from connectors.business_central.sandbox_faults import Faults

__all__ = ["sandbox_bc_command"]


@click.command("business_central")
@click.option("--port", type=int, default=8791, show_default=True,
              help="Port on 127.0.0.1 (0 = any free port).")
@click.option("--db", "db_path", default=":memory:", show_default=True,
              help="SQLite file, or :memory:.")
@click.option("--client-id", default=CLIENT_ID, show_default=True)
@click.option("--client-secret", default=CLIENT_SECRET, show_default=True)
@click.option("--page-size", type=int, default=20000, show_default=True,
              help="Server-driven page size (@odata.nextLink).")
@click.option("--notify-every", type=float, default=30.0, show_default=True,
              help="Seconds between webhook deliveries (BC delays notices ~30 s).")
@click.option("--latency-ms", type=int, default=0, show_default=True)
@click.option("--error-rate", type=float, default=0.0, show_default=True,
              help="Probability of a 503 before the handler (no commit).")
@click.option("--lose-responses", type=float, default=0.0, show_default=True,
              help="Probability that a write commits and its connection is then dropped.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault RNG.")
@click.option("--no-seed-data", is_flag=True, help="Start without the Spanish demo company.")
def sandbox_bc_command(port: int, db_path: str, client_id: str, client_secret: str,
                       page_size: int, notify_every: float, latency_ms: int, error_rate: float,
                       lose_responses: float, seed: int, no_seed_data: bool) -> None:
    """Run the strict Business Central API v2.0 sandbox until interrupted."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faults = Faults(latency_ms=latency_ms, error_rate=error_rate, lose_rate=lose_responses,
                    seed=seed)
    serve(port, notify_every=notify_every, db_path=db_path, clients={client_id: client_secret},
          page_size=page_size, faults=faults, seed_data=not no_seed_data)
