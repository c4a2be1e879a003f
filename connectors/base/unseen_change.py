"""Never write over a change the engine has not read yet: the guard of the sinks that update a
record in place (Odoo partners, Business Central customers, SAP B1 partners, PrestaShop
addresses).

The target record's own modification time is compared with the newest one the engine knows:
the one our last write left, kept in the ledger's ``stamps`` (so it outlives the command, the
worker and a rebalance: the worker builds a sink per command), and the newest change the
target reported, the command's ``base_ts``. A record modified after both holds an edit the
engine has not seen. The sink then parks the command instead of writing, and does not keep it
for re-driving: the target's source reports the change, the merge decides (a Conflict record if
both sides changed a field) and sends a new command whenever the target must still get the
record (app/core/decide.py re-sends to the system a change came from).

An etag alone cannot do this: it says the record changed since the sink's own read, not since
the engine last knew it. The sinks still send ``If-Match`` for the moment between their read
and their write; a 412 there is the same unseen change, met later, and parked the same way.
Targets whose times have whole seconds (Odoo, SAP B1, PrestaShop) cannot see a change made in
the same second as our write.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.base.contracts import Ledger, SinkOutcome

__all__ = ["changed_during_write_reason", "parked_for_good", "remember", "unseen_reason",
           "unseen_since"]


def _ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a target's modification time needs its time zone")
    return int(moment.timestamp() * 1000)


def unseen_since(ledger: Ledger, target_id: str, command: dict[str, Any],
                 modified: dt.datetime | None) -> dt.datetime | None:
    """The newest modification the engine knows of the record, when ``modified`` (the record's
    own time, as just read) is later: an unseen change. None when the write may go ahead (or
    the engine knows no time to compare with: a first write)."""
    known = max(ledger.stamps.get(str(target_id), 0), command.get("base_ts") or 0)
    if not known or modified is None or _ms(modified) <= known:
        return None
    return dt.datetime.fromtimestamp(known / 1000, dt.UTC)


def remember(ledger: Ledger, target_id: str, modified: dt.datetime | None) -> None:
    """Keep the modification time our write (or a check that found nothing to write) left."""
    if modified is not None:
        ledger.stamps[str(target_id)] = _ms(modified)


def unseen_reason(record: str, changed_at: str, base: dt.datetime) -> str:
    """The parked result's reason: which ``record`` changed when (as the target says it)."""
    return (f"{record} changed at {changed_at}, after the newest change the engine knew "
            f"({base.isoformat()}); not overwritten: the engine decides again once it has read "
            "that change")


def changed_during_write_reason(record: str, fields: list[str]) -> str:
    """The parked result's reason after a 412: ``record`` changed between the sink's read and
    its conditional write, in ``fields`` (canonical names)."""
    return (f"stale etag: {record} changed between the sink's read and its write; not "
            f"overwritten ({', '.join(fields)}): the engine decides again once it has read "
            "that change")


def parked_for_good(result: dict[str, Any]) -> SinkOutcome:
    """The outcome of a guarded command: parked, no Conflict record of its own (the merge
    records it once it reads the change) and not re-driven (it would meet the same guard, and
    when the target's value wins no newer write ever comes to clear it)."""
    return SinkOutcome(result, redrive=False)
