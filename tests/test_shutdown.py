"""Closing the simulator stops every live run, even one whose record is gone (a reset that raced a schedule's
firing leaves such a run): closing once raised NotFound on it and left the server's shutdown half done."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from simulator.core.runs import INTERRUPTED
from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, RunSpec, SubscriptionSpec
from simulator.store.resume import own_work_only
from tests.conftest import silent_receiver, until


async def test_closing_stops_a_live_run_whose_record_is_gone(tmp_path: Path) -> None:
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    spec = RunSpec(scenario="syncfy-credential-lifecycle", target="http://127.0.0.1:9/", speed=1, seed=1)
    started = await sim.runs.start(spec)
    assert started.status in ("pending", "running")  # the lifecycle waits minutes between its events
    await sim.store.reset()
    await asyncio.wait_for(sim.close(grace=1), 10)
    assert sim.runs._tasks == {}


async def test_a_run_the_stopping_process_cuts_short_ends_interrupted_and_a_reset_one_cancelled(
    tmp_path: Path,
) -> None:
    """Nobody cancelled a run that `webhook-sim run` plays (it reports on it, and ends with it) when its process
    stops: it ends as a crash leaves it, failed as interrupted. (A server's run goes on: see test_run_resume.)"""
    db = str(tmp_path / "sim.db")
    with own_work_only():
        sim = await Simulator.open(db)
        spec = RunSpec(scenario="syncfy-credential-lifecycle", target="http://127.0.0.1:9/", speed=1, seed=1)
        cut = await sim.runs.start(spec)
        await asyncio.wait_for(sim.close(grace=1), 10)
    again = await Simulator.open(db)
    try:
        run = await again.runs.get(cut.id)
        assert (run.status, run.error) == ("failed", INTERRUPTED)
        reset = await again.runs.start(spec)
        await again.runs.cancel_all()
        assert (await again.runs.get(reset.id)).status == "cancelled"
    finally:
        await asyncio.wait_for(again.close(grace=1), 10)


@pytest.mark.parametrize("how", ["cancel", "reset"])
async def test_a_run_cancelled_before_it_began_to_play_ends_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A cancel that reaches a run while it records itself running (or before its task's first step): nothing of
    the run's task says how it ended, and it stayed `pending` (or `running`) for good."""
    sim = await Simulator.open(str(tmp_path / "sim.db"))
    held = asyncio.Event()
    put_run = sim.store.put_run

    async def slow_to_say_running(run_id: str, **fields: Any) -> None:
        if fields.get("status") == "running":
            held.set()
            await asyncio.sleep(3600)  # the cancel comes here
        await put_run(run_id, **fields)

    monkeypatch.setattr(sim.store, "put_run", slow_to_say_running)
    try:
        spec = RunSpec(scenario="syncfy-credential-lifecycle", target="http://127.0.0.1:9/", speed=1, seed=1)
        run = await sim.runs.start(spec)
        await asyncio.wait_for(held.wait(), 10)
        if how == "cancel":
            await asyncio.wait_for(sim.runs.cancel(run.id), 10)
        else:
            await asyncio.wait_for(sim.runs.cancel_all(), 10)
        assert (await sim.runs.get(run.id)).status == "cancelled"
    finally:
        await asyncio.wait_for(sim.close(grace=1), 10)


async def test_an_attempt_the_stopping_process_cuts_short_is_logged_and_sent_again(tmp_path: Path) -> None:
    """A receiver that has the request but has not answered when the server stops: the log said nothing of that
    attempt, though the receiver got it. It is recorded as interrupted, and the next process sends it again."""
    db = str(tmp_path / "sim.db")
    async with silent_receiver() as (url, got):
        sim = await Simulator.open(db)
        try:
            await sim.create_subscription(SubscriptionSpec(url=url, timeout=60, signing="standard"))
            _, [delivery_id] = await sim.emit(EventSpec(type="token.created"))
            await until(lambda: len(got) == 1)
        finally:
            await asyncio.wait_for(sim.close(grace=0.2), 10)
        again = await Simulator.open(db)
        try:
            await until(lambda: len(got) == 2)  # sent again, with the same id
            [first, *_] = (await again.delivery(delivery_id)).attempt_log
            assert first.number == 1 and first.status_code is None
            assert first.error is not None and first.error.startswith("interrupted: the sender stopped")
            assert first.request is not None and first.request.headers["webhook-id"] in got[1].decode()
        finally:
            await asyncio.wait_for(again.close(grace=0.2), 10)
