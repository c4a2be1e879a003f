"""Per-system health notes: the last answer and poll, and calls in the last minute."""
from __future__ import annotations

from app.operator_page.model import system_rows
from app.settings import HoldedSettings, Settings
from app.system_health import SystemHealth


class FakeClock:
    def __init__(self, now: float = 1_772_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_calls_leave_the_quota_window_after_a_minute():
    clock = FakeClock()
    health = SystemHealth(clock)
    for status in (200, 200, 429):
        health.api_call("holded", status)
    clock.now += 30
    health.api_call("holded", 201)
    s = health.state("holded")
    assert (s.last_status, s.calls_in_window(clock.now)) == (201, 4)
    clock.now += 31
    assert s.calls_in_window(clock.now) == 1


def test_a_failed_poll_is_noted_with_its_error_then_cleared_by_a_good_one():
    health = SystemHealth(FakeClock())
    health.poll("odoo", error="ConnectError: refused")
    assert (health.state("odoo").last_poll_ok, health.state("odoo").last_poll_error) == \
        (False, "ConnectError: refused")
    health.poll("odoo", events=3)
    s = health.state("odoo")
    assert (s.last_poll_ok, s.last_poll_error, s.last_poll_events) == (True, None, 3)


def test_system_rows_compare_the_last_minute_with_the_configured_rate():
    clock = FakeClock()
    health = SystemHealth(clock)
    for _ in range(30):
        health.api_call("holded", 200)
    settings = Settings(systems=("holded", "odoo"), holded=HoldedSettings(requests_per_second=5))
    rows = {r.system: r for r in system_rows(settings, health)}
    assert (rows["holded"].calls_last_minute, rows["holded"].allowed_per_minute) == (30, 300)
    assert rows["holded"].last_status == 200 and rows["holded"].last_call is not None
    assert (rows["odoo"].calls_last_minute, rows["odoo"].allowed_per_minute, rows["odoo"].last_poll) == \
        (0, None, None)
