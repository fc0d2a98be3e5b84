"""Scale: one long run at speed 0 across several subscriptions, reporting time and memory as it goes.

`python -m benchmarks.scale EVENTS` prints one JSON line. Memory is read from /proc while the run goes, so a
growth with the number of events (a list of all events kept somewhere) shows as a rising series.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import children_peak_rss_mb, fast_receiver, peak_rss_mb, rss_mb
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.runtime import run_loop, tune_gc

TYPES = ("token.created", "token.read", "token.updated", "token.expired")


def scenario(directory: Path, events: int) -> str:
    steps = "".join(f"      - emit: {t}\n" for t in TYPES)
    Path(directory, "scale.yaml").write_text(
        f"name: scale\nprovider: basistheory\ndescription: scale\nsteps:\n"
        f"  - repeat: {events // len(TYPES)}\n    steps:\n{steps}"
    )
    return "scale"


async def measure(url: str, events: int) -> dict[str, object]:
    samples: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as d:
        sim = await Simulator.open(str(Path(d, "scale.db")), scenario_dirs=[Path(d)])
        try:
            for etype in TYPES:  # many subscriptions, each taking its share of the events
                await sim.create_subscription(
                    SubscriptionSpec(url=url, events=[etype], signing="standard", max_in_flight=8)
                )
            started = time.perf_counter()
            run = await sim.runs.start(RunSpec(scenario=scenario(Path(d), events), speed=0, seed=1))
            while True:
                current = await sim.runs.wait(run.id, timeout=2.0)
                samples.append((sum(current.counts.values()), round(rss_mb(), 1)))
                if current.status != "running" and current.status != "pending":
                    break
            elapsed = time.perf_counter() - started
        finally:
            await sim.close()
    return {
        "events": events,
        "seconds": round(elapsed, 1),
        "rate": round(events / elapsed),
        "status": current.status,
        "succeeded": current.counts.get("succeeded", 0),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "builder_peak_rss_mb": round(children_peak_rss_mb(), 1),
        "rss_samples": samples[:: max(1, len(samples) // 12)],
    }


if __name__ == "__main__":
    tune_gc()  # as `serve` and `run` do
    with fast_receiver() as (target, _kind):
        print(json.dumps(run_loop(measure(target, int(sys.argv[1])))))
