from __future__ import annotations

from tests.fuzz import tally


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not tally.total():
        return
    tr = terminalreporter
    tr.write_sep("=", f"bad events fuzzed: {tally.total()} (minimum {tally.MINIMUM})")
    for name, n in sorted(tally.FUZZED.items()):
        tr.write_line(f"  {name:<28} {n:>7}")
    tr.write_line("  outcomes:")
    for name, n in sorted(tally.OUTCOMES.items()):
        tr.write_line(f"  {name:<40} {n:>7}")
