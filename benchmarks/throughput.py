"""Delivery throughput and scheduling precision, each against its baseline in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from benchmarks.harness import bare_client_loop, bare_loop, bulk_scenario, bulk_simulator
from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.models.records import Run
from simulator.runtime import run_loop
from simulator.timeutil import parse_time


async def simulator_rate(
    url: str,
    events: int,
    concurrency: int,
    *,
    check: bool = True,
    during: Callable[[Simulator], Coroutine[Any, Any, None]] | None = None,
) -> float:
    """Events generated, persisted, signed, sent and logged per second, through a real run at speed 0. `during`,
    if given, runs beside the run (a sampler) and is cancelled when it ends."""
    async with bulk_simulator(url, events, concurrency) as (sim, name):
        started = time.perf_counter()
        run = await sim.runs.start(RunSpec(scenario=name, speed=0, seed=1))
        beside = asyncio.create_task(during(sim)) if during is not None else None
        run = await sim.runs.wait(run.id)
        elapsed = time.perf_counter() - started
        if beside is not None:
            beside.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beside
        if check and run.counts.get("succeeded") != events:
            raise RuntimeError(f"not every delivery succeeded: {run.counts}")
    return events / elapsed


async def throughput(url: str, events: int, concurrency: int = 16, rounds: int = 3) -> dict[str, float]:
    """Medians over `rounds` of (bare aiohttp loop, bare loop on the simulator's own client, simulator), each
    round's three taken back to back: on a shared machine the pace drifts by tens of percent over minutes, so
    the ratio is the median of each round's own ratio."""
    bodies = [catalog.sample("token.created", i) for i in range(events)]
    base, client, sim = [], [], []
    for _ in range(rounds):
        base.append(await bare_loop(url, bodies, concurrency))
        client.append(await bare_client_loop(url, bodies, concurrency))
        sim.append(await simulator_rate(url, events, concurrency))
    return {
        "baseline": statistics.median(base),
        "client": statistics.median(client),
        "simulator": statistics.median(sim),
        "ratio": statistics.median(s / b for s, b in zip(sim, base, strict=True)),
        "client_ratio": statistics.median(s / c for s, c in zip(sim, client, strict=True)),
    }


async def precision(url: str, rate: int = 1000, seconds: int = 30) -> dict[str, float]:
    """Lateness of each first attempt against its planned time, at `rate` scheduled events per second."""
    events = rate * seconds
    with tempfile.TemporaryDirectory() as d:
        name = bulk_scenario(Path(d), events, wait=f"{1000 // rate}ms")
        db = Path(d, "precision.db")
        sim = await Simulator.open(str(db), scenario_dirs=[Path(d)])
        try:
            await sim.create_subscription(SubscriptionSpec(url=url, signing="standard", max_in_flight=16))
            run = await sim.runs.start(RunSpec(scenario=name, speed=1, seed=1))
            run = await sim.runs.wait(run.id)
        finally:
            await sim.close()
        return _summary(db, run)


async def beside(url: str, events: int = 20000, rate: int = 200, seconds: int = 10) -> dict[str, float]:
    """Lateness of a timed run (`rate` events/s for `seconds`) while a run of `events` at speed 0 plays beside it,
    each to a subscription of its own, in one process: a load test must not make a timed scenario late."""
    with tempfile.TemporaryDirectory() as d:
        timed_name = bulk_scenario(Path(d), rate * seconds, wait=f"{1000 // rate}ms", name="timed")
        bulk_name = bulk_scenario(Path(d), events)
        db = Path(d, "beside.db")
        sim = await Simulator.open(str(db), scenario_dirs=[Path(d)])
        try:
            subs = [
                await sim.create_subscription(SubscriptionSpec(url=url, signing="standard", max_in_flight=16))
                for _ in range(2)
            ]
            timed = await sim.runs.start(RunSpec(scenario=timed_name, speed=1, seed=1, subscriptions=[subs[0].id]))
            await asyncio.sleep(1.0)  # under way before the load starts
            started = time.perf_counter()
            bulk = await sim.runs.start(RunSpec(scenario=bulk_name, speed=0, seed=2, subscriptions=[subs[1].id]))
            await sim.runs.wait(bulk.id)
            bulk_rate = events / (time.perf_counter() - started)
            timed = await sim.runs.wait(timed.id)
        finally:
            await sim.close()
        return {**_summary(db, timed), "bulk_rate": bulk_rate}


def _summary(db: Path, run: Run) -> dict[str, float]:
    """The lateness of `run`'s first attempts, in ms."""
    late = sorted(_lateness(db, run.id, parse_time(run.spec["start_time"]).timestamp(), run.started_at or 0))
    return {
        "events": len(late),
        "p50_ms": late[len(late) // 2] * 1000,
        "p99_ms": late[int(len(late) * 0.99)] * 1000,
        "mean_ms": statistics.fmean(late) * 1000,
        "max_ms": late[-1] * 1000,
    }


def _lateness(db: Path, run_id: str, sim_start: float, wall_start: float) -> list[float]:
    """Planned wall time of each event = the run's wall start + its simulated offset (speed 1)."""
    query = """
        select e.occurred_at, a.started_at from attempts a
        join deliveries d on d.id = a.delivery_id
        join events e on e.key = json_extract(d.event_keys, '$[0]')
        where a.number = 1 and d.run_id = ?"""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(query, (run_id,)).fetchall()
    return [started - (wall_start + parse_time(occurred).timestamp() - sim_start) for occurred, started in rows]


if __name__ == "__main__":
    from benchmarks.harness import fast_receiver

    with fast_receiver() as (url, kind):
        print(kind, run_loop(throughput(url, 20000)))
        print(run_loop(precision(url, 1000, 5)))
