"""Children started to die with their parent die when it is killed outright (SIGKILL)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.devkafka import broker

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")


def _gone(pid: int, timeout: float = 30.0) -> bool:
    """Whether ``pid`` has exited (or is a zombie nobody reaps) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _parent(code: str) -> tuple[subprocess.Popen, int]:
    """A Python parent running ``code``, which prints its child's pid; (parent, child pid)."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline()
    assert line.strip().isdigit(), f"the parent printed {line!r}"
    return parent, int(line)


@pytest.mark.parametrize("asked", [True, False])
def test_a_child_asked_to_die_with_its_parent_does_when_the_parent_is_killed(asked) -> None:
    parent, child = _parent(f"""
        import subprocess, sys, time
        from app.parent_death import die_with_parent
        proc = subprocess.Popen(["sleep", "120"], start_new_session=True,
                                preexec_fn=die_with_parent() if {asked} else None)
        print(proc.pid, flush=True)
        time.sleep(120)
    """)
    try:
        parent.kill()
        parent.wait(10)
        assert _gone(child, 10 if asked else 1) is asked
    finally:
        parent.stdout.close()
        if not _gone(child, 0):
            os.kill(child, signal.SIGKILL)


def test_the_tests_broker_stops_when_its_starter_is_killed(tmp_path: Path) -> None:
    parent, pid = _parent(f"""
        import time
        from pathlib import Path
        from app.devkafka import broker
        info = broker.start(Path({str(tmp_path)!r}), die_with_parent=True)
        print(info.pid, flush=True)
        time.sleep(120)
    """)
    try:
        parent.kill()
        parent.wait(10)
        assert _gone(pid), "the broker outlived the process that started it"
    finally:
        parent.stdout.close()
        broker.stop(tmp_path, timeout=1.0)
