"""A later page of Basis Theory's `/v2/tokens` is read by an index range that starts at the cursor's place, on
SQLite and on PostgreSQL: a page deep in a long list costs what the first one does, not a scan of every live
token before its place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from simulator.store import Store
from simulator.store import tables as t
from simulator.store.twins import TwinStore


async def _page_statement(store: Store) -> tuple[str, Any]:
    """The SQL and parameters `TwinStore.page` runs for a later page, as the driver got them."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "bt_objects" in statement:
            seen.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        await TwinStore(store).page("token", (1_700_000_000_000_000, 7), 20)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    assert len(seen) == 1, seen
    return seen[0]


async def _tokens(store: Store, count: int) -> None:
    rows = [
        {
            "kind": "token",
            "id": f"tok_{n}",
            "n": n,
            "state": "live",
            "body": json.dumps({"id": f"tok_{n}"}),
            "created": 1_600_000_000_000_000 + n * 7_919 % 200_000_000_000_000,
        }
        for n in range(count)
    ]
    async with store.engine.begin() as conn:
        await conn.execute(t.bt_objects.insert(), rows)


async def test_a_later_page_is_an_index_range_on_sqlite(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'paging.db'}")
    try:
        await _tokens(store, 2_000)
        statement, params = await _page_statement(store)
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "paging.db") as conn:
        conn.execute("ANALYZE")
        plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
    # The range is bounded by the place itself, not only by kind and state (which scans every live token).
    assert "USING INDEX ix_bt_objects_listed (kind=? AND state=? AND (created,n)<(?,?))" in plan, plan


async def test_a_later_page_is_an_index_range_on_postgresql(pg_cluster: Any) -> None:
    store = await Store.open(pg_cluster.create_database("bt_paging"))
    try:
        await _tokens(store, 2_000)
        statement, params = await _page_statement(store)
        async with store.engine.connect() as conn:
            await conn.execute(text("ANALYZE bt_objects"))
            await conn.execute(text("SET enable_seqscan = off"))
            raw: Any = (await conn.get_raw_connection()).driver_connection
            rows = await raw.fetch(f"EXPLAIN {statement}", *params)
    finally:
        await store.close()
    plan = "\n".join(row[0] for row in rows)
    assert "ix_bt_objects_listed" in plan, plan
    # The cursor's place is an index condition: the scan starts there, rather than filtering each row it reads.
    assert "Index Cond: " in plan and "ROW(created, n) < ROW(" in plan, plan
    assert "Filter: " not in plan, plan
