"""A run's deliveries are counted by status from an index alone, on every GET /runs and GET /runs/{id}: the plan
SQLite makes for the store's own statement reads no table row. A store made before the index gets it on opening."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event

from simulator.store import Store


async def test_counting_a_runs_deliveries_reads_only_an_index(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'counts.db'}", secret_key="counts")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if "count(" in statement.lower():
            seen.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        await store.list_runs()  # no runs: nothing to count
        await store._counts_by_run(["run_a", "run_b"])
        await store.delivery_counts("run_a")
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
        await store.close()
    assert len(seen) == 2
    with sqlite3.connect(tmp_path / "counts.db") as conn:
        for statement, params in seen:
            plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
            assert "COVERING INDEX ix_deliveries_run_status" in plan, plan


async def test_a_store_made_before_the_index_gets_it_on_opening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    await (await Store.open(url, secret_key="counts")).close()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("DROP INDEX ix_deliveries_run_status")
    await (await Store.open(url, secret_key="counts")).close()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_deliveries_run_status" in names
