"""faust's table manager without its one-second pause at start.

faust's ``TableManager.on_start`` sleeps one second before it freezes the set of tables and
starts recovery, so that tables declared while the app starts still make it in. This app
declares every table in ``create_app``, before the worker starts, so the pause only delays
every start and restart of a worker (a Kubernetes rollout, a crash, a scale-out) by a second.
"""
from __future__ import annotations

from faust.tables import TableManager

__all__ = ["TablesDeclaredUpFront"]


class TablesDeclaredUpFront(TableManager):
    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
