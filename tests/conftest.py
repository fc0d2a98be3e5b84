"""Shared fixtures: real receivers on 127.0.0.1 and a simulator on a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from simulator.core.simulator import Simulator
from simulator.testing.receiver import Receiver


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


async def until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until `predicate()` is truthy (checked every 10 ms), failing after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
