"""Serving an ASGI app in-process: uvicorn on an ephemeral 127.0.0.1 port, in a thread with its own event loop
(for receivers, the pytest plugin and tests), and quiet handling of the stop signals for the CLI servers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import ipaddress
import logging
import resource
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Literal, TypeVar

import uvicorn

from simulator.http_guard import HEADER_TIMEOUT, SEND_TIMEOUT, guarded_http

T = TypeVar("T")
ASGIApp = Callable[..., Awaitable[None]]
log = logging.getLogger("webhook_sim.server")


# The soft limit on open files a long-running command raises itself to, if its hard limit allows.
FILE_LIMIT = 65_536


def raise_file_limit() -> None:
    """Raise this process's soft limit on open files towards its hard limit, to FILE_LIMIT at most. Linux starts
    processes at 1,024 files with a hard limit of 524,288 or more (systemd's defaults): 800 deliveries in flight
    beside the 512 client connections a server keeps are more than that, and the limits taken from the soft one
    (`default_max_connections`, the delivery pool's idle connections) were a fraction of what the machine allows.
    Go's runtime raises it the same way at start-up. Children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FILE_LIMIT if hard == resource.RLIM_INFINITY else min(hard, FILE_LIMIT)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # refused (a sandbox): the limit stays, and the caps follow it
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def server_config(
    app: ASGIApp,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int | None = None,
    send_timeout: float = SEND_TIMEOUT,
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's configuration for every server this project runs: no access log of uvicorn's own (the app
    writes one), no `Server` header, and the connection guards of `GuardedHttp`."""
    options = {"log_config": None, "access_log": False, "server_header": False, **options}
    return uvicorn.Config(app, http=guarded_http(header_timeout, max_connections, send_timeout), **options)


class Server(uvicorn.Server):
    """uvicorn's server, which calls `before_stopping` as it begins to stop, before it waits for the requests under
    way: a response that never ends by itself (the event stream) ends then, rather than hold the stop for the
    whole grace and be cut short at its end (an error logged, and a restart refused meanwhile)."""

    def __init__(self, config: uvicorn.Config, before_stopping: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.before_stopping = before_stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.before_stopping is not None:
            self.before_stopping()
        await super().shutdown(sockets)


class AppServer:
    """uvicorn serving one ASGI app on 127.0.0.1 (an ephemeral port) in a thread running its own event loop."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-sim-server", daemon=True)
        self._server: uvicorn.Server | None = None
        self._serving: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run `coro` on the server's event loop and return its result."""
        return self.submit(coro).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the server's event loop; its future, to wait on (again, if a wait is interrupted)."""
        if not self._thread.is_alive():
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def start(
        self,
        app: ASGIApp,
        *,
        lifespan: Literal["auto", "on", "off"] = "auto",
        timeout: float = 10.0,
        send_timeout: float = SEND_TIMEOUT,
        header_timeout: float = HEADER_TIMEOUT,
        before_stopping: Callable[[], None] | None = None,
    ) -> AppServer:
        """Serve `app` until `stop()`; returns once it accepts connections. `before_stopping`: see `Server`."""
        if not self._thread.is_alive():
            self._thread.start()
        sock = bind_tcp("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        startup = _Startup(app)
        config = server_config(
            startup,
            lifespan=lifespan,
            timeout_graceful_shutdown=1,
            send_timeout=send_timeout,
            header_timeout=header_timeout,
        )
        self._server = Server(config, before_stopping)
        self._serving = asyncio.run_coroutine_threadsafe(startup.serve(self._server, sock), self._loop)
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._serving.done() or time.monotonic() > deadline:
                sock.close()
                if done := self._serving.done():
                    self._serving.result()  # the startup's own error, if it raised one
                raise RuntimeError("the server did not start" + ("" if done else f" within {timeout}s"))
            time.sleep(0.001)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, then stop the loop; RuntimeError if either hangs."""
        deadline = time.monotonic() + timeout
        self.stop_serving(timeout)
        self.close_loop(max(0.1, deadline - time.monotonic()))

    def stop_serving(self, timeout: float = 10.0) -> None:
        """Stop accepting connections; requests under way get a second to finish. RuntimeError, naming the
        server, if it has not stopped within `timeout`: its loop is blocked, so the second is never counted."""
        if self._server is not None:
            self._server.should_exit = True
            try:
                self._serving.result(timeout)
            except TimeoutError:
                if self._serving.done():  # the server's own error, not the wait's
                    raise
                # A bare TimeoutError from the future said neither which server nor why it hung.
                raise RuntimeError(
                    f"the server at {self.url} did not stop within {timeout:g}s: a request handler is likely "
                    "blocking its event loop (time.sleep or another blocking call in an async handler)"
                ) from None
            self._server = None

    def close_loop(self, timeout: float = 10.0) -> None:
        """Cancel what still runs on the loop, stop it and join its thread."""
        if not self._thread.is_alive():
            self._loop.close()
            return
        self.call(_drain(self._loop), timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the server's event loop did not stop within {timeout}s")
        self._loop.close()


class _Startup:
    """An app, and what its lifespan startup raised. uvicorn logs that error and calls `sys.exit`: the SystemExit
    ended the loop's thread, so `start` waited out its whole timeout and said only that the server did not start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: dict[str, Any], receive: ASGIApp, send: ASGIApp) -> None:
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            if scope["type"] == "lifespan":
                self.error = exc
            raise

    async def serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # caught here, it ends this task and not the loop's thread
            why = f"{type(self.error).__name__}: {self.error}" if self.error else f"uvicorn exited with {exc.code}"
            raise RuntimeError(f"the server did not start: {why}") from self.error


async def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on `loop` and release its executor, so closing it leaves nothing dangling."""
    tasks = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


@contextmanager
def serve_app(
    app: ASGIApp, *, lifespan: Literal["auto", "on", "off"] = "auto", timeout: float = 10.0
) -> Iterator[AppServer]:
    """Serve `app` (a consumer under test, say) while the block runs: `server.url` is its base URL. An app whose
    startup fails raises RuntimeError at once, caused by the app's own exception."""
    server = AppServer()
    try:
        server.start(app, lifespan=lifespan, timeout=timeout)
    except BaseException:
        server.close_loop(timeout)  # its thread would be left running
        raise
    try:
        yield server
    finally:
        server.stop(timeout)


@contextmanager
def stop_signals_end_quietly() -> Iterator[None]:
    """Uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal; a no-op handler restored
    under it makes that a normal exit (0) instead of a KeyboardInterrupt or a kill after the fact."""
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(_sig: int, _frame: FrameType | None) -> None:
    return None


# How long the end of `run_loop` waits for the store driver's threads to finish what they were given.
DRIVER_GRACE = 2.0
_DRIVER_THREAD = "(_connection_worker_thread)"  # aiosqlite's: Python names a thread after its target


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop where it is installed: its transports cut the cost of every delivery's
    system calls (about 6 % more deliveries per second, measured with `benchmarks.throughput`). The loop closes
    only once the store driver's threads are done (see `_drivers_done`)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_then_drivers(main))
    return uvloop.run(_then_drivers(main))


async def _then_drivers(main: Coroutine[Any, Any, T]) -> T:
    try:
        return await main
    finally:
        await _drivers_done()


async def _drivers_done() -> None:
    """Cancel what is left running, as the loop's end would, then wait (up to DRIVER_GRACE) for SQLite driver
    threads still alive. A connection cut off mid-statement (a task cancelled during a read) is stopped without
    waiting: its thread finishes the statement, then calls back into the loop, and once the loop was closed that
    call raised and the thread died with a traceback on stderr after the command's own output."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    deadline = time.monotonic() + DRIVER_GRACE
    for thread in threading.enumerate():
        if thread.name.endswith(_DRIVER_THREAD) and thread.is_alive():
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))


def tune_gc() -> None:
    """Garbage-collector settings for the long-running commands (`serve`, `run`).

    The delivery path allocates many short-lived objects; with the default thresholds, collections of the older
    generations paused the event loop for 10-30 ms every few seconds, and deliveries due then went out late.
    Freezing what start-up allocated and collecting the youngest generation less often keeps pauses near 1 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def is_loopback(host: str) -> bool:
    """Whether `host`, as given to listen on, is a loopback address (`localhost`, `127.0.0.1`, `::1`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (0: an ephemeral port), bound before a server starts so the address
    it announces is already true.

    IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that name it, and without it every answer on
    a kept-alive connection waits for the delayed-ACK timer (about 40 ms).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
