"""On SQLite a transaction of rows is written as few statements of many rows each (an INSERT's rows in VALUES
lists, an UPDATE's through `UPDATE … FROM (VALUES …)`), with the same result as one statement per row."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam
from sqlalchemy.ext.asyncio import create_async_engine

from simulator.store import direct

META = MetaData()
# A reserved word among the columns: SQLAlchemy quotes it, and the statements must keep the quotes.
ROWS = Table("rows", META, Column("id", String, primary_key=True), Column("n", Integer), Column("key", String))
INSERT = ROWS.insert()
UPDATE = ROWS.update().where(ROWS.c.id == bindparam("row_id")).values(n=bindparam("n"), key=bindparam("key"))


def reference(path: Path, inserted: list[dict], updated: list[dict]) -> list[tuple]:
    """The same rows written one statement per row, as the driver's executemany does."""
    db = sqlite3.connect(path)
    db.execute('create table rows (id varchar primary key, n integer, "key" varchar)')
    db.executemany('INSERT INTO rows (id, n, "key") VALUES (?, ?, ?)', [(r["id"], r["n"], r["key"]) for r in inserted])
    db.executemany('UPDATE rows SET n=?, "key"=? WHERE rows.id = ?', [(r["n"], r["key"], r["row_id"]) for r in updated])
    db.commit()
    return list(db.execute("select id, n, key from rows order by id"))


async def test_a_transaction_of_many_rows_is_a_few_statements_with_the_same_result(tmp_path):
    rng = random.Random(5)
    inserted = [{"id": f"d{i:04}", "n": i, "key": f"k{i}"} for i in range(300)]
    # Updates of 300 rows, some of them twice in the same transaction: the last values must win.
    chosen = [rng.choice(inserted)["id"] for _ in range(300)]
    updated = [{"n": rng.randint(0, 10**6), "key": f"u{j}", "row_id": row_id} for j, row_id in enumerate(chosen)]
    assert len(set(chosen)) < len(chosen)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'rows.db'}")
    statements: list[str] = []
    try:
        async with engine.connect() as conn:
            await conn.run_sync(META.create_all)
            await conn.commit()
            driver = (await conn.get_raw_connection()).driver_connection
            await driver._execute(lambda: driver._conn.set_trace_callback(statements.append))
            await direct.sqlite_rows(conn, [(INSERT, inserted), (UPDATE, updated)])
            got = list((await conn.exec_driver_sql("select id, n, key from rows order by id")).all())
    finally:
        await asyncio.wait_for(engine.dispose(), 10)
    assert got == reference(tmp_path / "reference.db", inserted, updated)
    writes = [s for s in statements if s.startswith(("INSERT", "UPDATE"))]
    # 600 rows: 300 inserts as 64 + 64 + 64 + 64 + 32 + 8 + 4, and the 300 updates' distinct rows likewise.
    assert 2 <= len(writes) <= 16, len(writes)


def test_one_row_or_a_statement_of_another_shape_is_left_as_it_is():
    one = [("a", 1, "x")]
    assert direct.steps('INSERT INTO rows (id, n, "key") VALUES (?, ?, ?)', one) == [
        ('INSERT INTO rows (id, n, "key") VALUES (?, ?, ?)', one)
    ]
    other = "DELETE FROM rows WHERE rows.id = ?"
    assert direct.steps(other, [("a",), ("b",)]) == [(other, [("a",), ("b",)])]


def test_updates_of_different_columns_each_get_their_own_statements():
    """Two UPDATE shapes in one process (a delivery's state after an attempt, its whole row rewritten): each keeps
    its own statements, whichever came first."""
    rows2 = [(1, "a", "x"), (2, "b", "y")]
    rows3 = [(1, "a", 3.0, "x"), (2, "b", 4.0, "y")]
    two = direct.steps('UPDATE rows SET n=?, "key"=? WHERE rows.id = ?', rows2)
    three = direct.steps('UPDATE rows SET n=?, "key"=?, f=? WHERE rows.id = ?', rows3)
    for (sql, params), width in ((two[0], 3), (three[0], 4)):
        assert sql.count("?") == len(params[0]) == 2 * width


async def test_rows_of_another_set_of_columns_are_written_by_a_statement_of_their_own(tmp_path):
    """A statement is compiled for the columns of the rows it writes: rows that leave out a nullable column, after
    rows that gave it, write NULL there (the statement compiled for the first set read a key they lack)."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'rows.db'}")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(META.create_all)
            await conn.commit()
            await direct.sqlite_rows(conn, [(INSERT, [{"id": "a", "n": 1, "key": "given"}])])
            await direct.sqlite_rows(conn, [(INSERT, [{"id": "b", "n": 2}])])
            await direct.sqlite_rows(conn, [(INSERT, [{"key": "first", "n": 3, "id": "c"}])])  # another order
            got = list((await conn.exec_driver_sql("select id, n, key from rows order by id")).all())
    finally:
        await engine.dispose()
    assert got == [("a", 1, "given"), ("b", 2, None), ("c", 3, "first")]
