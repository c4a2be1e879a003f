"""The run-until-signal loop every sandbox's CLI uses: ticks while it waits, stops on a signal."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from connectors.base.sandbox_serving import run_until_signal


def test_it_ticks_while_waiting_and_stops_the_sandbox_on_sigterm(capsys):
    ticks, stopped = [], []

    async def tick():
        ticks.append(1)
        if len(ticks) == 3:  # the handler is the loop's: the process is not terminated
            os.kill(os.getpid(), signal.SIGTERM)

    async def stop():
        stopped.append(len(ticks))

    asyncio.run(run_until_signal("Some sandbox at http://127.0.0.1:1", stop, every=0.01, tick=tick))
    assert stopped == [3]
    assert capsys.readouterr().out.splitlines() == [
        "Some sandbox at http://127.0.0.1:1", "  it runs until Ctrl-C (or SIGTERM)"]


def test_a_failing_tick_still_stops_the_sandbox():
    stopped = []

    async def tick():
        raise RuntimeError("webhook endpoint gone")

    async def stop():
        stopped.append(True)

    with pytest.raises(RuntimeError, match="webhook endpoint gone"):
        asyncio.run(run_until_signal("banner", stop, every=0.01, tick=tick))
    assert stopped == [True]
