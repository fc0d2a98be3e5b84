"""The end of a command's event loop: a store connection cut off mid-statement is stopped without waiting, and its
driver thread, finishing the statement after the loop had closed, died with a traceback printed after the
command's output (seen once as `trigger`'s clean error message followed by "Exception in thread Thread-3
(_connection_worker_thread)")."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiosqlite
import pytest

from simulator.runtime import run_loop

SLOW = 0.3


def test_a_driver_thread_still_busy_when_the_command_returns_finds_the_loop_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))

    async def command() -> aiosqlite.Connection:
        conn = await aiosqlite.connect(":memory:")
        await conn.create_function("slow", 0, lambda: time.sleep(SLOW))
        reading = asyncio.create_task(conn.execute("select slow()"))
        await asyncio.sleep(SLOW / 3)  # the statement is under way on the driver's thread
        reading.cancel()
        conn.stop()  # as SQLAlchemy's terminate does for a connection cut off: no waiting
        return conn

    conn: Any = run_loop(command())
    conn._thread.join(5)
    assert not conn._thread.is_alive()
    assert died == []
