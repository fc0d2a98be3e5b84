"""The Basis Theory API twin: `GET /tokens/{id}` requests per second against `webhook-sim serve`, with the
server's peak RSS. `python -m benchmarks.twins [--tokens N] [--events N] [--seconds S] [--concurrency C]`.

The server runs as `serve` does, in a process of its own on a SQLite file. It is filled first: `--tokens`
tokens made through the twin's own `POST /tokens` (each one emits `token.created`, stored and folded in like any
event), and `--events` more events from a Basis Theory scenario run, so the lookups go through a table of
realistic size. Then `--concurrency` keep-alive connections (aiohttp) read random tokens for `--seconds`. Besides
requests per second it reports the server's CPU time per request, which a busy machine does not inflate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

KEY = {"BT-API-KEY": "key_benchmark"}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (Linux /proc), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _ready(session: aiohttp.ClientSession, base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with session.get(f"{base}/health") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.02)


async def _fill(session: aiohttp.ClientSession, base: str, tokens: int, events: int) -> tuple[list[str], float]:
    """Make `tokens` tokens through the twin (returns their ids and tokens made per second), and run scenarios
    until at least `events` more events are stored."""
    started = time.perf_counter()
    ids = []
    for i in range(tokens):
        body = {"type": "token", "data": f"value-{i}", "metadata": {"n": str(i)}}
        async with session.post(f"{base}/basistheory/tokens", json=body, headers=KEY) as r:
            ids.append((await r.json())["id"])
    made_per_s = tokens / (time.perf_counter() - started)
    stored = 0
    while stored < events:
        spec = {"scenario": "basistheory-chaos", "speed": 0, "seed": stored}
        async with session.post(f"{base}/runs", json=spec) as r:
            run_id = (await r.json())["id"]
        while True:
            async with session.get(f"{base}/runs/{run_id}") as r:
                run = await r.json()
            if run["status"] in ("completed", "failed", "cancelled"):
                break
            await asyncio.sleep(0.05)
        stored += run["events"] or 1
    return ids, made_per_s


async def _reads(base: str, ids: list[str], seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(7)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                token_id = ids[int(rng.random() * len(ids))]
                t0 = time.perf_counter()
                async with session.get(f"{base}/basistheory/tokens/{token_id}", headers=KEY) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "errors": errors,
    }


async def measure(base: str, pid: int, tokens: int, events: int, seconds: float, concurrency: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        await _ready(session, base)
        ids, made_per_s = await _fill(session, base, tokens, events)
    rss_filled = peak_rss_mb(pid)
    cpu_before = cpu_seconds(pid)
    reads = await _reads(base, ids, seconds, concurrency)
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / max(1, reads["requests"])
    return {
        **reads,
        # What the server spent per read, whatever else the machine does: requests/s hides a busy machine.
        "server_cpu_ms_per_request": round(cpu_ms, 2),
        "tokens": tokens,
        "events": events,
        "concurrency": concurrency,
        "tokens_made_per_s": round(made_per_s),
        "server_peak_rss_mb_after_fill": round(rss_filled, 1),
        "server_peak_rss_mb": round(peak_rss_mb(pid), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        cmd = [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port), "--db", str(Path(folder, "b.db"))]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            run = measure(base, proc.pid, args.tokens, args.events, args.seconds, args.concurrency)
            print(json.dumps(asyncio.run(run), indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
