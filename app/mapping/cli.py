"""``mappings`` CLI group: validate a mapping document before it is published.

The lead wires this group into the main CLI (``app/cli.py``); it can also run on its own with
``python -m app.mapping.cli validate FILE``.
"""

from __future__ import annotations

import click

from app.mapping.errors import MappingInvalid
from app.mapping.loader import load_mapping
from app.mapping.model import Mapping

__all__ = ["mappings", "echo_warnings"]


def echo_warnings(mapping: Mapping) -> None:
    """What will park records though the document is valid; the exit code stays 0."""
    for issue in mapping.warnings:
        click.echo(f"warning: {issue}", err=True)


@click.group()
def mappings() -> None:
    """Mapping documents: canonical accounts and taxes, and each system's codes."""


@mappings.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Validate FILE; print every error and exit 1 if there is any."""
    try:
        mapping = load_mapping(file)
    except MappingInvalid as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        click.echo(f"{len(exc.issues)} error(s)", err=True)
        raise SystemExit(1) from None
    echo_warnings(mapping)
    click.echo(f"OK: mapping v{mapping.version}, {len(mapping.taxes)} taxes, "
               f"{len(mapping.accounts)} accounts")


if __name__ == "__main__":
    mappings()
