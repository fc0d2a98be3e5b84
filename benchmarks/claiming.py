"""How senders claim work on PostgreSQL: webhook-sim's subscription leases against a job library, Procrastinate.

    python -m benchmarks.claiming [--jobs 5000]

`webhook-sim worker` leases whole subscriptions (`FOR UPDATE SKIP LOCKED` on a lease row, an even share each) and
then reads each one's deliveries in pages, in order; a job library claims and settles each job on its own.
Procrastinate is the well-kept one whose per-lock serialisation could keep a subscription's order. Every row
here gets a fresh database in one throwaway PostgreSQL cluster, has every job or delivery made before the
senders start, and is timed from the first job started to the last, as the store records them:
- Procrastinate with a task that does nothing: the library's own cost, claiming and settling;
- Procrastinate with a task that POSTs a `token.created` body to the fast receiver (aiohttp, 16 at once per
  worker): less than a delivery does (nothing signed, no attempt recorded), so a floor for it;
- the same with one lock per subscription, as order would need (8 subscriptions): one job per lock at a time;
- `webhook-sim worker`: the real thing, signed POSTs and recorded attempts (`benchmarks.workers`' drain).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import procrastinate
import psycopg
from procrastinate.types import JSONValue
from sqlalchemy import make_url

from benchmarks import workers
from benchmarks.harness import fast_receiver
from simulator import catalog
from simulator.core.schedules import sync_url
from simulator.runtime import run_loop
from tests.store import pg

QUEUE = "deliveries"
CONCURRENCY = 16  # jobs at once per worker, as a lane's max_in_flight in `benchmarks.workers`
SUBSCRIPTIONS = workers.SUBSCRIPTIONS
DEFER_CHUNK = 1000
# How often a worker with nothing it may take looks again. A job behind a lock held by another under way is not
# announced when the lock is let go; at the default 5 s a locked row ran at 10-34 jobs/s.
POLL = 0.01
WORKER_TIMEOUT = 600.0
BODY = catalog.sample("token.created", 1)
_names = count(1)


def conninfo(url: str) -> str:
    """The benchmarks' SQLAlchemy URL (`postgresql+asyncpg://`) as libpq takes it."""
    return sync_url(make_url(url))


def make_app(dsn: str, url: str | None) -> tuple[procrastinate.App, list[aiohttp.ClientSession]]:
    """An app with one task, `deliver`: a POST of BODY to `url`, or nothing when `url` is None; and the list
    that holds its HTTP session once made (to be closed)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    sessions: list[aiohttp.ClientSession] = []

    @app.task(name="deliver", queue=QUEUE)
    async def deliver(n: int) -> None:
        if url is None:
            return
        if not sessions:
            sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)))
        async with sessions[0].post(url, data=BODY, headers={"Content-Type": "application/json"}) as answer:
            if answer.status >= 300:
                raise RuntimeError(f"the receiver answered {answer.status}")

    return app, sessions


async def defer(dsn: str, jobs: int, locked: bool) -> None:
    """The schema, then `jobs` jobs; with `locked`, each under the lock of one of SUBSCRIPTIONS in turn."""
    app, _ = make_app(dsn, None)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        task = app.tasks["deliver"]
        for start in range(0, jobs, DEFER_CHUNK):
            numbers = range(start, min(start + DEFER_CHUNK, jobs))
            if not locked:
                await task.batch_defer_async(*(_args(n) for n in numbers))
                continue
            for sub in range(SUBSCRIPTIONS):
                mine = [_args(n) for n in numbers if n % SUBSCRIPTIONS == sub]
                if mine:
                    await task.configure(lock=f"sub{sub}").batch_defer_async(*mine)


def _args(n: int) -> dict[str, JSONValue]:
    return {"n": n}


async def work(dsn: str, url: str | None) -> None:
    """One worker process: runs until SIGTERM (a worker that stops when it finds nothing to fetch, `wait=False`,
    stopped with jobs left behind a lock held by one under way)."""
    app, sessions = make_app(dsn, url)
    try:
        async with app.open_async():
            await app.run_worker_async(
                queues=[QUEUE], concurrency=CONCURRENCY, listen_notify=True, fetch_job_polling_interval=POLL
            )
    finally:
        for session in sessions:
            await session.close()


def work_main(argv: list[str]) -> None:
    """`work` in a process of its own, started as `python -c` so that the app is not made in `__main__`."""
    asyncio.run(work(argv[0], argv[1] if len(argv) > 1 else None))


def span(dsn: str) -> tuple[int, int, float]:
    """Jobs succeeded, jobs still to do or under way, and the seconds from the first job started to the last."""
    query = """
        select (select count(*) from procrastinate_events where type = 'succeeded'),
               (select count(*) from procrastinate_jobs where status in ('todo', 'doing')),
               (select extract(epoch from max(at) - min(at)) from procrastinate_events where type = 'started')"""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), float(row[2] or 0.0)


def procrastinate_row(
    cluster: pg.Cluster, jobs: int, worker_count: int, url: str | None, locked: bool
) -> dict[str, Any]:
    dsn = conninfo(cluster.create_database(f"claiming_{next(_names)}"))
    run_loop(defer(dsn, jobs, locked))
    code = "import sys; from benchmarks.claiming import work_main; work_main(sys.argv[1:])"
    cmd = [sys.executable, "-c", code, dsn, *([url] if url else [])]
    procs = [subprocess.Popen(cmd) for _ in range(worker_count)]
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while (state := span(dsn))[0] < jobs:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs) or not state[1]:
                raise RuntimeError(f"{state[0]} of {jobs} jobs succeeded, {state[1]} left")
            time.sleep(0.2)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    _, _, seconds = span(dsn)
    task = "POST" if url else "nothing"
    return {
        "sender": f"Procrastinate, a task that does {task}"
        + (f", a lock per subscription ({SUBSCRIPTIONS})" if locked else ""),
        "workers": worker_count,
        "jobs": jobs,
        "per_s": round(jobs / max(seconds, 1e-9)),
    }


def webhook_sim_row(cluster: pg.Cluster, deliveries: int, worker_count: int, url: str) -> dict[str, Any]:
    db = cluster.create_database(f"claiming_{next(_names)}")
    logs = Path(tempfile.mkdtemp(prefix="bench-claiming-"))
    try:
        row = run_loop(workers.drain(db, url, deliveries, worker_count, logs))
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    return {
        "sender": "webhook-sim worker, signed POSTs, attempts recorded",
        "workers": worker_count,
        "jobs": deliveries,
        "per_s": row["deliveries_per_s"],
    }


def measure(jobs: int, worker_counts: tuple[int, ...] = (1, 2)) -> list[dict[str, Any]]:
    rows = []
    with fast_receiver() as (url, _), workers.cluster() as cluster:
        for n in worker_counts:
            for row in (
                procrastinate_row(cluster, jobs, n, None, locked=False),
                procrastinate_row(cluster, jobs, n, url, locked=False),
                procrastinate_row(cluster, jobs, n, url, locked=True),
                webhook_sim_row(cluster, jobs, n, url),
            ):
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.claiming", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    args = parser.parse_args()
    logging.getLogger("procrastinate").setLevel(logging.ERROR)  # it warns of an app made in `__main__`
    if pg.bindir() is None:
        sys.exit(pg.MISSING)
    measure(args.jobs)


if __name__ == "__main__":
    main()
