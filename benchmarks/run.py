"""Every benchmark, as one table: figure, target, pass or fail. `python -m benchmarks.run [--full]`.

Ratios are measured against a baseline in the same run on the same machine; absolute targets are for the 2-core
machine the project is measured on. `--full` runs the 1,000,000-event scale tests (several minutes each): one
process on SQLite, and 2 workers on PostgreSQL; without it, a 100,000-event run on SQLite shows the memory trend.
Where PostgreSQL is installed, the scaling table of 1, 2 and 4 workers on it is printed too (`benchmarks.workers`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from benchmarks import generation, lateness, startup, throughput
from benchmarks.harness import fast_receiver
from simulator.runtime import run_loop, tune_gc
from tests.store import pg


def row(name: str, value: str, target: str, ok: bool | None) -> tuple[str, str, str, str]:
    return name, value, target, "-" if ok is None else ("pass" if ok else "FAIL")


def loop_name() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return f"uvloop {uvloop.__version__}"


def scale(events: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", str(events)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def workers(what: str) -> list[dict[str, Any]]:
    """`python -m benchmarks.workers what`, in a process of its own: its rows."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.workers", what], capture_output=True, text=True, timeout=7200, check=True
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def worker_rows(full: bool) -> list[tuple[str, str, str, str]]:
    if pg.bindir() is None:
        return [row("workers on PostgreSQL", f"not measured: {pg.MISSING}", "-", None)]
    rows = []
    for r in workers("scaling"):
        rss = ", ".join(f"{m:.0f}" for m in r["worker_peak_rss_mb"])
        rows.append(
            row(
                f"workers on PostgreSQL: {r['workers']} -> {r['receiver']} ({r['deliveries']:,} deliveries)",
                f"{r['deliveries_per_s']:,}/s, workers' CPU {sum(r['worker_cpu_s']):.1f} s, RSS {rss} MB",
                "-",
                None,
            )
        )
    if full:
        (r,) = workers("long")
        rows.append(
            row(
                f"PostgreSQL: {r['deliveries']:,} events, 2 workers",
                f"{r['seconds']} s ({r['deliveries_per_s']:,}/s)",
                "completes",
                r["deliveries_per_s"] > 0,
            )
        )
        rss = ", ".join(f"{m:.0f}" for m in r["worker_peak_rss_mb"])
        rows.append(
            row("  peak RSS per process", f"workers {rss} MB, publisher {r['publisher_peak_rss_mb']} MB", "-", None)
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="the 1,000,000-event scale tests (SQLite, PostgreSQL)")
    parser.add_argument("--events", type=int, default=20000, help="events for the throughput test")
    parser.add_argument("--precision-seconds", type=int, default=30)
    args = parser.parse_args()
    tune_gc()  # as `serve` and `run` do
    rows = []
    gen = generation.measure()
    for name, rate in gen.items():
        target_ok = rate >= 20000 if name == "catalog mix" else None
        rows.append(row(f"generation, {name}", f"{rate:,.0f} bodies/s", ">= 20,000 (mix)", target_ok))
    with fast_receiver() as (url, kind):
        tp = run_loop(throughput.throughput(url, args.events))
        rows.append(row(f"bare aiohttp loop -> {kind}", f"{tp['baseline']:,.0f} POST/s", "baseline", None))
        rows.append(row(f"bare loop, simulator's client -> {kind}", f"{tp['client']:,.0f} POST/s", "-", None))
        rows.append(
            row(
                "simulator deliveries (durable outbox)",
                f"{tp['simulator']:,.0f} /s",
                ">= 10,000 /s",
                tp["simulator"] >= 10000,
            )
        )
        rows.append(row("simulator / bare aiohttp loop", f"{tp['ratio']:.2f}", ">= 1.00", tp["ratio"] >= 1.0))
        rows.append(row("simulator / bare loop on its client", f"{tp['client_ratio']:.2f}", "-", None))
        pr = run_loop(throughput.precision(url, 1000, args.precision_seconds))
        rows.append(row(f"lateness p50 ({pr['events']} events at 1,000/s)", f"{pr['p50_ms']:.2f} ms", "-", None))
        rows.append(row("lateness p99", f"{pr['p99_ms']:.2f} ms", "< 5 ms", pr["p99_ms"] < 5))
        bs = run_loop(throughput.beside(url))
        rows.append(
            row(
                "lateness at 200 events/s beside 20,000 at speed 0, p50 / p99",
                f"{bs['p50_ms']:.2f} / {bs['p99_ms']:.2f} ms (speed 0: {bs['bulk_rate']:,.0f}/s)",
                "-",
                None,
            )
        )
        for rate in (200, 1000):  # `serve` on SQLite while 50 clients read GET /deliveries and GET /runs
            lr = lateness.with_readers(url, rate)
            rows.append(
                row(
                    f"lateness under 50 readers ({rate:,} events/s), p50 / p99",
                    f"{lr['p50_ms']:.2f} / {lr['p99_ms']:.2f} ms ({lr['reads']:,} reads)",
                    "p99 < 5 ms",
                    lr["p99_ms"] < 5,
                )
            )
    sc = scale(1_000_000 if args.full else 100_000)
    rows.append(
        row(
            f"scale: {sc['events']:,} events, speed 0",
            f"{sc['seconds']} s ({sc['rate']:,}/s)",
            "completes",
            sc["succeeded"] == sc["events"],
        )
    )
    rows.append(row("scale: peak RSS", f"{sc['peak_rss_mb']} MB", "< 200 MB", sc["peak_rss_mb"] < 200))
    rows.append(row("scale: peak RSS of the events' building process", f"{sc['builder_peak_rss_mb']} MB", "-", None))
    rows.append(
        row(
            "scale: RSS while running (deliveries, MB)",
            " ".join(f"{n}:{m}" for n, m in sc["rss_samples"]),
            "flat",
            None,
        )
    )
    rows.extend(worker_rows(args.full))
    rows.append(row("serve ready (/health)", f"{startup.serve_ms():.0f} ms", "-", None))
    fx = startup.fixture_ms()
    rows.append(
        row(
            "pytest fixture ready",
            f"{fx['ready_ms']:.0f} ms, next {fx['again_ms']:.0f} ms",
            "< 500 ms",
            fx["ready_ms"] < 500,
        )
    )
    rows.append(row("  imports, once per process", f"{fx['import_ms']:.0f} ms", "-", None))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, event loop: {loop_name()}")
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in [("measure", "value", "target", "result"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
