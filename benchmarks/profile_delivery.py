"""Where a delivery's time goes: cProfile over a 20,000-event run at speed 0 to the fast receiver, grouped by
stage. `python -m benchmarks.profile_delivery [EVENTS]`."""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys

from benchmarks.harness import fast_receiver
from benchmarks.throughput import simulator_rate
from simulator.runtime import tune_gc

STAGES = {
    "generate (builders, serialisation)": ("simulator/catalog.py", "build_event"),
    "run loop (scenario timeline, emit)": ("simulator/core/runs.py", "emit"),
    "persist (publish: rows, writer queue)": ("simulator/delivery/publishing.py", "publish"),
    "attempt (render, sign, POST, record)": ("simulator/delivery/outcomes.py", "_attempt"),
    "  of which the POST": ("simulator/delivery/sender.py", "post"),
    "  of which signing": ("simulator/signing.py", "sign"),
}


def main(events: int) -> None:
    tune_gc()
    profile = cProfile.Profile()
    with fast_receiver() as (url, kind):
        profile.enable()
        # asyncio's own loop: under uvloop, cProfile cannot attribute time spent in its C callbacks.
        rate = asyncio.run(simulator_rate(url, events, 16))
        profile.disable()
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"{events} events to the {kind}: {rate:,.0f}/s under the profiler; CPU profiled {total:.1f} s")
    for label, (path, func) in STAGES.items():
        cumulative = sum(
            v[3]
            for k, v in stats.stats.items()  # type: ignore[attr-defined]
            if k[0].endswith(path) and k[2] == func
        )
        print(f"  {label:<40} {cumulative / total:6.1%}  ({cumulative * 1e6 / events:,.0f} µs/event)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
