"""Reading the scenario folders, and building the API documents, happens off the event loop: while a file
takes long to read (a large scenario; the built-in ones are 0.2 s the first time), the server goes on answering,
and so goes on sending."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from simulator.api import openapi, routes_catalog
from simulator.scenarios import loader
from tests.api.harness import ApiServer, eventually

SLOW = """name: api-slow-to-read
provider: basistheory
description: One token is created.
steps:
  - emit: token.created
"""


class Held:
    """Wraps a function so that a chosen call waits until released, and says when it has started waiting."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def wrap(self, real: Callable[..., Any], when: Callable[..., bool]) -> Callable[..., Any]:
        def held(*args: Any, **kwargs: Any) -> Any:
            if when(*args, **kwargs):
                self.entered.set()
                self.release.wait(30)
            return real(*args, **kwargs)

        return held


@pytest.fixture
def held(server: ApiServer) -> Iterator[Held]:
    # The server's own reading as it starts is over first: a file added while it reads would be held in its
    # thread, not in the request's, and the request under test would not be the one waiting.
    eventually(lambda: server.app.state.scenarios_read.done(), what="the reading at start-up")
    holder = Held()
    yield holder
    holder.release.set()  # whatever the test did, the server's thread is let go


def _slow_file(path: Any) -> bool:
    return Path(path).name == "slow.yaml"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/scenarios", None),
        ("GET", "/scenarios/api-slow-to-read", None),
        ("POST", "/runs", {"scenario": "api-slow-to-read", "speed": 0}),
        ("GET", "/openapi.json", None),
    ],
)
def test_the_server_answers_while_a_scenario_file_is_read(
    server: ApiServer, scenario_dir: Path, held: Held, monkeypatch: pytest.MonkeyPatch, method, path, body
):
    monkeypatch.setattr(loader, "load_file", held.wrap(loader.load_file, _slow_file))
    (scenario_dir / "slow.yaml").write_text(SLOW)  # the folder changed: it is read again
    with ThreadPoolExecutor(1) as pool, server.client() as reader, server.client() as other:
        reading = pool.submit(reader.request, method, path, json=body)
        assert held.entered.wait(10), "the request never read the new file"
        health = other.get("/health", timeout=5)  # on the loop while the file is still being read
        assert health.status_code == 200 and not reading.done()
        held.release.set()
        answer = reading.result(10)
    assert answer.status_code in (200, 202), answer.text
    assert "api-slow-to-read" in answer.text


@pytest.mark.parametrize(
    ("module", "builder", "path", "part"),
    [
        (openapi, "document", "/openapi.json", "paths"),
        (routes_catalog, "asyncapi_document", "/asyncapi.json", "channels"),
    ],
)
def test_the_server_answers_while_an_api_document_is_built(
    server: ApiServer, held: Held, monkeypatch: pytest.MonkeyPatch, module, builder, path, part
):
    monkeypatch.setattr(module, builder, held.wrap(getattr(module, builder), lambda *a, **k: True))
    with ThreadPoolExecutor(1) as pool, server.client() as reader, server.client() as other:
        reading = pool.submit(reader.get, path)
        assert held.entered.wait(10), "the document was never built"
        health = other.get("/health", timeout=5)
        assert health.status_code == 200 and not reading.done()
        held.release.set()
        answer = reading.result(10)
    assert answer.status_code == 200 and answer.json()[part]


def test_a_server_reads_its_scenarios_as_it_starts(tmp_path: Path, scenario_dir: Path, monkeypatch):
    """Once started, a server has its folders' scenarios read, so the first dashboard to list them waits for
    nothing; the reading does not hold up its start."""
    from simulator.api.app import server_app

    (scenario_dir / "slow.yaml").write_text(SLOW)
    held = Held()
    monkeypatch.setattr(loader, "load_file", held.wrap(loader.load_file, _slow_file))
    srv = ApiServer(server_app(str(tmp_path / "start.db"), scenario_dirs=[scenario_dir], grace=1)).start()
    try:
        assert held.entered.wait(10), "the server did not read its folders as it started"
        with srv.client() as client:
            assert client.get("/health").status_code == 200  # started, the reading still held
    finally:
        held.release.set()
        srv.stop()


def test_a_server_logs_the_scenario_files_it_skips_and_why(
    tmp_path: Path, scenario_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file with a mistake in a --scenarios folder was skipped without a word in the server's log: the
    scenario was only missing from the lists. Each skipped file is told once, with its line and the problem."""
    from simulator.api.app import server_app

    (scenario_dir / "broken.yaml").write_text("name: api-broken\nprovider: basistheory\nsteps:\n  - emit: nope.nope\n")
    caplog.set_level("WARNING", logger="webhook_sim.api")
    srv = ApiServer(server_app(str(tmp_path / "skip.db"), scenario_dirs=[scenario_dir], grace=1)).start()
    try:
        told = eventually(
            lambda: [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()],
            what="the skipped file in the log",
        )
        with srv.client() as client:
            names = [s["name"] for s in client.get("/scenarios", params={"limit": 200}).json()["data"]]
    finally:
        srv.stop()
    assert len(told) == 1 and f"{scenario_dir / 'broken.yaml'}:4" in told[0] and "nope.nope" in told[0], told
    assert "api-broken" not in names and names  # skipped, and the others served
