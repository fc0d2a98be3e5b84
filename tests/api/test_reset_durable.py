"""`POST /reset` is several steps (runs cancelled, schedules cleared, subscriptions removed, tables emptied): a
`serve` killed between them left the schedules gone and the subscriptions and history kept. The reset is marked in
the store before its first step and unmarked in the transaction of its last; the next server on the store finishes
one it finds marked before it resumes, sends or fires anything. The state such a kill leaves is written directly,
so the test does not depend on landing a kill between two steps."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx

from tests.api.test_restart import ServerProcess

Processes = Callable[[str], ServerProcess]
MARK = "reset.under_way"


def listed(api: httpx.Client, path: str) -> list[dict]:
    answer = api.get(path, params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def marked(db: Path) -> bool:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT 1 FROM settings WHERE key = ?", (MARK,)).fetchone() is not None


def test_a_reset_cut_short_by_a_kill_is_finished_by_the_next_server(processes: Processes, tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    first = processes("first")
    with first.wait_ready() as api:
        made = api.post("/subscriptions", json={"url": "http://127.0.0.1:9/hook"})
        assert made.status_code == 201, made.text
        scheduled = api.post("/schedules", json={"scenario": "api-one-event", "speed": 0, "interval": 3600})
        assert scheduled.status_code == 201, scheduled.text
        run = api.post("/runs", json={"scenario": "api-one-event", "speed": 0})
        assert run.status_code == 202, run.text
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    with closing(sqlite3.connect(db)) as conn, conn:  # killed right after the reset's first step
        conn.execute("INSERT INTO settings (key, value) VALUES (?, '0')", (MARK,))

    second = processes("second")
    with second.wait_ready() as api:
        assert listed(api, "/subscriptions") == []
        assert listed(api, "/schedules") == []
        assert listed(api, "/runs") == []
        assert listed(api, "/deliveries") == []
    assert second.stop() == 0
    assert not marked(db)
    said = [line["message"] for line in second.log_lines()]
    assert "a reset was under way when the store was last used: it is finished now" in said


def test_a_finished_reset_leaves_no_mark_and_what_came_after_it_stays(processes: Processes, tmp_path: Path) -> None:
    first = processes("first")
    with first.wait_ready() as api:
        assert api.post("/subscriptions", json={"url": "http://127.0.0.1:9/before"}).status_code == 201
        assert api.post("/reset").status_code == 204
        after = api.post("/subscriptions", json={"url": "http://127.0.0.1:9/after"})
        assert after.status_code == 201, after.text
    assert not marked(tmp_path / "sim.db")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = processes("second")
    with second.wait_ready() as api:
        assert [s["id"] for s in listed(api, "/subscriptions")] == [after.json()["id"]]
    assert second.stop() == 0
