"""Child processes that die with the process that started them.

The local broker and the workers of the tests and the demo run in sessions of their own, so
a Ctrl-C in a terminal reaches only their starter, which stops them by PID. A starter killed
outright (a CI timeout, SIGKILL, an OOM kill) runs no clean-up: its children lived on, holding
ports, memory and a 2-core machine's CPU. On Linux the kernel can send the child a signal when
its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere nothing is asked.

The signal follows the *thread* that started the child: start such children from a thread
that outlives them (the main thread), not from a worker thread of a pool.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child gets ``sig`` when this
    process dies (None where the kernel offers no such request)."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before the request: nobody will ask
            os.kill(os.getpid(), sig)

    return preexec
