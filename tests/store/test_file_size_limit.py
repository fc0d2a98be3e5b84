"""A store whose WAL may not grow because of a file-size limit (`ulimit -f`, EFBIG): SQLite reports a disk I/O
error, not `disk is full`, and the writer lets the WAL be reused just the same instead of refusing writes for good.
A real limit on this process (Python ignores SIGXFSZ, so the write fails instead of killing it)."""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sqlite3
from pathlib import Path

import pytest

from simulator.store import Store
from simulator.store.writer import Op
from tests.store.test_disk_full import attempt_row, fill_a_reusable_wal


async def test_a_wal_that_may_not_grow_past_a_file_size_limit_is_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    db = tmp_path / "sim.db"
    store = await Store.open(str(db))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        await fill_a_reusable_wal(store)
        other = sqlite3.connect(db)  # kept open, as the scheduler's is: no checkpoint on the last close
        other.execute("SELECT count(*) FROM settings").fetchall()
        try:
            largest = max(os.path.getsize(db), os.path.getsize(f"{db}-wal"))
            resource.setrlimit(resource.RLIMIT_FSIZE, (largest, hard))  # no file of this process may grow
            store.writer.put_nowait(Op(attempts=tuple(attempt_row("msg_fits", n) for n in range(1, 61))))
            await asyncio.wait_for(store.writer.barrier(), 60)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            other.close()
        assert "disk I/O error" in caplog.text  # the limit was met
        assert len(await store.attempts("msg_fits")) == 60
        assert store.writer.unavailable is None
    finally:
        await asyncio.wait_for(store.close(), 60)
