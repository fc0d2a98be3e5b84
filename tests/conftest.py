"""Shared fixtures: real receivers on 127.0.0.1 and a simulator on a real SQLite file."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite.core
import httpcore  # noqa: F401
import httpx._transports.default
import pytest
from hypothesis import settings

from simulator.core.simulator import Simulator
from simulator.testing.receiver import Receiver

# The suite is a gate: each property test draws the same examples on every run (from its own name), so that a
# failure is the code's and replays, never the luck of a draw. `HYPOTHESIS_PROFILE=explore` draws anew each run,
# for a search beyond them.
settings.register_profile("gate", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))

# httpcore and httpx above are imported here, before any test: pytester's in-process runs (the plugin's tests, the
# docs' examples) drop the modules first imported during a run, httpx imports httpcore lazily, and a copy imported
# again after such a run raised exceptions that httpx's map of them (made with the first copy's classes) missed:
# `listen --forward-to` then answered a refused connection with a 500 where it answers 502.


def _one_default_tls_context() -> None:
    """httpx makes a TLS context for every client it makes, loading certifi's bundle: 40-50 ms of CPU each, and
    the suite makes thousands of clients (every fixture's, every `httpx.get`), all for plain HTTP to 127.0.0.1.
    The default context, made once, serves them all: it is only read once made. Where httpx has no such function,
    each client makes its own, as before."""
    default = httpx._transports.default
    make = getattr(default, "create_ssl_context", None)
    if make is None:
        return
    shared = functools.cache(make)

    def create(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is True and cert is None and trust_env:
            return shared()
        return make(verify=verify, cert=cert, trust_env=trust_env)

    default.create_ssl_context = create


_one_default_tls_context()


# SQLite connections collected while still open, and the test that opened each. A connection cut off at shutdown
# (work still under way when the store closed) is collected later, in any test: its driver's thread then calls
# into an event loop closed long before and dies, and that test fails for a cause it has nothing to do with.
_unclosed: list[str] = []
# aiosqlite's own, which warns of a connection deleted unclosed and stops its thread (absent from an aiosqlite
# without one: the guard then stays off rather than break the suite).
_connection_init = aiosqlite.core.Connection.__init__
_connection_del = getattr(aiosqlite.core.Connection, "__del__", None)


def _init(self: aiosqlite.core.Connection, *args: object, **kwargs: object) -> None:
    _connection_init(self, *args, **kwargs)  # type: ignore[arg-type]
    self._opened_in = os.environ.get("PYTEST_CURRENT_TEST", "outside a test")  # type: ignore[attr-defined]


def _del(self: aiosqlite.core.Connection) -> None:
    if getattr(self, "_connection", None) is not None:
        _unclosed.append(getattr(self, "_opened_in", "?"))
    if _connection_del is not None:
        _connection_del(self)


if _connection_del is not None:
    aiosqlite.core.Connection.__init__ = _init  # type: ignore[method-assign]
    aiosqlite.core.Connection.__del__ = _del  # type: ignore[attr-defined]


def pytest_collection_finish(session: pytest.Session) -> None:
    """The garbage collector as `serve` and `run` set it (`tune_gc`): what collection built is frozen, and the
    youngest generation is collected less often. The suite is CPU-bound on two cores; with the defaults, collections
    that walk the collected tests and their modules took a tenth of the CPU of tests that run in-process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


@pytest.fixture(scope="session", autouse=True)
def every_connection_closed() -> Iterator[None]:
    yield
    gc.collect()
    assert not _unclosed, f"SQLite connections left open, opened in: {sorted(set(_unclosed))}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(**kwargs: object) -> Receiver:
        r = Receiver(**kwargs).start()  # type: ignore[arg-type]
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sim.db"


@pytest.fixture
async def sim(db_path: Path) -> AsyncIterator[Simulator]:
    simulator = await Simulator.open(str(db_path))
    yield simulator
    await asyncio.wait_for(simulator.close(grace=1), 10)


@asynccontextmanager
async def silent_receiver() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A receiver that reads each request and answers nothing until the block ends: its URL and what it got."""
    got: list[bytes] = []
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read(65536))
        await done.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook", got
    finally:
        done.set()
        server.close()
        await server.wait_closed()


async def until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until `predicate()` is truthy (checked every 10 ms), failing after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
