"""A commit that takes longer than a timed run's lead on its deliveries is said in the log, with how long it took:
the deliveries it made late have a visible cause. A commit that waits on the disk is played here by another
connection holding SQLite's write lock, which the writer's commit waits for. At speed 0 nothing is late, and a
slow commit says nothing."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.store import Store
from simulator.store.slow import SLOW
from simulator.store.writer import Op
from simulator.testing.receiver import Receiver
from tests.store.test_writer_batching import event

HOLD = 2 * SLOW


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'slow.db'}", secret_key="slow")
    yield opened
    await asyncio.wait_for(opened.close(), 30)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "webhook_sim.store" and "took" in r.getMessage()]


async def commit(store: Store, key: str, *, timed: bool = True) -> None:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    store.writer.put_nowait(Op(events=(event(key),), done=lambda exc: done.set_result(None), timed=timed))
    await asyncio.wait_for(done, 30)


class _Lock:
    """SQLite's write lock held by another connection, from `take()` until `release()`."""

    def __init__(self, db: Path) -> None:
        self.db, self._locked, self._release = db, threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        other = sqlite3.connect(self.db, isolation_level=None, timeout=30)
        other.execute("BEGIN IMMEDIATE")  # SQLite's write lock: the writer's commits wait for it
        self._locked.set()
        self._release.wait(30)
        other.execute("COMMIT")
        other.close()

    async def take(self) -> None:
        self._thread.start()
        assert await asyncio.to_thread(self._locked.wait, 10)

    async def release(self) -> None:
        self._release.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 10)


async def held(store: Store, db: Path, key: str, *, timed: bool) -> None:
    """Commit while another connection holds SQLite's write lock for HOLD seconds."""
    lock = _Lock(db)
    await lock.take()
    try:
        waiting = asyncio.create_task(commit(store, key, timed=timed))
        await asyncio.sleep(HOLD)  # the length of the stall being played, not a wait for a condition
        assert not waiting.done()
        await lock.release()
        await waiting
    finally:
        await lock.release()


async def test_a_commit_held_past_a_runs_lead_is_logged_with_its_length(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    await commit(store, "quick")
    assert warnings(caplog) == []  # a quick commit says nothing

    await held(store, tmp_path / "slow.db", "held", timed=True)

    (said,) = warnings(caplog)
    took = float(re.search(r"took (\d+) ms", said).group(1))
    assert took >= HOLD * 1000 * 0.9, said
    assert "deliveries falling due meanwhile go out late" in said

    await commit(store, "quick again")
    assert len(warnings(caplog)) == 1


async def test_a_slow_commit_of_a_run_at_speed_0_says_nothing(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At speed 0 nothing is due at a set time: a long commit there (a large one, a busy disk) makes nothing late."""
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    await held(store, tmp_path / "slow.db", "untimed", timed=False)
    assert warnings(caplog) == []
    await held(store, tmp_path / "slow.db", "timed", timed=True)
    assert len(warnings(caplog)) == 1  # the same stall, for a timed run's rows, is said


async def recorded(sim: Simulator, run_id: str, timeout: float = 30.0) -> None:
    """Until the run's start is on disk: it waits for its first event (its clock started before that wait, and
    wrote when), and what it queued is committed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (plan := sim.runs._plans.get(run_id)) is None or plan.next_at is None:
        assert asyncio.get_running_loop().time() < deadline, "the run did not start"
        await asyncio.sleep(0.02)
    await sim.store.writer.barrier()


async def made(sim: Simulator, run_id: str, timeout: float = 30.0) -> None:
    """Until the run has made an event (its commit is queued: it waits for the lock)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await sim.runs.get(run_id)).events < 1:
        assert asyncio.get_running_loop().time() < deadline, "the run made no event"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("speed", [1.0, 0.0])
async def test_a_timed_run_whose_events_commit_late_is_said_and_one_at_speed_0_is_not(
    speed: float, tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """The engine marks what a timed run writes: its events' commit held past their lead is said in the log; the
    same stall at speed 0, which makes nothing late, is not."""
    caplog.set_level(logging.WARNING, logger="webhook_sim.store")
    # At speed 1 the events are made about 1.8 s after the run starts (0.2 s before they are due): the lock is
    # taken well before. At speed 0 the run makes its events at the pace its receiver takes them (a few seconds
    # for these), so it is still making them when the lock is taken.
    n = 2 if speed > 0 else 3000
    steps = "  - wait: 2s\n" if speed > 0 else ""
    (tmp_path / "late.yaml").write_text(
        "name: late\nprovider: basistheory\ndescription: emits\nsteps:\n"
        f"{steps}  - repeat: {n}\n    steps:\n      - emit: token.created\n"
    )
    sim = await Simulator.open(str(tmp_path / "sim.db"), scenario_dirs=[tmp_path])
    lock = _Lock(tmp_path / "sim.db")
    try:
        await sim.create_subscription(SubscriptionSpec(url=receiver.url, max_in_flight=16))
        run = await sim.runs.start(RunSpec(scenario="late", speed=speed, seed=1))
        if speed > 0:
            # The run's own records first (running, its clock's start): taken before them, the lock held one of
            # those back on a loaded machine, and the event's commit, queued behind it, was quick after all.
            await recorded(sim, run.id)
            await lock.take()  # before the events are made: their commit waits for it
            assert (await sim.runs.get(run.id)).events == 0, "the run made its events before the stall"
            await made(sim, run.id)
        else:
            await made(sim, run.id)
            await lock.take()  # the events made from now on wait for it
            assert (await sim.runs.get(run.id)).events < n - 100, "the run ended before the stall"
        await asyncio.sleep(HOLD)  # the stall being played, from when an event waits to commit
        await lock.release()
        run = await sim.runs.wait(run.id, timeout=60)
        assert run.counts == {"succeeded": n}
    finally:
        await lock.release()
        await asyncio.wait_for(sim.close(grace=0), 10)
    assert len(warnings(caplog)) == (1 if speed > 0 else 0), warnings(caplog)
