"""faust's livelock detector skips the worker's own table changelogs and still checks streams."""
from __future__ import annotations

import faust
from faust.types import TP

from app import faust_livelock


def test_table_changelogs_are_not_checked_as_streams(monkeypatch):
    faust_livelock.install()
    faust_livelock.install()  # idempotent: a second install must not wrap the first
    checked: list[TP] = []
    monkeypatch.setitem(faust_livelock._ORIGINAL, "verify_event_path",
                        lambda thread, now, tp: checked.append(tp))
    app = faust.App("livelock-test", broker="kafka://127.0.0.1:9", store="memory://")
    table = app.Table("ledger", default=None)
    thread = app.consumer._thread
    try:
        changelog = TP(table.changelog_topic.get_topic_name(), 0)
        stream = TP("commands.holded", 0)
        assert changelog.topic in app.tables.changelog_topics
        thread.verify_event_path(0.0, changelog)
        thread.verify_event_path(0.0, stream)
        assert checked == [stream]
    finally:
        thread.thread_loop.close()  # the consumer thread's loop, made with it and never run
