"""``mappings`` CLI group: validate a mapping document before it is published.

app/cli.py loads this group as ``holded-sync mappings``; it can also run on its own with
``python -m app.mapping.cli validate FILE``.
"""

from __future__ import annotations

import os

import click

from app.mapping.errors import MappingInvalid
from app.mapping.loader import load_mapping
from app.mapping.model import Mapping

__all__ = ["mappings", "echo_invalid", "echo_warnings", "load_valid"]


def echo_invalid(exc: MappingInvalid) -> None:
    """Every error, one a line, then the count: the same for validate, publish and diff."""
    for issue in exc.issues:
        click.echo(str(issue), err=True)
    click.echo(f"{len(exc.issues)} error(s)", err=True)


def echo_warnings(mapping: Mapping) -> None:
    """What will park records though the document is valid; the exit code stays 0."""
    for issue in mapping.warnings:
        click.echo(f"warning: {issue}", err=True)


def load_valid(file: str | os.PathLike[str]) -> Mapping:
    """FILE's mapping, its warnings printed; if it is invalid, every error and exit 1."""
    try:
        mapping = load_mapping(file)
    except MappingInvalid as exc:
        echo_invalid(exc)
        raise SystemExit(1) from None
    echo_warnings(mapping)
    return mapping


@click.group()
def mappings() -> None:
    """Mapping documents: canonical accounts and taxes, and each system's codes."""


@mappings.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def validate(file: str) -> None:
    """Validate FILE; print every error and exit 1 if there is any (2: no such file)."""
    mapping = load_valid(file)
    click.echo(f"OK: mapping v{mapping.version}, {len(mapping.taxes)} taxes, "
               f"{len(mapping.accounts)} accounts")


if __name__ == "__main__":
    mappings()
