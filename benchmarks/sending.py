"""The engine's sending side alone, against the bare loops in the same round. `python -m benchmarks.sending
[--events 20000] [--rounds 3]`.

A run at speed 0 is published whole while its POSTs wait at the sender; then they are let go at once, and the rate
is that of the deliveries from then to the run's end. Its lane holds every delivery in memory (its window raised
past the run), as a lane does when its run waits for room (`benchmarks.throughput`'s case): what is measured is a
delivery's attempt alone, with its lane, its signature, its POST, its record and its status written, and none of
the publishing (building, numbering, the event's and delivery's rows). The loop thread's CPU per delivery is read
from /proc (Linux). A lane whose window is the default instead spills, and reads the rest back from the store as it
sends (`--spill`): the cost of that read against the in-memory case.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from typing import Any
from unittest.mock import patch

from benchmarks.cpu import _thread_cpu
from benchmarks.harness import bare_client_loop, bare_loop, bulk_simulator, fast_receiver
from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.delivery import lane
from simulator.models.inputs import RunSpec
from simulator.runtime import run_loop, tune_gc

PUBLISHED_TIMEOUT = 300.0


async def sending_rate(url: str, events: int, concurrency: int) -> tuple[float, float, float]:
    """(deliveries per second, the loop thread's CPU µs per delivery) from the release of a published run, and
    the loop thread's CPU µs per event publishing it (building, rows, numbering: the rest of a delivery's cost)."""
    async with bulk_simulator(url, events, concurrency) as (sim, name):
        release = asyncio.Event()
        post = sim.engine.sender.post

        async def held_post(*args: Any, **kwargs: Any) -> Any:
            await release.wait()
            return await post(*args, **kwargs)

        sim.engine.sender.post = held_post  # type: ignore[method-assign]
        publishing = _thread_cpu(threading.get_native_id())
        run = await sim.runs.start(RunSpec(scenario=name, speed=0, seed=1))
        await _published(sim, run.id, events)
        cpu, started = _thread_cpu(threading.get_native_id()), time.perf_counter()
        publishing = cpu - publishing
        release.set()
        run = await sim.runs.wait(run.id)
        elapsed = time.perf_counter() - started
        cpu = _thread_cpu(threading.get_native_id()) - cpu
        if run.counts.get("succeeded") != events:
            raise RuntimeError(f"not every delivery succeeded: {run.counts}")
    return events / elapsed, cpu / events * 1e6, publishing / events * 1e6


async def _published(sim: Simulator, run_id: str, events: int) -> None:
    """Until every delivery of the run is written to the store."""
    deadline = time.monotonic() + PUBLISHED_TIMEOUT
    while sum((await sim.store.delivery_counts(run_id)).values()) < events:
        if time.monotonic() > deadline:
            raise TimeoutError("the run was not published in time")
        await asyncio.sleep(0.05)


async def compare(url: str, events: int, rounds: int, concurrency: int = 16) -> dict[str, float]:
    """Medians over `rounds` of the aiohttp loop, the own-client loop and the sending side, taken back to back
    in each round, and of the sending side's ratio to each loop in its round."""
    bodies = [catalog.sample("token.created", i) for i in range(events)]
    base, client, sending, cpu, publishing = [], [], [], [], []
    for _ in range(rounds):
        base.append(await bare_loop(url, bodies, concurrency))
        client.append(await bare_client_loop(url, bodies, concurrency))
        rate, loop_us, publish_us = await sending_rate(url, events, concurrency)
        sending.append(rate)
        cpu.append(loop_us)
        publishing.append(publish_us)
    return {
        "baseline": statistics.median(base),
        "client": statistics.median(client),
        "sending": statistics.median(sending),
        "loop_us": statistics.median(cpu),
        "publish_us": statistics.median(publishing),
        "ratio": statistics.median(s / b for s, b in zip(sending, base, strict=True)),
        "client_ratio": statistics.median(s / c for s, c in zip(sending, client, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sending", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spill", action="store_true", help="keep the lane's default window (it reads back)")
    args = parser.parse_args()
    tune_gc()  # as `serve` and `run` do
    window = lane.HIGH_WATER if args.spill else args.events + 1
    with fast_receiver() as (url, kind), patch.object(lane, "HIGH_WATER", window):
        m = run_loop(compare(url, args.events, args.rounds))
    print(
        f"sending alone to {kind} ({args.events:,} deliveries, median of {args.rounds} rounds, lane window "
        f"{window:,}): {m['sending']:,.0f} deliveries/s, the loop thread {m['loop_us']:.0f} µs each; aiohttp loop "
        f"{m['baseline']:,.0f} POST/s (ratio {m['ratio']:.2f}); own client {m['client']:,.0f} POST/s "
        f"(ratio {m['client_ratio']:.2f}). Publishing the run beforehand: the loop thread {m['publish_us']:.0f} µs "
        "an event (polling the store's counts included)"
    )


if __name__ == "__main__":
    main()
