"""The loop every connector's tenant reader shares (``connectors/<system>/tenant.py``): read
each section a mapping fills with that section's reader, and say why a section was not read.

What a tenant holds is compared by :func:`app.mapping.tenant.compare`; a section left out of
the codes read is reported *not checked*, never passed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping

from app.mapping.tenant import Held, Tenant

__all__ = ["Codes", "SectionReader", "Unreadable", "read_sections"]

Codes = dict[str, Held]
SectionReader = Callable[[], Awaitable[Codes]]


class Unreadable(Exception):
    """A section the tenant answered for in a way the check cannot compare (its text: why)."""


async def read_sections(system: str, label: str, sections: Collection[str],
                        readers: Mapping[str, SectionReader], *, unread: str | Mapping[str, str],
                        on_read: Callable[[str], None], notes: tuple[str, ...] = (),
                        uses: Mapping[str, SectionReader] | None = None) -> Tenant:
    """``readers[section]()`` for each of ``sections``; a section without a reader is not
    checked for the reason ``unread`` (one text, or one per section with ``""`` for the
    rest), one whose reader raised :class:`Unreadable` for its own. ``uses[section]()`` reads
    the codes the tenant's records carry, for a section the system cannot list
    (:attr:`Tenant.used`). Connector errors (credentials, network) propagate: the system
    cannot be read."""
    codes: dict[str, Codes] = {}
    used: dict[str, Codes] = {}
    unchecked: dict[str, str] = {}
    for section in sections:
        read, into = readers.get(section), codes
        if read is None and uses and section in uses:
            read, into = uses[section], used
        if read is None:
            unchecked[section] = unread if isinstance(unread, str) else \
                unread.get(section, unread[""])
            continue
        on_read(section)
        try:
            into[section] = await read()
        except Unreadable as exc:
            unchecked[section] = str(exc)
    return Tenant(system, label, codes, unchecked, notes, used)
