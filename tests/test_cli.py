"""The `webhook-sim` command as a user runs it: a real subprocess, real receivers, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import catalog
from simulator.testing.receiver import Receiver


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_events_lists_the_catalog():
    out = cli("events", "--json")
    assert out.returncode == 0
    types = {e["type"] for e in json.loads(out.stdout)}
    assert "syncfy:credentials.created" in types and "basistheory:token-intent.converted" in types
    assert len(types) == 54


def test_sample_prints_the_body_and_is_seeded():
    a, b, c = (
        cli("sample", "credentials.created", "--seed", "3"),
        cli("sample", "credentials.created", "--seed", "3"),
        cli("sample", "credentials.created"),
    )
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout != c.stdout
    assert json.loads(a.stdout)["events"][0]["header"]["event"]["name"] == "credentials.created"
    # The exact bytes a subscriber receives (they were printed indented), to hash or sign as they are.
    assert a.stdout.encode() == catalog.sample("syncfy:credentials.created", 3)
    pretty = cli("sample", "credentials.created", "--seed", "3", "--pretty")
    assert json.loads(pretty.stdout) == json.loads(a.stdout) and pretty.stdout.startswith("{\n  ")


def test_unknown_type_exits_2_with_closest_names():
    out = cli("sample", "credentials.craeted")
    assert out.returncode == 2
    assert "credentials.created" in out.stderr


def test_schema_prints_a_json_schema():
    out = cli("schema", "basistheory:token.created")
    assert out.returncode == 0
    assert json.loads(out.stdout)["$schema"].startswith("https://json-schema.org/draft/2020-12")


def test_run_exits_0_when_every_delivery_succeeds(tmp_path):
    report = tmp_path / "report.json"
    with Receiver() as receiver:
        out = cli(
            "run",
            "syncfy-credential-lifecycle",
            "--target",
            receiver.url,
            "--speed",
            "0",
            "--seed",
            "5",
            "--report",
            str(report),
        )
        assert out.returncode == 0, out.stderr
        data = json.loads(report.read_text())
        assert data["deliveries"] == data["succeeded"] == len(receiver.requests) > 0
        assert data["failed"] == 0 and data["seed"] == 5
    assert "succeeded" in out.stdout


def test_run_exits_1_when_a_delivery_dies(tmp_path):
    with Receiver() as receiver:
        receiver.respond(status=500)
        out = cli("run", "syncfy-credential-lifecycle", "--target", receiver.url, "--speed", "0")
        assert out.returncode == 1, out.stderr
        assert len(receiver.requests) > 1  # retried before giving up


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["run", "no-such-scenario", "--target", "http://127.0.0.1:9/"], "no-such-scenario"),
        (["run", "syncfy-credential-lifecycle"], "--target"),
        (["run", "syncfy-credential-lifecycle", "--target", "not a url"], "target"),
        (["run", "syncfy-credential-lifecycle", "--target", "http://127.0.0.1:9/", "--param", "nope=1"], "nope"),
        (["run", "syncfy-credential-lifecycle", "--target", "http://127.0.0.1:9/", "--param", "novalue"], "K=V"),
    ],
)
def test_run_bad_input_exits_2_naming_the_problem(args, phrase):
    out = cli(*args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert phrase in out.stderr


T = "http://127.0.0.1:9/"


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["trigger", "token.created", "--seed", "-5", "--target", T], "--seed: -5 is not a seed"),
        (["trigger", "token.created", "--seed", str(2**80), "--target", T], "is not a seed"),
        (["serve", "--port", "70000"], "--port: 70000 is not a port"),
        (["listen", "--port", "-1"], "--port: -1 is not a port"),
        (["run", "syncfy-credential-lifecycle", "--target", T, "--api-port", "70000"], "is not a port"),
        (["run", "syncfy-credential-lifecycle", "--target", T, "--report", "/no/such/folder/r.json"], "no folder"),
        (["run", "syncfy-credential-lifecycle", "--target", T, "--junit", "{tmp}"], "is a folder"),
        (["asyncapi", "--output", "/no/such/folder/a.json"], "no folder"),
        (["run", "syncfy-credential-lifecycle", "--target", T, "--db", "nope://x"], "db: not a SQLite path"),
        (["run", "syncfy-credential-lifecycle", "--target", T, "--db", "mysql://u@127.0.0.1/x"], "db: not a SQLite"),
        (["run", "syncfy-credential-lifecycle", "--target", T, "--db", "/no/such/folder/x.db"], "no folder"),
    ],
)
def test_bad_options_exit_2_in_one_line_before_any_work(tmp_path, args, phrase):
    out = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert phrase in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_an_unreachable_store_is_one_line_and_exit_1():
    out = cli("run", "syncfy-credential-lifecycle", "--target", T, "--db", "postgresql://u:secret@127.0.0.1:1/db")
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "cannot open the store at postgresql://u:***@127.0.0.1:1/db" in out.stderr
    assert "Traceback" not in out.stderr and "secret" not in out.stderr


def test_run_of_a_broken_file_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nprovider: syncfy\ndescription: x\nsteps:\n  - emit: credentials.craeted\n")
    out = cli("run", str(path), "--target", "http://127.0.0.1:9/")
    assert out.returncode == 2
    assert f"{path}:5" in out.stderr and "credentials.created" in out.stderr
    out = cli("validate", str(path))
    assert out.returncode == 2 and f"{path}:5" in out.stderr


def test_scenarios_lists_builtins_and_user_dirs(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "name: mine\nprovider: syncfy\ndescription: mine\nsteps:\n  - emit: credentials.created\n"
    )
    out = cli("scenarios", "--json", "--scenarios", str(tmp_path))
    assert out.returncode == 0, out.stderr
    names = {s["name"] for s in json.loads(out.stdout)}
    assert "mine" in names and "syncfy-credential-lifecycle" in names


def test_environment_variables_set_options(tmp_path):
    with Receiver() as receiver:
        env = {"WEBHOOK_SIM_TARGET": receiver.url, "WEBHOOK_SIM_SPEED": "0", "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "run", "syncfy-credential-lifecycle"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=Path.cwd(),
        )
        assert out.returncode == 0, out.stderr
        assert receiver.requests


def test_validate_refuses_a_built_in_name_as_the_server_would(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: syncfy-credential-lifecycle\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n")
    out = cli("validate", str(path))
    assert out.returncode == 2 and f"{path}:1" in out.stderr and "built-in" in out.stderr


def test_a_timeline_past_the_year_9999_is_exit_2_not_a_traceback(tmp_path):
    path = tmp_path / "gap.yaml"
    path.write_text(
        "name: long-gap\nprovider: syncfy\nparams:\n  gap: {default: 1s}\nsteps:\n"
        '  - emit: credentials.created\n  - wait: "${gap}"\n  - emit: credentials.updated\n'
    )
    out = cli("scenarios", str(path), "--param", "gap=9999999999d")
    assert out.returncode == 2 and "past the year 9999" in out.stderr and "Traceback" not in out.stderr


def test_a_report_whose_folder_went_during_the_run_is_one_line_and_exit_1(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    command = [sys.executable, "-m", "simulator.cli", "run", "syncfy-credential-lifecycle", "--target", T]
    command += ["--speed", "0", "--param", "refreshes=0", "--api-port", "0", "--report", str(folder / "r.json")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # said before the run starts
            if line.startswith("provider API twins:"):
                break
        shutil.rmtree(folder)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert f"cannot write {folder / 'r.json'}" in err and "Traceback" not in err


def test_a_reader_that_goes_away_ends_the_output_quietly():
    """`webhook-sim events | head -1`: the pipe's reading end is closed before the command writes."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "events"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == "", done.stderr
