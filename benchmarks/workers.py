"""Worker processes on PostgreSQL: the scaling table, a long run, and the chaos run.

    python -m benchmarks.workers scaling [--deliveries N]    deliveries/s with 1, 2 and 4 `webhook-sim worker`
    python -m benchmarks.workers long [--events N]           N events with 2 workers, peak RSS per process
    python -m benchmarks.workers chaos [--events N]          2 workers; SIGKILL one at 30 %, restart PostgreSQL
                                                             at 60 %; every event counted at the receiver

Each measurement gets a throwaway PostgreSQL cluster (Debian's `postgresql`, as the tests use) and a fresh
database. This process publishes every delivery first (a simulator that does not send), then starts the workers,
so the rate is the workers' alone: deliveries over the span from the first attempt to the last, as the store
records them. The receiver is the benchmarks' fast one (nginx when installed, else the asyncio sink); the chaos
run uses the sink, which writes down every `webhook-id` it receives, to count what arrived and what arrived twice.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.harness import fast_receiver, peak_rss_mb
from simulator import catalog
from simulator.core.simulator import Simulator
from simulator.models.inputs import SubscriptionSpec
from simulator.runtime import run_loop
from simulator.store import tables as t
from tests.store import pg

TYPES = ("token.created", "token.updated", "token.deleted", "token.expired")
SUBSCRIPTIONS = 8  # enough for 4 workers to share
MAX_IN_FLIGHT = 16
_names = itertools.count(1)


class Workers:
    def __init__(self, db: str, count: int, ttl: float, log_dir: Path) -> None:
        env = {**os.environ, "WEBHOOK_SIM_SECRET_KEY": "benchmarks"}
        self.procs = []
        for i in range(count):
            log = (log_dir / f"worker{i}.log").open("wb")
            cmd = [sys.executable, "-m", "simulator.cli", "worker", "--db", db, "--lease-ttl", str(ttl)]
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env))

    def peak_rss_mb(self) -> list[float]:
        out = []
        for proc in self.procs:
            try:
                text = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                out.append(float("nan"))
                continue
            line = next(x for x in text.splitlines() if x.startswith("VmHWM:"))
            out.append(round(int(line.split()[1]) / 1024, 1))
        return out

    def cpu_seconds(self) -> list[float]:
        """User and system CPU time each worker has used so far."""
        out = []
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                out.append(float("nan"))
                continue
            out.append(round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1))
        return out

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


async def publish(sim: Simulator, url: str, events: int) -> int:
    """`events` events, each to one of the subscriptions in turn (one delivery per event); returns the count."""
    subs = [
        await sim.create_subscription(
            SubscriptionSpec(
                url=f"{url}/{i}", events=["basistheory:*"], signing="standard", max_in_flight=MAX_IN_FLIGHT
            )
        )
        for i in range(SUBSCRIPTIONS)
    ]
    ctx = catalog.new_context(18, catalog.SAMPLE_TIME)
    kinds = [catalog.resolve(name) for name in TYPES]
    for n in range(events):
        await sim.engine.publish(catalog.build_event(kinds[n % len(kinds)], ctx), [subs[n % SUBSCRIPTIONS]], speed=0)
    await sim.store.writer.barrier()
    return events


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (every core, every process), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def progress(sim: Simulator) -> tuple[int, float | None, float | None]:
    """Deliveries succeeded, and the first and last attempt's start time."""
    d, a = t.deliveries.c, t.attempts.c
    async with sim.store.engine.connect() as conn:
        done = (await conn.execute(select(func.count()).where(d.status == "succeeded"))).scalar() or 0
        first, last = (await conn.execute(select(func.min(a.started_at), func.max(a.started_at)))).one()
    return int(done), first, last


async def drain(
    db: str, url: str, events: int, workers: int, log_dir: Path, chaos: Path | None = None
) -> dict[str, Any]:
    os.environ["WEBHOOK_SIM_SECRET_KEY"] = "benchmarks"
    sim = await Simulator.open(db, sends=False, lease_ttl=5.0)
    try:
        began = time.perf_counter()
        total = await publish(sim, url, events)
        published_in = time.perf_counter() - began
        busy_before = busy_cpu_seconds()
        pool = Workers(db, workers, ttl=5.0, log_dir=log_dir)
        events_at: dict[str, float] = {}
        killed_in_flight = None
        try:
            while True:
                done, first, last = await progress(sim)
                if chaos is not None:
                    killed_in_flight = await _chaos_step(sim, pool, done / total, events_at, killed_in_flight)
                if done >= total:
                    break
                if any(p.poll() is not None for p in pool.procs[1 if chaos else 0 :]):
                    raise RuntimeError(f"a worker exited: see {log_dir}")
                await asyncio.sleep(0.2)
            rss = pool.peak_rss_mb()
            worker_cpu = pool.cpu_seconds()
            busy = busy_cpu_seconds() - busy_before
        finally:
            pool.stop()
        assert first is not None and last is not None
        out: dict[str, Any] = {
            "workers": workers,
            "deliveries": total,
            "published_per_s": round(total / published_in),
            "seconds": round(last - first, 2),
            "deliveries_per_s": round(total / max(last - first, 1e-9)),
            "worker_peak_rss_mb": rss,
            # Where the CPU went while the workers ran: theirs, and the machine's (PostgreSQL, the receiver,
            # this process polling); with 2 cores, 2 x seconds is all there is.
            "worker_cpu_s": worker_cpu,
            "machine_busy_cpu_s": round(busy, 1),
            "cores": os.cpu_count(),
            "publisher_peak_rss_mb": round(peak_rss_mb(), 1),
        }
        if chaos is not None:
            out.update(events_at)
            out["killed_worker_in_flight_bound"] = killed_in_flight
        return out
    finally:
        await sim.close()


async def _chaos_step(
    sim: Simulator, pool: Workers, share: float, events_at: dict[str, float], bound: int | None
) -> int | None:
    if share >= 0.3 and "killed_at_share" not in events_at:
        leases = await _leases_by_pid(sim)
        victim = pool.procs[0]
        bound = leases.get(victim.pid, 0) * MAX_IN_FLIGHT
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        events_at["killed_at_share"] = round(share, 3)
    if share >= 0.6 and "pg_restarted_at_share" not in events_at:
        cluster = _CLUSTER[0]
        await asyncio.to_thread(pg.restart, cluster)
        events_at["pg_restarted_at_share"] = round(share, 3)
    return bound


async def _leases_by_pid(sim: Simulator) -> dict[int, int]:
    s, p = t.subscriptions.c, t.processes.c
    async with sim.store.engine.connect() as conn:
        rows = await conn.execute(
            select(p.pid, func.count())
            .select_from(t.subscriptions.join(t.processes, s.lease_owner == p.id))
            .group_by(p.pid)
        )
        return {row[0]: row[1] for row in rows}


_CLUSTER: list[pg.Cluster] = []


@contextmanager
def cluster() -> Iterator[pg.Cluster]:
    started = pg.start_cluster()
    _CLUSTER[:] = [started]
    try:
        yield started
    finally:
        pg.remove(started)


def scaling(deliveries: int) -> list[dict[str, Any]]:
    rows = []
    with fast_receiver() as (url, kind), cluster() as pgc:
        for workers in (1, 2, 4):
            db = pgc.create_database(f"bench_{next(_names)}")
            logs = Path(tempfile.mkdtemp(prefix="bench-workers-"))
            row = run_loop(drain(db, url, deliveries, workers, logs))
            row["receiver"] = kind
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(logs, ignore_errors=True)
    return rows


def long(events: int) -> dict[str, Any]:
    with fast_receiver() as (url, kind), cluster() as pgc:
        db = pgc.create_database("bench_long")
        logs = Path(tempfile.mkdtemp(prefix="bench-workers-"))
        row = run_loop(drain(db, url, events, 2, logs))
        row["receiver"] = kind
    print(json.dumps(row), flush=True)
    return row


def chaos(events: int) -> dict[str, Any]:
    record = Path(tempfile.mkdtemp(prefix="bench-sink-")) / "ids"
    with fast_receiver(record) as (url, _), cluster() as pgc:
        db = pgc.create_database("bench_chaos")
        logs = Path(tempfile.mkdtemp(prefix="bench-workers-"))
        row = run_loop(drain(db, url, events, 2, logs, chaos=record))
        time.sleep(0.5)  # the sink writes each line as it answers; nothing is buffered
        counts = collections.Counter(record.read_bytes().split())
    row["received_distinct"] = len(counts)
    row["duplicates"] = sum(n - 1 for n in counts.values())
    row["every_delivery_arrived"] = len(counts) == row["deliveries"]
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["scaling", "long", "chaos"])
    parser.add_argument("--deliveries", type=int, default=100_000, help="scaling: deliveries per row")
    parser.add_argument("--events", type=int, help="long: 1,000,000; chaos: 100,000 (one delivery each)")
    args = parser.parse_args()
    if pg.bindir() is None:
        sys.exit(pg.MISSING)
    if args.what == "scaling":
        scaling(args.deliveries)
    elif args.what == "long":
        long(args.events or 1_000_000)
    else:
        chaos(args.events or 100_000)


if __name__ == "__main__":
    main()
