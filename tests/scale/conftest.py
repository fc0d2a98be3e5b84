"""Several processes on one PostgreSQL store: a throwaway cluster per test module (some tests restart it), and
`webhook-sim worker` / `serve` processes started and stopped within bounded times."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.api.app import server_app
from tests.api.harness import ApiServer
from tests.store import pg

_names = itertools.count(1)
START_TIMEOUT = 30.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """These tests start worker and server processes that each keep a core busy: one at a time, in one test
    worker, so they do not crowd the two cores the timing-sensitive tests elsewhere share."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("postgresql-processes"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg.Cluster]:
    with pg.throwaway() as started:  # its own: a test here restarts it
        yield started


@pytest.fixture
def db(cluster: pg.Cluster) -> str:
    return cluster.create_database(f"scale_{next(_names)}")


@pytest.fixture
def servers(db: str) -> Iterator[tuple[ApiServer, ApiServer]]:
    """Two servers in this process, on one database."""
    first, second = ApiServer(server_app(db, grace=1)).start(), ApiServer(server_app(db, grace=1)).start()
    yield first, second
    first.stop()
    second.stop()


class Proc:
    """A `webhook-sim` command in a process of its own, its output in a file."""

    def __init__(self, args: list[str], log: Path, ready: str) -> None:
        self.log = log
        env = {**os.environ, "WEBHOOK_SIM_SECRET_KEY": "scale-tests", "PYTHONUNBUFFERED": "1"}
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", *args], stdout=self._out, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + START_TIMEOUT
        while ready not in self.output():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{args[0]} did not start:\n{self.output()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._out.close()
        return self.popen.returncode


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    started: list[Proc] = []

    def start(*args: str, ready: str) -> Proc:
        proc = Proc(list(args), tmp_path / f"proc{len(started)}.log", ready)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
