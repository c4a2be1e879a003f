"""``holded-sync sandbox holded``: run the strict Holded sandbox from the command line.

app/cli.py loads ``sandbox_holded_command`` into its ``sandbox`` group only when it runs,
so other commands do not import the sandbox.
"""
from __future__ import annotations

import logging

import click

from connectors.holded.sandbox import serve
from connectors.holded.sandbox_faults import Faults, RateLimit

__all__ = ["sandbox_holded_command", "faults_from_options"]

logger = logging.getLogger(__name__)


def faults_from_options(*, latency_ms: int, error_rate: float, timeout_rate: float, timeout_seconds: float,
                        lose_responses: float, html_rate_next: int, seed: int) -> Faults:
    return Faults(latency_ms=latency_ms, error_rate=error_rate, timeout_rate=timeout_rate,
                  timeout_seconds=timeout_seconds, lose_rate=lose_responses, html_next=html_rate_next, seed=seed)


def _rate_limit(ctx: click.Context, param: click.Parameter, value: str) -> RateLimit | None:
    if value in ("", "off", "none"):
        return None
    try:
        return RateLimit.parse(value)
    except ValueError as exc:
        raise click.BadParameter("expected N/SECONDS, e.g. 100/1, or 'off'") from exc


@click.command("holded")
@click.option("--port", type=int, default=8790, show_default=True, help="Port on 127.0.0.1 (0 = any free port).")
@click.option("--db", "db_path", default=":memory:", show_default=True, help="SQLite file, or :memory:.")
@click.option("--api-key", "api_keys", multiple=True, default=("sandbox-key",), show_default=True,
              help="Accepted key (v1 'key' header and v2 Bearer token); repeatable.")
@click.option("--rate-limit", default="100/1", show_default=True, callback=_rate_limit,
              help="Sliding window per key as N/SECONDS, or 'off'.")
@click.option("--latency-ms", type=int, default=0, show_default=True, help="Added to every request.")
@click.option("--error-rate", type=float, default=0.0, show_default=True, help="Probability of a 503 (no commit).")
@click.option("--timeout-rate", type=float, default=0.0, show_default=True,
              help="Probability of holding a request for --timeout-seconds, then 504.")
@click.option("--timeout-seconds", type=float, default=30.0, show_default=True)
@click.option("--lose-responses", type=float, default=0.0, show_default=True,
              help="Probability that a write commits and its connection is then dropped.")
@click.option("--html-next", "html_rate_next", type=int, default=0, show_default=True,
              help="The next N requests get the HTML app page (HTTP 200).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault RNG.")
@click.option("--no-seed-data", is_flag=True, help="Start with an empty tenant.")
def sandbox_holded_command(port: int, db_path: str, api_keys: tuple[str, ...], rate_limit: RateLimit | None,
                           latency_ms: int, error_rate: float, timeout_rate: float, timeout_seconds: float,
                           lose_responses: float, html_rate_next: int, seed: int, no_seed_data: bool) -> None:
    """Run the strict Holded API sandbox (v1 + v2) until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faults = faults_from_options(latency_ms=latency_ms, error_rate=error_rate, timeout_rate=timeout_rate,
                                 timeout_seconds=timeout_seconds, lose_responses=lose_responses,
                                 html_rate_next=html_rate_next, seed=seed)
    serve(port, db_path=db_path, api_keys=api_keys, rate_limit=rate_limit, faults=faults, seed=not no_seed_data)
