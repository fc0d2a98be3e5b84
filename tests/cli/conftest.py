"""Fixtures of the command-line tests: a control API server on a real SQLite file, real receivers, and the
`webhook-sim` command run in this process (`main`) or as a subprocess (`cli`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from simulator import cli as webhook_sim
from simulator.api import access_log
from simulator.cli import serve, worker
from tests.api.harness import ApiServer, serving_api

# Under load a fresh interpreter takes seconds to import the simulator: subprocesses get generous bounds.
TIMEOUT = 120


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`webhook-sim ARGS` in a subprocess, its output captured (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


class Ran:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def main(capsys: pytest.CaptureFixture[str]):
    """`webhook-sim ARGS` in this process: exit code, stdout and stderr."""

    def run(*args: str) -> Ran:
        capsys.readouterr()
        code = webhook_sim.main(list(args))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


@pytest.fixture
def exit_2(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """Run `webhook-sim ARGS` in this process, assert it ends with exit 2 (argparse's or a handler's): its stderr."""

    def run(*args: str) -> str:
        capsys.readouterr()
        try:
            code = webhook_sim.main(list(args))
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2, err
        return err

    return run


@pytest.fixture
def nothing_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve` and `worker` fail the test if they get as far as listening or opening the store."""

    def reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("started with a value it should have refused")

    monkeypatch.setattr(serve, "bind_tcp", reached)
    monkeypatch.setattr(worker, "run_loop", reached)
    # A process's logging set-up hands the root logger to this test's captured stderr: the tests after it, in
    # the same worker, would log into that closed stream ("--- Logging error ---" in the run's output).
    monkeypatch.setattr(access_log, "configure", lambda *args, **kwargs: None)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    with serving_api(tmp_path) as srv:
        yield srv


@pytest.fixture
def api(server: ApiServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
