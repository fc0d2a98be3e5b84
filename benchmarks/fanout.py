"""Fan-out: one run at speed 0 delivered to many subscriptions, each with a URL of its own on one receiver.

    python -m benchmarks.fanout [--subscriptions 8 100 400] [--deliveries 40000] [--in-flight 2]

For each count of subscriptions, a run of `deliveries / subscriptions` events (each event goes to every
subscription), beside a bare aiohttp loop posting as many bodies with as many connections in flight, back to back.
Each row gives the deliveries per second, the ratio to that loop, and the connections the run closed on its side
(sockets in TIME-WAIT before and after, from `ss`; Linux): a pool that keeps too few idle connections for the URLs
in use opens one per delivery, where a sound one opens none beyond those in flight.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.harness import bare_loop, bulk_scenario, fast_receiver
from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.runtime import run_loop, tune_gc


def time_wait() -> int | None:
    """Sockets in TIME-WAIT on the machine (those this side closed), or None without `ss`."""
    if shutil.which("ss") is None:
        return None
    listed = subprocess.run(["ss", "-tanH", "state", "time-wait"], capture_output=True, text=True, check=True)
    return len(listed.stdout.splitlines())


async def fan_out(url: str, subscriptions: int, events: int, in_flight: int) -> tuple[float, int | None]:
    """(deliveries per second, connections closed meanwhile) of a run of `events` to `subscriptions`."""
    with tempfile.TemporaryDirectory() as d:
        name = bulk_scenario(Path(d), events)
        sim = await Simulator.open(str(Path(d, "fanout.db")), scenario_dirs=[Path(d)])
        try:
            for i in range(subscriptions):
                spec = SubscriptionSpec(url=f"{url}s{i}", signing="standard", max_in_flight=in_flight)
                await sim.create_subscription(spec)
            before = time_wait()
            started = time.perf_counter()
            run = await sim.runs.start(RunSpec(scenario=name, speed=0, seed=1))
            run = await sim.runs.wait(run.id)
            elapsed = time.perf_counter() - started
            after = time_wait()
        finally:
            await sim.close()
    deliveries = events * subscriptions
    if run.counts.get("succeeded") != deliveries:
        raise RuntimeError(f"not every delivery succeeded: {run.counts}")
    closed = None if before is None or after is None else max(0, after - before)
    return deliveries / elapsed, closed


async def measure(url: str, counts: list[int], deliveries: int, in_flight: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for subscriptions in counts:
        events = max(1, deliveries // subscriptions)
        bodies = [catalog.sample("token.created", i) for i in range(events * subscriptions)]
        concurrency = min(subscriptions * in_flight, 1000)
        baseline = await bare_loop(url, bodies, concurrency)
        rate, closed = await fan_out(url, subscriptions, events, in_flight)
        rows.append(
            {
                "subscriptions": subscriptions,
                "deliveries": len(bodies),
                "per_s": round(rate),
                "aiohttp_per_s": round(baseline),
                "ratio": round(rate / baseline, 2),
                "connections_closed": closed,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, nargs="+", default=[8, 100, 400])
    parser.add_argument("--deliveries", type=int, default=40_000)
    parser.add_argument("--in-flight", type=int, default=2)
    args = parser.parse_args()
    tune_gc()  # as `serve` and `run` do
    with fast_receiver() as (url, kind):
        for row in run_loop(measure(url, args.subscriptions, args.deliveries, args.in_flight)):
            print(json.dumps({"receiver": kind, **row}))


if __name__ == "__main__":
    main()
