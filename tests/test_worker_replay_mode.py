"""A replay generation's worker (sinks off) only decides: it registers no poller."""
from __future__ import annotations

from app.settings import HoldedSettings, Settings
from app.worker import create_app


def _pollers(app) -> list[str]:
    return [task.__qualname__ for task in app._app_tasks if "timer_of" in task.__qualname__]


def test_a_replay_generations_worker_polls_nothing_and_a_live_one_does(tmp_path):
    settings = Settings(systems=("holded", "file"), store="memory://", data_dir=tmp_path,
                        holded=HoldedSettings(api_url="http://127.0.0.1:9/api", api_key="k"))
    assert len(_pollers(create_app(settings))) == 1
    assert _pollers(create_app(settings.model_copy(update={"run_sinks": False, "generation": 1}))) == []
