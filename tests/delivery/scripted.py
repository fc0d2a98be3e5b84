"""Scripted HTTP servers on real 127.0.0.1 sockets, and the tools to watch a client against them: a loop-lag
probe, and a runner that gives a test its own event loop so that a client blocking it fails the test instead of
hanging the run."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from simulator.delivery.http1 import Target

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
T = TypeVar("T")
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0


async def read_request(reader: asyncio.StreamReader, server: Server) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = int(lengths[0])
    request = head + await reader.readexactly(length)
    server.requests.append(request)
    return request


@asynccontextmanager
async def serving(handle: Script, server: Server, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """Run `handle` per connection; on exit, end the connections still open (3.11 leaves them running)."""
    handlers: set[asyncio.Task[None]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            # The client hung up on a script still writing (what several tests make it do), or the server is
            # closing: either ends the script quietly (a cancelled handler is logged as an error by asyncio).
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=tls)
    server.port = srv.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        srv.close()
        for task in handlers:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)
        await asyncio.wait_for(srv.wait_closed(), 5)


def scripted(
    responses: list[bytes], *, close_after: bool = False, tls: ssl.SSLContext | None = None
) -> AbstractAsyncContextManager[Server]:
    """A server answering each request with the next of `responses` (the last repeats)."""
    server = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader, server) is not None:
            index = min(len(server.requests), len(responses)) - 1
            writer.write(responses[index])
            await writer.drain()
            if close_after:
                break

    return serving(handle, server, tls)


def target(server: Server, path: str = "/hook") -> Target:
    return Target.parse(f"http://127.0.0.1:{server.port}{path}")


def cpu_wait() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat; 0 where there is none)."""
    try:
        with open("/proc/thread-self/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class _Collections:
    """Seconds the garbage collector has run in this process, in any thread (it holds the interpreter lock)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._began = 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._began


_COLLECTIONS = _Collections()


class LagProbe:
    """How long the event loop was blocked: a task sleeps 10 ms at a time and records the worst overshoot.

    `worst` is the overshoot as the wall clock saw it; `worst_own` leaves out the time the loop's thread waited
    for a CPU (on a shared machine other processes take the CPUs for 100 ms and more) and the time the garbage
    collector ran (its length is the size of the whole test process's heap: in one that had run 700 tests, full
    collections took 0.20-0.27 s), and so is what the loop's own work, blocking calls and interpreter lock cost:
    what a client must keep short."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.worst = 0.0
        self.worst_own = 0.0
        self._slept_at = 0.0
        self._waited = 0.0
        self._collected = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LagProbe:
        self._start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._record()  # a block lasting until now counts too, though the probe has not woken from it yet
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def _start(self) -> None:
        self._slept_at, self._waited = asyncio.get_running_loop().time(), cpu_wait()
        self._collected = _COLLECTIONS.total

    def _record(self) -> None:
        overshoot = asyncio.get_running_loop().time() - self._slept_at - self.period
        self.worst = max(self.worst, overshoot)
        elsewhere = (cpu_wait() - self._waited) + (_COLLECTIONS.total - self._collected)
        self.worst_own = max(self.worst_own, overshoot - elsewhere)

    async def _run(self) -> None:
        while True:
            self._start()
            await asyncio.sleep(self.period)
            self._record()


def run_isolated(main: Callable[[], Coroutine[Any, Any, T]], limit: float) -> T:
    """Run `main()` on an event loop of its own in a daemon thread and return what it returns. A loop still busy
    after `limit` seconds fails the test: a client stuck in a loop of its own then fails it instead of hanging
    the whole run (the stuck thread is abandoned; being a daemon, it dies with the process)."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(asyncio.run(main()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="isolated-loop", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise AssertionError(f"the event loop was still busy after {limit:g} s: blocked, or a hang")
    if errors:
        raise errors[0]
    return results[0]


# -- receivers that answer to hurt (one request per connection: the client never reuses one of theirs) ------------


async def _hold(reader: asyncio.StreamReader) -> None:
    await reader.read()  # keep the connection open until the client closes it


async def negative_chunk_size(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader, Server())
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n")
    await _hold(reader)


def endless_one_byte_chunks(per_write: int) -> Script:
    """A 503 whose chunked body never ends, in chunks of one byte, `per_write` of them at a time (one at a time
    makes about one chunk per read on the client's side: the worst case for a parser that re-reads)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:  # until the client hangs up (drain raises)
            writer.write(b"1\r\nx\r\n" * per_write)
            await writer.drain()
            await asyncio.sleep(0)

    return handle


async def endless_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader, Server())
    writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    while True:
        writer.write(b"a" * 1024)
        await writer.drain()
        await asyncio.sleep(0)


async def head_in_tiny_pieces(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader, Server())
    writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    while True:
        writer.write(b"a")
        await writer.drain()
        await asyncio.sleep(0)  # about one byte per read on the client's side


async def slow_drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A valid answer, one byte a second."""
    await read_request(reader, Server())
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


class FiftyMegabytes:
    """A 503 with a 50 MB body, written as fast as the client reads it; `finished` once all of it went out."""

    SIZE = 50 * 1024 * 1024

    def __init__(self) -> None:
        self.finished = False

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, Server())
        writer.write(b"HTTP/1.1 503 Busy\r\nContent-Length: %d\r\n\r\n" % self.SIZE)
        piece = b"x" * 65536
        for _ in range(self.SIZE // len(piece)):
            writer.write(piece)
            await writer.drain()
        self.finished = True
