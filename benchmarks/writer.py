"""Whether a run at speed 0 waits for its store: how much of the run SQLite's thread is busy, what that busy time
is made of, and how often the lanes have nothing to send. `python -m benchmarks.writer [--events 30000]
[--rounds 3]`. Linux only (it reads /proc).

A delivery is sent once its row is committed, so a lane can only send what the writer has committed. Each piece of
work the store's thread is given (a transaction of rows, a read) is timed as it runs there:
- its CPU time (`time.thread_time`);
- the time it waited for a core, runnable but not running (`/proc/self/task/<tid>/schedstat`);
- the rest, time it was blocked: on this store that is the interpreter lock, which the driver lets go around each
  SQLite step and must take back before the next (a commit's disk writes go to the page cache; `strace -c`
  showed 95 `fdatasync` calls taking 55 ms in all in such a run).

The event loop's thread is measured the same way over the whole run (its setup and the store's opening
included). Beside it, every millisecond, each lane is looked at: whether it has nothing to send (nothing queued
and nothing in flight), and how many of its window's deliveries are published but not yet committed
(`incoming`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

import aiosqlite

from benchmarks.harness import fast_receiver
from benchmarks.throughput import simulator_rate
from simulator.core.simulator import Simulator
from simulator.runtime import run_loop, tune_gc

SAMPLE_EVERY = 0.001


def _clocks(tid: int) -> tuple[float, float, float]:
    """The calling thread's clocks, `tid` its native id: wall time, its CPU time, and how long it has waited for a
    core since it started (the second field of its schedstat), in seconds."""
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        queued = int(f.read().split()[1]) / 1e9
    return time.perf_counter(), time.thread_time(), queued


def _since(before: tuple[float, float, float], tid: int) -> tuple[float, float, float]:
    """Each of `_clocks` advanced since `before`."""
    now = _clocks(tid)
    return now[0] - before[0], now[1] - before[1], now[2] - before[2]


@dataclass
class Measure:
    """What one run showed: each piece of store work as (start, wall, cpu, waited for a core), and the samples of
    the lanes as (nothing to send, incoming)."""

    calls: list[tuple[float, float, float, float]] = field(default_factory=list)
    lanes: list[tuple[bool, int]] = field(default_factory=list)

    def timed(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """`fn`, recording its times on the thread that runs it."""

        def run() -> Any:
            tid = threading.get_native_id()
            before = _clocks(tid)
            try:
                return fn()
            finally:
                self.calls.append((before[0], *_since(before, tid)))

        return run

    async def sample(self, sim: Simulator) -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY)
            for lane in list(sim.engine._lanes.values()):
                idle = not lane._heap and not lane._in_flight
                self.lanes.append((idle, lane.incoming))


@contextmanager
def timing_the_store(measure: Measure) -> Iterator[None]:
    """Every function aiosqlite's thread runs, timed by `measure`."""
    real = aiosqlite.Connection._execute

    async def execute(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await real(self, measure.timed(lambda: fn(*args, **kwargs)))

    with patch.object(aiosqlite.Connection, "_execute", execute):
        yield


def measure_run(url: str, events: int) -> dict[str, float]:
    measure = Measure()
    tid = threading.get_native_id()
    before = _clocks(tid)
    with timing_the_store(measure):
        rate = run_loop(simulator_rate(url, events, 16, during=measure.sample))
    span, cpu, queued = _since(before, tid)
    return summary(measure, rate, span) | {"loop_cpu": cpu / span, "loop_core_wait": queued / span}


def summary(measure: Measure, rate: float, span: float) -> dict[str, float]:
    busy = sum(wall for _, wall, _, _ in measure.calls)
    cpu = sum(c for _, _, c, _ in measure.calls)
    queued = sum(q for _, _, _, q in measure.calls)
    run_wall = max(s + w for s, w, _, _ in measure.calls) - min(s for s, _, _, _ in measure.calls)
    return {
        "rate": rate,
        "store_busy": busy / min(run_wall, span),
        "cpu": cpu / busy,
        "core_wait": queued / busy,
        "blocked": max(0.0, busy - cpu - queued) / busy,
        "calls": len(measure.calls),
        "samples": len(measure.lanes),
        "lanes_idle": sum(idle for idle, _ in measure.lanes) / max(1, len(measure.lanes)),
        "incoming_p50": statistics.median(n for _, n in measure.lanes) if measure.lanes else 0.0,
    }


def line(result: dict[str, float]) -> str:
    return (
        f"{result['rate']:,.0f} deliveries/s; SQLite's thread busy {result['store_busy']:.0%} of the run "
        f"({result['calls']:.0f} pieces of work): CPU {result['cpu']:.0%}, "
        f"waiting for a core {result['core_wait']:.0%}, blocked {result['blocked']:.0%}; "
        f"lanes with nothing to send in {result['lanes_idle']:.0%} of samples, "
        f"deliveries published and not yet committed p50 {result['incoming_p50']:.0f}; the event loop's thread: "
        f"CPU {result['loop_cpu']:.0%} of the run, waiting for a core {result['loop_core_wait']:.0%}, the rest "
        f"idle or waiting for the lock"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tune_gc()
    with fast_receiver() as (url, kind):
        print(f"{args.events} events at speed 0 to {kind}, one subscription of 16 in flight")
        for _ in range(args.rounds):
            print(" ", line(measure_run(url, args.events)), flush=True)


if __name__ == "__main__":
    main()
