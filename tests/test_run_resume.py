"""A run that outlives the process playing it (see `simulator.core.run_resume`), on a SQLite file: the next
simulator on the file goes on with it, its events byte for byte those of the same run played uninterrupted; a
scenario file changed meanwhile fails the run rather than let it go on with other events."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.core import run_plan
from simulator.core.runs import INTERRUPTED
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec
from simulator.models.records import Run
from simulator.testing.local import LocalSimulator
from simulator.testing.receiver import Receiver

START = "2026-01-01T00:00:00Z"


def scenario(folder: Path, count: int, wait: str | None = None, emit: str = "token.created") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    steps = f"      - emit: {emit}\n" + (f"      - wait: {wait}\n" if wait else "")
    text = (
        f"name: resumed\nprovider: basistheory\ndescription: tokens\nsteps:\n  - repeat: {count}\n    steps:\n{steps}"
    )
    (folder / "resumed.yaml").write_text(text)
    return folder


async def until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def started_and_stopped_at(sim: Simulator, spec: RunSpec, seq: int, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Start a run of `spec` and let it publish its events before `seq`: the next publish waits, and the stop
    (the caller's `close`) comes there."""
    publish, held = sim.engine.publish, asyncio.Event()

    async def held_at(event: Any, *args: Any, **kwargs: Any) -> Any:
        if event.seq >= seq:
            await held.wait()
        return await publish(event, *args, **kwargs)

    monkeypatch.setattr(sim.engine, "publish", held_at)
    run = await sim.runs.start(spec)
    await until(lambda: sim.runs._emitted.get(run.id, 0) >= seq, 30, f"the run's first {seq} events")
    return run


async def events_of(sim: Simulator, run_id: str) -> list[tuple[int, str, str]]:
    return [(e.seq, e.id, e.body) for e in await sim.store.run_events(run_id)]


async def test_a_speed_0_run_built_by_a_process_of_its_own_goes_on_from_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(run_plan, "OFFLOAD_AFTER", 100)  # its events past the 100th come from a building process
    folder, db = scenario(tmp_path, 1500), str(tmp_path / "sim.db")
    with Receiver() as receiver:
        spec = RunSpec(scenario="resumed", speed=0, seed=9, start_time=START, target=receiver.url)
        sim = await Simulator.open(db, scenario_dirs=[folder])
        run = await started_and_stopped_at(sim, spec, 400, monkeypatch)
        started_at = (await sim.store.get_run(run.id)).started_at  # type: ignore[union-attr]
        await asyncio.wait_for(sim.close(grace=1), 30)
        [said] = [r.getMessage() for r in caplog.records if "resumes from event" in r.getMessage()]
        assert "resumes from event 400 " in said, said
        again = await Simulator.open(db, scenario_dirs=[folder])
        try:
            done = await again.runs.wait(run.id, timeout=60)
            assert (done.status, done.events, done.error) == ("completed", 1500, None), done
            assert done.counts == {"succeeded": 1500}
            assert done.started_at == started_at, "a resumed run keeps its start"
            resumed = await events_of(again, run.id)
            reference = await again.runs.wait((await again.runs.start(spec)).id, timeout=60)
            assert await events_of(again, reference.id) == resumed
            assert [seq for seq, _, _ in resumed] == list(range(1500))
        finally:
            await asyncio.wait_for(again.close(grace=1), 30)
        assert set(receiver.event_ids()) == {event_id for _, event_id, _ in resumed}


@pytest.mark.parametrize(
    ("emit", "said"),
    [
        ("token.updated", ("token.created", "token.updated")),
        # The same event with another body: its id and type are the same, so "was X, now X" told nothing.
        ("token.created\n        with: {data.token.metadata.plan: gold}", ("now has another body",)),
    ],
    ids=["another-type", "another-body"],
)
async def test_a_run_whose_scenario_changed_meanwhile_fails_saying_so(
    tmp_path: Path, emit: str, said: tuple[str, ...]
) -> None:
    folder, db = scenario(tmp_path, 40, wait="100ms"), str(tmp_path / "sim.db")
    spec = RunSpec(scenario="resumed", speed=1, seed=9, start_time=START, target="http://127.0.0.1:9/")
    sim = await Simulator.open(db, scenario_dirs=[folder])
    run = await sim.runs.start(spec)
    await until(lambda: sim.runs._emitted.get(run.id, 0) >= 3, 30, "the run's first events")
    await asyncio.wait_for(sim.close(grace=1), 30)
    scenario(folder, 40, wait="100ms", emit=emit)
    again = await Simulator.open(db, scenario_dirs=[folder])
    try:
        done = await again.runs.wait(run.id, timeout=30)
        assert done.status == "failed"
        assert "its scenario no longer makes the events it made" in (done.error or ""), done.error
        assert all(part in (done.error or "") for part in said), done.error
        assert done.events == len(await events_of(again, run.id)) < 40
    finally:
        await asyncio.wait_for(again.close(grace=1), 30)


async def test_a_run_a_tests_simulator_plays_ends_with_it(tmp_path: Path) -> None:
    """The pytest plugin's simulator on a store file: its session's run is not handed on when it closes (its
    receivers are gone with the session); it ends failed as interrupted, as `webhook-sim run`'s does."""
    folder, db = scenario(tmp_path, 40, wait="100ms"), str(tmp_path / "sim.db")
    local = await asyncio.to_thread(LocalSimulator.open, scenario_dirs=[folder], db=db)
    try:
        async with httpx.AsyncClient(base_url=local.url, timeout=10) as api:
            spec = {"scenario": "resumed", "speed": 1, "seed": 9, "target": "http://127.0.0.1:9/"}
            run_id = (await api.post("/runs", json=spec)).json()["id"]
            await until(lambda: local.sim.runs._emitted.get(run_id, 0) >= 2, 30, "the run's first events")
    finally:
        await asyncio.to_thread(local.close)
    again = await Simulator.open(db, scenario_dirs=[folder])
    try:
        run = await again.runs.get(run_id)
        assert (run.status, run.error) == ("failed", INTERRUPTED), run
    finally:
        await asyncio.wait_for(again.close(grace=1), 30)


async def test_a_run_the_next_start_has_no_scenario_for_fails_saying_so(tmp_path: Path) -> None:
    folder, db = scenario(tmp_path / "mine", 40, wait="100ms"), str(tmp_path / "sim.db")
    sim = await Simulator.open(db, scenario_dirs=[folder])
    run = await sim.runs.start(RunSpec(scenario="resumed", speed=1, seed=9, target="http://127.0.0.1:9/"))
    await until(lambda: sim.runs._emitted.get(run.id, 0) >= 3, 30, "the run's first events")
    await asyncio.wait_for(sim.close(grace=1), 30)
    again = await Simulator.open(db)  # started without the folder: the server goes on serving, the run ends
    try:
        done = await again.runs.get(run.id)
        assert done.status == "failed", done
        assert done.error == (
            "this process has no scenario named 'resumed' (give it the --scenarios of the process that started the run)"
        )
    finally:
        await asyncio.wait_for(again.close(grace=1), 30)


def placements(db: str, run_id: str) -> dict[int, tuple[Any, Any]]:
    """Where the reorder and burst faults placed each of a run's events: (window, position, rank), burst group."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select event_keys, faults from deliveries where run_id = ?", (run_id,)).fetchall()
    out = {}
    for keys, text in rows:
        faults = json.loads(text)
        reorder = faults["reorder"]
        [key] = json.loads(keys)
        out[int(key.rsplit("/", 1)[1])] = (
            (reorder["index"], reorder["position"], reorder["rank"]),
            faults["burst"]["group"],
        )
    return out


async def test_a_resumed_run_goes_on_with_its_reorder_windows_and_burst_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped after 22 events, inside a reorder window of 4 (its third) and a burst of 3 (its second): the next
    process placed the 23rd event first in window 0 and group 0 again, so every later window was shuffled with
    another window's draw, and the same seed gave other faults."""
    folder, db = scenario(tmp_path, 60), str(tmp_path / "sim.db")
    with Receiver() as receiver:
        faults = {"reorder": 4, "burst": 3}
        spec = RunSpec(scenario="resumed", speed=0, seed=9, start_time=START, target=receiver.url, faults=faults)
        sim = await Simulator.open(db, scenario_dirs=[folder])
        run = await started_and_stopped_at(sim, spec, 22, monkeypatch)
        await asyncio.wait_for(sim.close(grace=1), 30)
        again = await Simulator.open(db, scenario_dirs=[folder])
        try:
            done = await again.runs.wait(run.id, timeout=60)
            assert (done.status, done.counts) == ("completed", {"succeeded": 60}), done
            reference = await again.runs.wait((await again.runs.start(spec)).id, timeout=60)
            assert reference.counts == {"succeeded": 60}
        finally:
            await asyncio.wait_for(again.close(grace=1), 30)
    resumed, played = placements(db, run.id), placements(db, reference.id)
    assert sorted(resumed) == list(range(60))
    assert resumed == played
    # What the next process placed goes in the planned order: the window and group it went on with open once
    # their last members are in (the first ones went at the restart), not at the run's end, after the rest.
    assert sent_order(db, run.id, since=22) == sent_order(db, reference.id, since=22)


def sent_order(db: str, run_id: str, since: int) -> list[int]:
    """The run's events from `since` on, in the order their first attempts started."""
    query = """select d.event_keys from attempts a join deliveries d on d.id = a.delivery_id
               where d.run_id = ? and a.number = 1 order by a.started_at, a.id"""
    with sqlite3.connect(db) as conn:
        keys = [json.loads(k)[0] for (k,) in conn.execute(query, (run_id,))]
    return [seq for key in keys if (seq := int(key.rsplit("/", 1)[1])) >= since]
