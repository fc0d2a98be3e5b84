"""Lateness of scheduled deliveries while 50 clients read the control API.

    python -m benchmarks.lateness [--rate 1000] [--seconds 10] [--readers 50]

Three set-ups, each a `webhook-sim serve` process playing a run of `rate` events a second for `seconds`, one
subscription to the fast receiver, while `readers` clients loop on `GET /deliveries?limit=100` and `GET /runs`:
- `serve` alone on SQLite (it reads and sends on one event loop), with no readers: the baseline;
- the same with the readers;
- `serve --no-send` on PostgreSQL and one `webhook-sim worker` that plays the run and sends, with the readers.
Lateness is each first attempt's start against the time its delivery was due (the run's wall start plus the
event's simulated offset, at speed 1), from the store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from benchmarks.harness import bulk_scenario, fast_receiver
from simulator.store import sqlalchemy_url
from tests.store import pg

ENV = {**os.environ, "WEBHOOK_SIM_SECRET_KEY": "benchmarks"}
# A delivery sent at its first attempt keeps the time it was due in next_attempt_at.
QUERY = """
    select d.next_attempt_at, a.started_at from attempts a
    join deliveries d on d.id = a.delivery_id
    where a.number = 1 and d.attempts = 1 and d.run_id = :run"""


def start(args: list[str], log: Path, ready: str) -> tuple[subprocess.Popen[bytes], str]:
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", *args], stdout=out, stderr=subprocess.STDOUT, env=ENV
    )
    deadline = time.monotonic() + 60
    while ready not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text(errors="replace"))
        time.sleep(0.05)
    return proc, log.read_text(errors="replace")


async def readers(base: str, count: int, stop: asyncio.Event) -> int:
    """`count` clients reading until `stop`; how many answers they got."""
    done = 0

    async def one() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while not stop.is_set():
                await client.get("/deliveries", params={"limit": 100})
                await client.get("/runs")
                done += 2

    await asyncio.gather(*(one() for _ in range(count)))
    return done


async def play(base: str, target: str, n_readers: int) -> tuple[str, int]:
    """Subscribe, run the bulk scenario at speed 1 while readers read; the run id and the reads served."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        made = await client.post("/subscriptions", json={"url": target, "signing": "standard", "max_in_flight": 16})
        made.raise_for_status()
        stop = asyncio.Event()
        reading = asyncio.create_task(readers(base, n_readers, stop)) if n_readers else None
        run = (await client.post("/runs", json={"scenario": "bulk", "speed": 1, "seed": 1})).json()
        while True:  # a benchmark's pace: the run's state over HTTP twice a second
            state = (await client.get(f"/runs/{run['id']}")).json()
            if state["status"] not in ("pending", "running"):
                break
            await asyncio.sleep(0.5)
        stop.set()
        served = await reading if reading else 0
    return run["id"], served


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user + system), from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def lateness(db: str, run_id: str) -> list[float]:
    url = sqlalchemy_url(db)[0].replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(QUERY), {"run": run_id}).all()
    finally:
        engine.dispose()
    return sorted(started - due for due, started in rows)


def measure(
    label: str, db: str, scenarios: Path, target: str, n_readers: int, worker: bool, logs: Path
) -> dict[str, Any]:
    procs = []
    try:
        serve_args = ["serve", "--db", db, "--port", "0", "--scenarios", str(scenarios)]
        if worker:
            serve_args.append("--no-send")
        proc, out = start(serve_args, logs / f"{label}-serve.log", "serving on")
        procs.append(proc)
        base = re.search(r"serving on (http://\S+)", out).group(1)  # type: ignore[union-attr]
        if worker:
            worker_args = ["worker", "--db", db, "--scenarios", str(scenarios)]  # it plays the run
            procs.append(start(worker_args, logs / f"{label}-worker.log", "sending")[0])
        run_id, served = asyncio.run(play(base, target, n_readers))
        cpu = {name: cpu_seconds(proc.pid) for name, proc in zip(("serve", "worker"), procs, strict=False)}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    late = lateness(db, run_id)
    row = {
        "setup": label,
        "readers": n_readers,
        "reads": served,
        "events": len(late),
        "p50_ms": round(late[len(late) // 2] * 1000, 2),
        "p99_ms": round(late[int(len(late) * 0.99)] * 1000, 2),
        "mean_ms": round(statistics.fmean(late) * 1000, 2),
        "cpu_s": cpu,
    }
    print(json.dumps(row), flush=True)
    return row


def with_readers(target: str, rate: int, seconds: int = 10, n_readers: int = 50) -> dict[str, Any]:
    """`serve` on SQLite playing `rate` events a second for `seconds` while `n_readers` clients read: its row."""
    work = Path(tempfile.mkdtemp(prefix="bench-lateness-"))
    bulk_scenario(work, rate * seconds, wait=f"{1000 // rate}ms")
    return measure(f"sqlite+readers@{rate}", f"sqlite:///{work / 'r.db'}", work, target, n_readers, False, work)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lateness", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--readers", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-lateness-"))
    bulk_scenario(work, args.rate * args.seconds, wait=f"{1000 // args.rate}ms")
    with fast_receiver() as (target, _):
        measure("sqlite", f"sqlite:///{work / 'a.db'}", work, target, 0, False, work)
        measure("sqlite+readers", f"sqlite:///{work / 'b.db'}", work, target, args.readers, False, work)
        if pg.bindir() is not None:
            cluster = pg.start_cluster()
            try:
                db = cluster.create_database("lateness").replace("+asyncpg", "")
                measure("postgresql+worker+readers", db, work, target, args.readers, True, work)
            finally:
                pg.remove(cluster)


if __name__ == "__main__":
    main()
