"""Scenario names over the API: a name is looked up in the built-in scenarios and the server's --scenarios folders,
never read as a file of the server's working directory; scenario files are read once until they change; and a
run cut short by a crash keeps the count of the events it stored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simulator.api.app import server_app
from simulator.models import answers as schemas
from simulator.scenarios import loader
from tests.api.harness import ApiServer, eventually, ok, problem
from tests.api.serving import ROOT, Served, clean_env

TARGET = "http://127.0.0.1:9/"
SECRETS = "aws_secret_access_key: AKIAEXAMPLE\ndatabase_password: hunter2\n"
IMPOSTOR = """name: syncfy-two-factor
provider: syncfy
description: IMPOSTOR from the working directory
steps:
  - emit: documents.failed
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env(PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "simulator.cli", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def working_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's working directory holds a secrets file and a file named like a built-in scenario."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "secret-file").write_text(SECRETS)
    (cwd / "syncfy-two-factor").write_text(IMPOSTOR)
    (cwd / "syncfy-two-factor.yaml").write_text(IMPOSTOR)
    monkeypatch.chdir(cwd)
    return cwd


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/runs", {"scenario": "secret-file", "target": TARGET}),
        ("POST", "/schedules", {"scenario": "secret-file", "interval": 60}),
        ("GET", "/scenarios/secret-file", None),
    ],
)
def test_a_name_never_reads_a_file_of_the_working_directory(
    working_dir: Path, api: httpx.Client, method: str, path: str, body: dict | None
) -> None:
    response = api.request(method, path, json=body)
    problem(response, 404)
    assert "unknown scenario 'secret-file'" in response.text
    assert "aws_secret_access_key" not in response.text and "database_password" not in response.text


def test_a_file_named_like_a_builtin_scenario_does_not_replace_it(working_dir: Path, api: httpx.Client) -> None:
    described = ok(api.get("/scenarios/syncfy-two-factor"), schemas.Scenario)
    assert "IMPOSTOR" not in described["description"]
    run = ok(api.post("/runs", json={"scenario": "syncfy-two-factor", "speed": 0, "target": TARGET}), schemas.Run, 202)
    eventually(lambda: api.get(f"/runs/{run['id']}").json()["status"] != "pending", what="the run to start")
    eventually(lambda: api.get(f"/runs/{run['id']}/events").json()["data"], what="its first event")
    first = api.get(f"/runs/{run['id']}/events").json()["data"][0]
    assert first["type"] == "syncfy:credentials.created"  # the built-in's first step, not the impostor's
    api.post(f"/runs/{run['id']}/cancel")


@pytest.mark.parametrize("name", ["./secret-file", "secret-file.yaml", "../scenarios/x", "/etc/passwd", "A-B"])
def test_what_is_not_a_name_is_refused_as_input(working_dir: Path, api: httpx.Client, name: str) -> None:
    before = api.get("/runs").json()["data"]
    problem(api.post("/runs", json={"scenario": name, "target": TARGET}), 422, "scenario")
    assert api.get("/runs").json()["data"] == before


def test_the_command_line_reads_a_path_and_looks_up_a_name(working_dir: Path) -> None:
    """`run ./file.yaml` is the command line's convenience; `run secret-file` is a name, like over the API."""
    done = cli("run", "secret-file", "--target", TARGET, "--speed", "0", cwd=working_dir)
    assert done.returncode == 2 and "unknown scenario 'secret-file'" in done.stderr
    assert "aws_secret_access_key" not in done.stderr
    (working_dir / "mine.yaml").write_text(
        "name: mine\nprovider: syncfy\ndescription: mine\nsteps:\n  - emit: credentials.created\n"
    )
    done = cli("run", "./mine.yaml", "--target", TARGET, "--speed", "0", "--max-attempts", "1", cwd=working_dir)
    assert done.returncode == 1 and "mine" in done.stdout + done.stderr  # ran (and its one delivery failed)


# --- scenario files are read once (item 15) -----------------------------------------------------------------


def test_scenario_files_are_read_once_until_one_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    mine = folder / "mine.yaml"
    mine.write_text("name: mine\nprovider: syncfy\ndescription: first\nsteps:\n  - emit: credentials.created\n")
    (folder / "broken.yaml").write_text("name: broken\nprovider: syncfy\nsteps: []\n")
    loader.discover([folder])  # warm
    parsed: list[str] = []
    real = loader.load_text
    monkeypatch.setattr(
        loader, "load_text", lambda text, source="<string>": (parsed.append(source), real(text, source))[1]
    )
    for _ in range(3):
        found, errors = loader.discover([folder])
        assert found["mine"].description == "first" and errors  # the broken file is still reported
        assert loader.find("mine", [folder]).description == "first"
    assert parsed == []  # nothing read again: not even the broken file, nor the built-in ones
    time.sleep(0.01)
    mine.write_text("name: mine\nprovider: syncfy\ndescription: second\nsteps:\n  - emit: credentials.created\n")
    assert loader.find("mine", [folder]).description == "second"
    assert str(mine) in parsed


# --- a crash keeps the count of events (item 15) ---------------------------------------------------------------

BURST = """name: crash-burst
provider: basistheory
description: Twenty tokens at once, then a long wait.
steps:
  - repeat: 20
    steps:
      - emit: token.created
  - wait: 1h
  - emit: token.created
"""


def test_a_run_a_crash_cut_short_goes_on_counting_the_events_it_stored(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "crash-burst.yaml").write_text(BURST)
    args = ["--scenarios", str(scenarios)]
    served = Served(tmp_path / "server", args)
    try:
        with httpx.Client(base_url=served.url, timeout=10) as api:
            run = ok(api.post("/runs", json={"scenario": "crash-burst", "target": TARGET}), schemas.Run, 202)
            stored = f"/runs/{run['id']}/events"
            eventually(lambda: len(api.get(stored).json()["data"]) == 20, what="twenty events stored")
    finally:
        served.stop(signal.SIGKILL)
    served = Served(tmp_path / "server", args)
    try:
        with httpx.Client(base_url=served.url, timeout=10) as api:
            # The next server goes on with it: to its hour's wait, its twenty events made once.
            eventually(lambda: api.get(f"/runs/{run['id']}").json()["status"] == "running", what="the run going on")
            after = ok(api.get(f"/runs/{run['id']}"), schemas.Run)
            assert (after["events"], after["error"]) == (20, None)
            assert len(api.get(f"/runs/{run['id']}/events").json()["data"]) == 20
    finally:
        served.stop()


def test_a_name_two_files_declare_starts_no_run_and_no_schedule(tmp_path: Path) -> None:
    """A new run or schedule by a name two folder files declare is refused, naming both files: the server played
    the first it read, which may not be the one its author edited (`serve` and `GET /scenarios` said so only in a
    list of problems)."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for stem, text in (("a", "one event"), ("b", "the other")):
        body = f"name: twice\nprovider: syncfy\ndescription: {text}\nsteps:\n  - emit: credentials.created\n"
        (folder / f"{stem}.yaml").write_text(body)
    (folder / "once.yaml").write_text(
        "name: once\nprovider: syncfy\ndescription: d\nsteps:\n  - emit: credentials.created\n"
    )
    server = ApiServer(server_app(str(tmp_path / "api.db"), scenario_dirs=[folder], grace=1)).start()
    try:
        with server.client() as api:
            for path, extra in (("/runs", {"speed": 0, "target": TARGET}), ("/schedules", {"interval": 3600})):
                said = problem(api.post(path, json={"scenario": "twice", **extra}), 422, "scenario")
                assert "declared by 2 files" in said["detail"], said
                assert str(folder / "a.yaml") in said["detail"] and str(folder / "b.yaml") in said["detail"], said
            assert api.get("/runs").json()["data"] == [] and api.get("/schedules").json()["data"] == []
            ok(api.post("/runs", json={"scenario": "once", "speed": 0, "target": TARGET}), schemas.Run, 202)
    finally:
        server.stop()
