"""The worker's table manager freezes its tables and starts their recovery at once, without
faust's one-second pause at start (every table is declared in create_app)."""
from __future__ import annotations

from app.settings import Settings
from app.table_manager import TablesDeclaredUpFront
from app.worker import create_app


async def test_the_tables_start_recovery_without_a_pause(tmp_path, monkeypatch):
    settings = Settings(store="memory://", data_dir=tmp_path, systems=("holded", "file"),
                        holded={"api_url": "http://127.0.0.1:1", "api_key": "k"}, web_port=6999)
    tables = create_app(settings).tables
    assert isinstance(tables, TablesDeclaredUpFront)
    calls = []

    def record(what):
        async def call(*args):
            calls.append((what, *args))
        return call
    monkeypatch.setattr(tables, "sleep", record("sleep"))
    monkeypatch.setattr(tables, "_update_channels", record("freeze the tables"))
    monkeypatch.setattr(tables.recovery, "start", record("recovery"))

    await tables.on_start()
    assert calls == [("freeze the tables",), ("recovery",)]  # faust's: a 1 s sleep first
