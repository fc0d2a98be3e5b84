"""Where the CPU of a run at speed 0 goes: the event loop's thread, SQLite's thread, the process that builds the
events, and the machine as a whole. `python -m benchmarks.cpu [--events 30000] [--rounds 3] [--without-store]`.

Linux only (it reads /proc). Each thread's CPU is read from /proc/self/task as it ends (SQLite's connection
threads end with the run's store), the child processes' (the one that builds the events, and the store's rows
process once the store is busy) from the children's times once they are waited for, and the
machine's busy and idle time from /proc/stat; the rest of the machine's busy time is the receiver and everything
else. The throughput target needs the loop's thread, which sends, under about 100 µs per delivery.

`--without-store` writes no rows and changes nothing else: the rate the engine alone reaches, its ceiling on this
machine whatever the store does.

`--engine-only` answers every POST at once (no socket) and builds each event type once, in the run's process (see
`benchmarks.budget`): what is left on the loop's thread is the engine's own bookkeeping (publishing, the lanes,
signing, the records, the writer's side), measured without the receiver and the building process taking turns on
the same two cores, which move the full measure by ±15 % between runs.
"""

from __future__ import annotations

import argparse
import os
import threading
from contextlib import ExitStack
from typing import Any
from unittest.mock import patch

from benchmarks import budget
from benchmarks.harness import fast_receiver
from benchmarks.throughput import simulator_rate
from simulator.core import run_plan
from simulator.runtime import run_loop, tune_gc
from simulator.store import direct

TICK = os.sysconf("SC_CLK_TCK")


def _thread_cpu(tid: int) -> float:
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _machine() -> tuple[float, float]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / TICK, idle / TICK


class _EndedThreads:
    """The CPU of every thread that ends while it is installed, read just before it does."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self._run = threading.Thread.run

    def __enter__(self) -> _EndedThreads:
        real, ended = self._run, self

        def run(thread: threading.Thread) -> None:
            try:
                real(thread)
            finally:
                ended.cpu += _thread_cpu(threading.get_native_id())

        threading.Thread.run = run  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        threading.Thread.run = self._run  # type: ignore[method-assign]


def _children(times: os.times_result) -> float:
    return times.children_user + times.children_system


async def _no_rows(conn: Any, statements: Any, process: Any = None) -> None:
    return None


def measure(url: str, events: int, *, store: bool = True, engine_only: bool = False) -> dict[str, float]:
    """One run of `events` at speed 0: its rate, and the CPU seconds of each part. Without `store` the rows of
    the run are not written (every other step is as in a real run): what the engine costs without SQLite. With
    `engine_only`, no POST and no building (see the module's text)."""
    loop_thread = threading.get_native_id()
    before, busy0, times0 = _thread_cpu(loop_thread), _machine(), os.times()
    with ExitStack() as stack:
        if not store:
            stack.enter_context(patch.object(direct, "sqlite_rows", _no_rows))
        if engine_only:
            for free in (budget.free_post, budget.free_generation):
                stack.enter_context(free())
            stack.enter_context(patch.object(run_plan, "OFFLOAD_AFTER", None))
        with _EndedThreads() as ended:
            rate = run_loop(simulator_rate(url, events, 16, check=store))
    after, busy1, times1 = _thread_cpu(loop_thread), _machine(), os.times()
    parts = {
        "loop thread": after - before,
        "SQLite threads": ended.cpu,
        "child processes": _children(times1) - _children(times0),
    }
    busy, idle = busy1[0] - busy0[0], busy1[1] - busy0[1]
    parts["receiver and the rest"] = max(0.0, busy - sum(parts.values()))
    return {"rate": rate, "wall": times1.elapsed - times0.elapsed, "busy": busy, "idle": idle, **parts}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--without-store",
        action="store_true",
        help="write no rows (the ceiling of the engine alone; the run's counts are then not checked)",
    )
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="answer every POST at once and build each event type once, in the run's process: the engine's own cost",
    )
    args = parser.parse_args()
    tune_gc()  # as `serve` and `run` do
    with fast_receiver() as (url, kind):
        if args.engine_only:
            kind = "no receiver (each POST answered at once)"
        for _ in range(args.rounds):
            m = measure(url, args.events, store=not args.without_store, engine_only=args.engine_only)
            shares = ", ".join(
                f"{name} {m[name]:.2f} s ({m[name] / args.events * 1e6:.0f} µs)"
                for name in ("loop thread", "SQLite threads", "child processes", "receiver and the rest")
            )
            print(
                f"{m['rate']:,.0f} deliveries/s to {kind}, {m['wall']:.2f} s: {shares}; "
                f"the machine busy {m['busy']:.2f} s, idle {m['idle']:.2f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
