"""Operator commands: `history`, `conflicts`, `dlq`, `parked`.

Everything is read straight from Kafka (topics, and tables through their changelogs), so the
commands work without asking a worker. Output is a readable table by default and JSON lines
with ``--json``. Exit codes follow app/cli.py (see common.py). One module per command group;
app/cli.py loads each group lazily from here, and ``register(cli)`` adds them all to a group at
once (tests build their own).
"""
from __future__ import annotations

import click

from app.operator_cli.common import OperatorError, decoder, iso, ms, parse_since
from app.operator_cli.conflicts import (
    build_override, conflicts, find_conflict, read_conflicts, resolve_conflict)
from app.operator_cli.dead_letters import dlq, dlq_row, read_dlq, redrive_dead_letters
from app.operator_cli.history import history
from app.operator_cli.parked import parked, read_parked, redrive_parked

__all__ = ["OperatorError", "build_override", "conflicts", "decoder", "dlq", "dlq_row",
           "find_conflict", "history", "iso", "ms", "parked", "parse_since", "read_conflicts",
           "read_dlq", "read_parked", "redrive_dead_letters", "redrive_parked", "register",
           "resolve_conflict"]


def register(cli: click.Group) -> None:
    """Add the operator commands to the `holded-sync` group."""
    for command in (history, conflicts, dlq, parked):
        cli.add_command(command)
