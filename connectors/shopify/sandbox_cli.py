"""``holded-sync sandbox shopify``: run the strict Shopify sandbox from the command line.

app/cli.py loads ``sandbox_shopify_command`` into its ``sandbox`` group only when it runs,
so other commands do not import the sandbox.
"""
from __future__ import annotations

import logging

import click

from connectors.shopify.sandbox import ACCESS_TOKEN, APP_SECRET, serve
from connectors.shopify.sandbox_faults import Faults

__all__ = ["sandbox_shopify_command"]


@click.command("shopify")
@click.option("--port", type=int, default=8793, show_default=True,
              help="Port on 127.0.0.1 (0 = any free port).")
@click.option("--db", "db_path", default=":memory:", show_default=True,
              help="SQLite file, or :memory:.")
@click.option("--access-token", default=ACCESS_TOKEN, show_default=True)
@click.option("--app-secret", default=APP_SECRET, show_default=True,
              help="Key of the webhook HMAC signatures.")
@click.option("--bucket-size", type=float, default=1000.0, show_default=True,
              help="GraphQL cost bucket, points.")
@click.option("--restore-rate", type=float, default=100.0, show_default=True,
              help="GraphQL points restored per second.")
@click.option("--webhook-url", default=None, help="Deliver signed webhooks of changes here.")
@click.option("--latency-ms", type=int, default=0, show_default=True)
@click.option("--error-rate", type=float, default=0.0, show_default=True,
              help="Probability of a 503 before anything runs.")
@click.option("--lose-responses", type=float, default=0.0, show_default=True,
              help="Probability that a mutation commits and its connection is then dropped.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault RNG.")
@click.option("--no-seed-data", is_flag=True, help="Start without the Spanish demo shop.")
def sandbox_shopify_command(port: int, db_path: str, access_token: str, app_secret: str,
                            bucket_size: float, restore_rate: float, webhook_url: str | None,
                            latency_ms: int, error_rate: float, lose_responses: float, seed: int,
                            no_seed_data: bool) -> None:
    """Run the strict Shopify Admin GraphQL sandbox until interrupted."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faults = Faults(latency_ms=latency_ms, error_rate=error_rate, lose_rate=lose_responses,
                    seed=seed)
    serve(port, webhook_url=webhook_url, db_path=db_path, access_token=access_token,
          app_secret=app_secret, bucket_size=bucket_size, restore_rate=restore_rate,
          faults=faults, seed_data=not no_seed_data)
