"""``holded-sync mappings check FILE``: a mapping document against the live systems.

Validates FILE offline first (as ``mappings validate``), then has each system's connector read
what its tenant holds, through the client a worker would build from the same settings (its
rate limiter and error mapping included; read-only calls), and compares
(:mod:`app.mapping.tenant`). Exit 0: nothing to report; 1: problems, or FILE invalid; 2: a
system could not be read (the reason says whether credentials or the network), or no such file.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import click

from app.mapping import Mapping
from app.mapping.tenant import CHECKED_SECTIONS, Problem, SystemReport, compare, not_covered
from app.settings import CONNECTORS, Settings, system_name
from connectors.base.errors import ConnectorError, Fault

__all__ = ["Unreachable", "check_tenants", "mappings_check"]

# The connectors with a tenant reader: ``read_tenant(client, sections, on_read=...)``.
READERS = {system: f"connectors.{system}.tenant" for system in (
    "holded", "odoo", "business_central", "sap_b1", "prestashop", "shopify")}
_HINTS = {Fault.CONFIG: "check its credentials and URL",
          Fault.TRANSIENT: "the network, or the service is down; try again",
          Fault.REMOTE: "the service answered in a way the check cannot read"}


@dataclass(frozen=True, slots=True)
class Unreachable:
    """A system whose tenant could not be read, and why."""

    system: str
    reason: str

    def __str__(self) -> str:
        return f"{self.system}: cannot be reached: {self.reason}"


Outcome = SystemReport | Unreachable


async def check_tenants(mapping: Mapping, settings: Settings, systems: Sequence[str], *,
                        on_read: Callable[[str, str], None] = lambda system, section: None
                        ) -> list[Outcome]:
    """One outcome per system of ``systems``, in that order."""
    from app.connections import CREDENTIAL_SETTING, IncompleteSettings, clients

    try:
        api = clients(settings.model_copy(update={"systems": tuple(systems)}))
    except IncompleteSettings as exc:
        return [Unreachable(s, str(exc)) for s in systems]
    outcomes: list[Outcome] = []
    try:
        for system in systems:
            section = mapping.system(system)
            if section is None:
                outcomes.append(SystemReport(system, problems=(Problem(
                    f"systems.{system}", f"the mapping has no section for {system}, which the "
                    "settings connect: every record of it would park"),)))
            elif system not in READERS:
                outcomes.append(not_covered(mapping, system, f"no tenant check for {system} yet"))
            elif system not in api:
                outcomes.append(Unreachable(system, f"{CREDENTIAL_SETTING[system]} is not set"))
            else:
                outcomes.append(await _check_one(mapping, system, api[system], on_read))
    finally:
        await api.aclose()  # its keep-alive sockets were left to the garbage collector
    return outcomes


async def _check_one(mapping: Mapping, system: str, client: object,
                     on_read: Callable[[str, str], None]) -> Outcome:
    section = mapping.systems[system]
    wanted = [s for s in CHECKED_SECTIONS if len(section.section(s) or ())]
    reader = import_module(READERS[system]).read_tenant
    try:
        tenant = await reader(client, wanted, on_read=lambda s: on_read(system, s))
    except ConnectorError as exc:
        reason = " | ".join(str(exc).split(" | ")[:2])  # the message and the request, no body
        return Unreachable(system, f"{reason} ({_HINTS.get(exc.fault, exc.fault.value)})")
    return compare(mapping, tenant)


def _systems(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(system_name(v) or v for v in values)
    unknown = [v for v, n in zip(values, names) if n not in CONNECTORS]
    if unknown:
        raise click.BadParameter(f"{', '.join(map(repr, unknown))}: one of {', '.join(CONNECTORS)}")
    return tuple(dict.fromkeys(names))


@click.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--system", "systems", multiple=True, callback=_systems, metavar="NAME",
              help="Check only this system (repeatable; default: every system the settings "
                   "connect, HOLDED_SYNC_SYSTEMS).")
@click.pass_context
def mappings_check(ctx: click.Context, file: Path, systems: tuple[str, ...]) -> None:
    """Check FILE against what each system's tenant holds: tax keys and rates, accounts,
    series, payment methods, treasuries, sales channels, warehouses. One line per problem,
    then a summary per system. Exit 0 none, 1 problems (or FILE invalid), 2 a system could not
    be reached or no such file."""
    from app.mapping.cli import load_valid

    settings: Settings = ctx.obj["settings"]
    mapping = load_valid(file)
    chosen = systems or tuple(s for s in settings.systems if s in CONNECTORS)

    def progress(system: str, section: str) -> None:
        click.echo(f"reading {system} {section.replace('_', ' ')}...", err=True)

    outcomes = asyncio.run(check_tenants(mapping, settings, chosen, on_read=progress))
    for outcome in outcomes:
        if isinstance(outcome, Unreachable):
            click.echo(f"error: {outcome}", err=True)
            continue
        for problem in outcome.problems:
            click.echo(str(problem))
    for outcome in outcomes:
        if isinstance(outcome, SystemReport):
            click.echo(outcome.summary())
    if any(isinstance(o, Unreachable) for o in outcomes):
        sys.exit(2)
    sys.exit(1 if any(o.problems for o in outcomes if isinstance(o, SystemReport)) else 0)
