"""`holded-sync sandbox <system>` runs in the foreground: it says how it stops, and it stops
cleanly on Ctrl-C (SIGINT) with exit 0."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("system", ["holded", "odoo", "business-central", "sap-b1",
                                    "prestashop", "shopify"])
def test_a_sandbox_says_how_it_stops_and_stops_on_ctrl_c(system):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "app", "sandbox", system, "--port", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        lines = []
        for line in proc.stdout:  # the banner is flushed at once, the hint last
            lines.append(line)
            if "Ctrl-C" in line:
                break
        assert lines and lines[-1].strip() == "it runs until Ctrl-C (or SIGTERM)", "".join(lines)
        assert any("a worker uses it with" in line for line in lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
