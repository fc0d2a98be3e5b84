"""Fixtures of the control API tests: a server on a real SQLite file with a few test scenarios, and clients."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from simulator.api.app import server_app
from tests.api.harness import ApiServer, serving_api, write_scenarios
from tests.api.test_restart import ServerProcess

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    return write_scenarios(tmp_path / "scenarios")


@pytest.fixture
def server(tmp_path: Path, scenario_dir: Path) -> Iterator[ApiServer]:
    srv = ApiServer(server_app(str(tmp_path / "api.db"), scenario_dirs=[scenario_dir], grace=1)).start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server: ApiServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with serving_api(tmp_path_factory.mktemp("secured"), TOKEN) as srv:
        yield srv


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One server for a module's refusals: tests using it must leave no state behind."""
    with serving_api(tmp_path_factory.mktemp("shared")) as srv:
        yield srv


@pytest.fixture
def refusing_api(shared_server: ApiServer) -> Iterator[httpx.Client]:
    with shared_server.client() as client:
        yield client


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[[str], ServerProcess]]:
    """`webhook-sim serve` processes started one after the other on the same SQLite file (`tmp_path`/sim.db),
    each with a folder of its own; those still running at the end are killed."""
    started: list[ServerProcess] = []
    scenarios = write_scenarios(tmp_path / "scenarios")

    def start(name: str) -> ServerProcess:
        started.append(ServerProcess(tmp_path / "sim.db", scenarios, tmp_path / name))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.stop(signal.SIGKILL)
