"""A commit that takes longer than a timed run's lead on its deliveries is said in the log, with how long it took:
the deliveries it made late have a visible cause. A commit that waits on the disk is played here by another
connection holding SQLite's write lock, which the writer's commit waits for."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator.store import Store
from simulator.store.slow import SLOW
from simulator.store.writer import Op
from tests.store.test_writer_batching import event

HOLD = 2 * SLOW


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'slow.db'}", secret_key="slow")
    yield opened
    await asyncio.wait_for(opened.close(), 30)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "webhook_sim.store" and "took" in r.getMessage()]


async def commit(store: Store, key: str) -> None:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    store.writer.put_nowait(Op(events=(event(key),), done=lambda exc: done.set_result(None)))
    await asyncio.wait_for(done, 30)


async def test_a_commit_held_past_a_runs_lead_is_logged_with_its_length(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    await commit(store, "quick")
    assert warnings(caplog) == []  # a quick commit says nothing

    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(tmp_path / "slow.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # SQLite's write lock: the writer's commit waits for it
        locked.set()
        release.wait(30)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert await asyncio.to_thread(locked.wait, 10)
        waiting = asyncio.create_task(commit(store, "held"))
        await asyncio.sleep(HOLD)  # the length of the stall being played, not a wait for a condition
        assert not waiting.done()
        release.set()
        await waiting
    finally:
        release.set()
        await asyncio.to_thread(holder.join, 10)

    (said,) = warnings(caplog)
    took = float(re.search(r"took (\d+) ms", said).group(1))
    assert took >= HOLD * 1000 * 0.9, said
    assert "deliveries falling due meanwhile go out late" in said

    await commit(store, "quick again")
    assert len(warnings(caplog)) == 1
