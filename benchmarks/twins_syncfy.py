"""The Syncfy API twin: `GET /v1/transactions` pages of 5,000 rows per second against `webhook-sim serve`, with the
server's peak RSS. `python -m benchmarks.twins_syncfy [--refreshes N] [--seconds S] [--concurrency C]`.

The server runs as `serve` does, in a process of its own on a SQLite file. A Syncfy lifecycle scenario with
`--refreshes` refreshes is run first (its events are stored like any run's); the full 5,000-row transaction pages
their refresh events list are then read by `--concurrency` keep-alive connections for `--seconds`, twice: the
second round's peak RSS shows whether memory grows with the rows served (the rows are derived per request, never
stored, so it should not).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import free_port
from benchmarks.twins import _ready, peak_rss_mb

AUTH = {"Authorization": "api_key api_key=key_benchmark"}


async def _pages(session: aiohttp.ClientSession, base: str, refreshes: int) -> list[str]:
    """Run the lifecycle scenario and return the URLs of its full transaction pages."""
    spec = {"scenario": "syncfy-credential-lifecycle", "speed": 0, "seed": 1, "params": {"refreshes": refreshes}}
    async with session.post(f"{base}/runs", json=spec) as r:
        run_id = (await r.json())["id"]
    while True:
        async with session.get(f"{base}/runs/{run_id}") as r:
            if (await r.json())["status"] in ("completed", "failed", "cancelled"):
                break
        await asyncio.sleep(0.05)
    urls: list[str] = []
    async with session.get(f"{base}/runs/{run_id}/events", params={"limit": 500}) as r:
        for event in (await r.json())["data"]:
            if event["type"] != "syncfy:credentials.refreshed":
                continue
            pages = event["body"]["payload"]["endpoints"]["transactions"]
            urls.extend(f"{base}/syncfy{url}" for url in pages[:-1])  # every page but a window's last is full
    return urls


async def _reads(urls: list[str], seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    sizes: list[int] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(7)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                async with session.get(urls[int(rng.random() * len(urls))], headers=AUTH) as r:
                    body = await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)
                sizes.append(len(body))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "rows_per_s": round(5000 * len(latencies) / elapsed),
        "mb_per_s": round(sum(sizes) / elapsed / 1e6, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        "errors": errors,
    }


async def measure(base: str, pid: int, refreshes: int, seconds: float, concurrency: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        await _ready(session, base)
        urls = await _pages(session, base, refreshes)
    rss_filled = peak_rss_mb(pid)
    first = await _reads(urls, seconds, concurrency)
    rss_first = peak_rss_mb(pid)
    second = await _reads(urls, seconds, concurrency)
    return {
        "full_pages": len(urls),
        "concurrency": concurrency,
        "round_1": first,
        "round_2": second,
        "server_peak_rss_mb_after_fill": round(rss_filled, 1),
        "server_peak_rss_mb_after_round_1": round(rss_first, 1),
        "server_peak_rss_mb_after_round_2": round(peak_rss_mb(pid), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        cmd = [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port), "--db", str(Path(folder, "b.db"))]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run = measure(f"http://127.0.0.1:{port}", proc.pid, args.refreshes, args.seconds, args.concurrency)
            print(json.dumps(asyncio.run(run), indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
