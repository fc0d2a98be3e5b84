"""Where a delivery's time goes, without a profiler's overhead: the same real run at speed 0, again and again with
one more stage replaced by a no-op, each stage's cost read off as the difference. `python -m benchmarks.budget`.

A profiler (see `profile_delivery`) doubles the cost of small Python calls and cannot see inside uvloop; taking a
stage away and timing what is left measures it at full speed, on the loop `serve` and `run` use.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest.mock import patch

from benchmarks.harness import fast_receiver
from benchmarks.throughput import simulator_rate
from simulator import catalog
from simulator.core import run_plan
from simulator.delivery import outcomes, sender
from simulator.models import Event
from simulator.runtime import run_loop, tune_gc
from simulator.store.writer import Op, Writer


def free_post() -> Any:
    """The POST answered at once with a 204 (one turn of the loop, as a real answer costs at least)."""

    async def post(
        self: sender.Sender, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> sender.Outcome:
        await asyncio.sleep(0)
        return sender.Outcome(204, 0.0, None, "", None)

    return patch.object(sender.Sender, "post", post)


def free_signing() -> Any:
    def headers(*args: Any) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    return patch.object(outcomes, "request_headers", headers)


def free_rows() -> Any:
    """Rows (events, deliveries, attempts, status changes) reported committed without being written."""
    put, put_nowait = Writer.put, Writer.put_nowait

    def skipped(op: Op) -> bool:
        if op.call is None and (op.events or op.deliveries or op.rewrites or op.attempts or op.updates):
            if op.done is not None:
                op.done(None)
            return True
        return False

    async def put_free(self: Writer, op: Op) -> None:
        if not skipped(op):
            await put(self, op)

    def put_nowait_free(self: Writer, op: Op) -> None:
        if not skipped(op):
            put_nowait(self, op)

    stack = ExitStack()
    stack.enter_context(patch.object(Writer, "put", put_free))
    stack.enter_context(patch.object(Writer, "put_nowait", put_nowait_free))
    return stack


def free_generation() -> Any:
    """Every event of a type is the first one built, reused (the run still numbers and persists each)."""
    build = catalog.build_event
    built: dict[str, Event] = {}

    def cached(etype: Any, ctx: Any, overrides: Any = None, **kwargs: Any) -> Event:
        if etype.key not in built:
            built[etype.key] = build(etype, ctx, overrides, **kwargs)
        return built[etype.key]

    return patch.object(catalog, "build_event", cached)


STAGES: list[tuple[str, Callable[[], Any]]] = [
    ("the POST (sender, socket, response)", free_post),
    ("signing", free_signing),
    ("persistence (rows to SQLite)", free_rows),
    ("generation (builders, serialisation)", free_generation),
]


def measure(url: str, events: int, rounds: int) -> list[tuple[str, float]]:
    """µs per event with the first k stages free, for k = 0..len(STAGES) (median of `rounds`), every event built
    in the run's process (the stages are patched there); then everything as a run goes, its events built by a
    process of their own."""
    results = []
    for k in range(len(STAGES) + 1):
        rates = []
        for _ in range(rounds):
            with ExitStack() as stack:
                stack.enter_context(patch.object(run_plan, "OFFLOAD_AFTER", None))
                for _, free in STAGES[:k]:
                    stack.enter_context(free())
                rates.append(run_loop(simulator_rate(url, events, 16, check=k == 0)))
        label = "everything" if k == 0 else f"without {STAGES[k - 1][0]}"
        results.append((label, 1e6 / statistics.median(rates)))
    rates = [run_loop(simulator_rate(url, events, 16)) for _ in range(rounds)]
    results.append(("everything, events built by a process of their own", 1e6 / statistics.median(rates)))
    return results


def sqlite_floor(rows: int = 20000) -> dict[str, float]:
    """µs per row of SQLite alone (stdlib sqlite3, 500 rows a transaction, WAL) for each row a delivery writes:
    the floor under the persistence stage, whatever the Python around it does."""
    from sqlalchemy import create_engine
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from simulator.delivery.job import Job, event_row
    from simulator.store import codec, tables
    from simulator.store.transaction import _ATTEMPT_INSERT, _DELIVERY_INSERT, _DELIVERY_UPDATE, _EVENT_INSERT
    from simulator.timeutil import now_utc

    event = catalog.build_event(catalog.resolve("basistheory:token.created"), catalog.new_context(1, now_utc()))
    jobs = [
        Job(
            id=f"msg_{i:08d}", n=i, subscription_id="sub", run_id="run", events=[event], envelope_id="e", speed=0, due=0
        )
        for i in range(rows)
    ]
    inserts = [job.insert_row([f"run/{i}"], 0.0) for i, job in enumerate(jobs)]
    for job in jobs:
        job.status, job.attempts = "succeeded", 1
    attempt = {
        "number": 1,
        "started_at": 0.0,
        "latency_ms": 1.0,
        "status_code": 204,
        "error": None,
        "response": "",
        "response_encoding": None,
        "delivered_at": "2024-01-01T00:00:00.000Z",
        "faults": None,
        # What a signed POST answered by a bare 204 records: the request's URL and headers, the answer's headers.
        **codec.exchange_row(
            "http://127.0.0.1:9/hook",
            {"content-type": "application/json", "webhook-id": "msg_1", "webhook-signature": "v1," + "a" * 44},
            b"{}",
            True,
            {"server": "nginx", "date": "Mon, 30 Nov 2026 00:00:00 GMT"},
        ),
    }
    tables_rows = {
        "events": (_EVENT_INSERT, [event_row(event, f"run/{i}") for i in range(rows)]),
        "deliveries": (_DELIVERY_INSERT, inserts),
        "attempts": (_ATTEMPT_INSERT, [{"delivery_id": job.id, **attempt} for job in jobs]),
        "status updates": (_DELIVERY_UPDATE, [job.update_row() for job in jobs]),
    }
    dialect = sqlite_dialect.dialect()
    out = {}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "floor.db")
        engine = create_engine(f"sqlite:///{path}")
        tables.metadata.create_all(engine)
        engine.dispose()
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for name, (stmt, batch) in tables_rows.items():
            compiled = stmt.compile(dialect=dialect, column_keys=list(batch[0]))
            params = [tuple(row[key] for key in compiled.positiontup or ()) for row in batch]
            started = time.perf_counter()
            for k in range(0, rows, 500):
                db.execute("BEGIN")
                db.executemany(compiled.string, params[k : k + 500])
                db.execute("COMMIT")
            out[name] = (time.perf_counter() - started) / rows * 1e6
        db.close()
    return out


def main(events: int = 20000, rounds: int = 3) -> None:
    tune_gc()
    with fast_receiver() as (url, kind):
        results = measure(url, events, rounds)
    print(f"{events} events at speed 0 to {kind}, median of {rounds} rounds; wall µs per delivered event")
    (offloaded_label, offloaded), staged = results[-1], results[:-1]
    previous = None
    for label, us in staged:
        share = "" if previous is None else f"   stage: {previous - us:6.1f} µs ({(previous - us) / staged[0][1]:.0%})"
        print(f"  {label:<48} {us:7.1f} µs{share}")
        previous = us
    print(
        f"  {'what remains: run loop, lanes, writer, event loop':<48} {staged[-1][1]:7.1f} µs "
        f"({staged[-1][1] / staged[0][1]:.0%})"
    )
    print(f"  {offloaded_label:<48} {offloaded:7.1f} µs ({offloaded / staged[0][1]:.0%} of everything built here)")
    floor = sqlite_floor()
    print(
        f"SQLite alone, per row: {', '.join(f'{k} {v:.1f} µs' for k, v in floor.items())}; "
        f"{sum(floor.values()):.1f} µs per delivery"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
