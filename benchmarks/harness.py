"""Shared pieces of the benchmarks: a fast receiver in its own process, a bulk scenario, a bare baseline."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp

from simulator.core.simulator import Simulator
from simulator.delivery.sender import Sender
from simulator.models.inputs import SubscriptionSpec

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir};
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 204; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


@contextmanager
def fast_receiver(record: Path | None = None) -> Iterator[tuple[str, str]]:
    """(url, kind): nginx answering 204 when installed, else the asyncio sink, in a process of its own. With
    `record`, always the sink, writing each request's `webhook-id` to that file."""
    port = free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    workdir = tempfile.mkdtemp(prefix="bench-")
    if record is not None:
        cmd, kind = [sys.executable, "-m", "benchmarks.sink", str(port), str(record)], "asyncio sink"
    elif nginx:
        conf = Path(workdir, "nginx.conf")
        conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
        cmd, kind = [nginx, "-c", str(conf), "-p", workdir], "nginx"
    else:
        cmd, kind = [sys.executable, "-m", "benchmarks.sink", str(port)], "asyncio sink"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        yield f"http://127.0.0.1:{port}/hook", kind
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def bulk_scenario(
    directory: Path, events: int, wait: str | None = None, provider: str = "basistheory", name: str = "bulk"
) -> str:
    """A scenario of `events` emits (optionally `wait` apart), written into `directory`; returns its name."""
    etype = "token.created" if provider == "basistheory" else "credentials.refreshed"
    step = f"      - wait: {wait}\n" if wait else ""
    Path(directory, f"{name}.yaml").write_text(
        f"name: {name}\nprovider: {provider}\ndescription: benchmark load\nsteps:\n"
        f"  - repeat: {events}\n    steps:\n{step}      - emit: {etype}\n"
    )
    return name


@asynccontextmanager
async def bulk_simulator(url: str, events: int, concurrency: int) -> AsyncIterator[tuple[Simulator, str]]:
    """(a simulator on a SQLite file of its own, the name of its bulk scenario of `events`), with one subscription
    to `url` taking `concurrency` deliveries at once; closed, and its files gone, after."""
    with tempfile.TemporaryDirectory() as d:
        name = bulk_scenario(Path(d), events)
        sim = await Simulator.open(str(Path(d, "bench.db")), scenario_dirs=[Path(d)])
        try:
            await sim.create_subscription(SubscriptionSpec(url=url, signing="standard", max_in_flight=concurrency))
            yield sim, name
        finally:
            await sim.close()


async def _posts_per_second(post: Callable[[bytes], Awaitable[None]], bodies: list[bytes], concurrency: int) -> float:
    """`concurrency` workers calling `post` for `bodies` until none is left; requests per second."""
    items = iter(bodies)

    async def worker() -> None:
        for body in items:
            await post(body)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(bodies) / (time.perf_counter() - started)


async def bare_loop(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Requests per second of a plain aiohttp loop posting `bodies` with `concurrency` connections."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: bytes) -> None:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()

        return await _posts_per_second(post, bodies, concurrency)


async def bare_client_loop(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Requests per second of the simulator's own sender posting `bodies` with `concurrency` connections: what
    the wire allows the simulator at best, with nothing else done per request."""
    sender = Sender()
    await sender.start()

    async def post(body: bytes) -> None:
        outcome = await sender.post(url, body, {"Content-Type": "application/json"}, 30)
        if not outcome.ok:
            raise RuntimeError(f"the receiver failed a request: {outcome}")

    try:
        return await _posts_per_second(post, bodies, concurrency)
    finally:
        await sender.close()


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (Linux), in MB."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    return _status_mb("VmRSS:")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB."""
    return _status_mb("VmHWM:")


def children_peak_rss_mb() -> float:
    """The largest peak resident set size of this process's children that have ended (a run's building
    process, once the run is over), in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
