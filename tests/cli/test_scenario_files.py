"""Hostile scenario files on the command line and the control API: each is a clear error naming file, line and
field (exit 2, or a 4xx), never a traceback, a hang, or a server that answers 500."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.harness import ApiServer
from tests.ports import refused_port

# What a command here may take: a regression that reads or plans without bound is stopped, not the machine.
MEMORY = 2_000_000_000
SECONDS = 60


def capped(*args: str) -> subprocess.CompletedProcess[str]:
    """`webhook-sim ARGS` in a subprocess with at most MEMORY bytes of address space and SECONDS of time."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))

    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=limit,
    )


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


NON_STRING_KEY = "name: key\nprovider: syncfy\n1: x\nsteps:\n  - emit: credentials.created\n"
DEEP = (
    "name: deep\nprovider: syncfy\nsteps: "
    + "[{repeat: 1, steps: " * 150
    + "[{emit: credentials.created}]"
    + "}]" * 150
    + "\n"
)
ENVIRONMENT = (
    "name: env\nprovider: syncfy\nparams:\n  environment: {default: mars}\nsteps:\n  - emit: credentials.created\n"
)
UNCHECKED = "name: unchecked\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n    unchecked: true\n"
FAULTS = """name: faulty
provider: syncfy
faults: {reorder: 1, drop: 2}
steps:
  - emit: credentials.created
    faults: {duplicate: {probability: 1, copies: 1000000000}}
"""


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (NON_STRING_KEY, ":3: 1: key '1' is not a string"),
        (DEEP, ":3: the document is nested too deeply"),
        (UNCHECKED + "    with: {header: 5}\n", ":6: steps[0].with.header: a credentials.created cannot be built"),
        (UNCHECKED + "    with: {header.event: x}\n", ':6: steps[0].with["header.event"]: a credentials.created'),
        # Read by Syncfy's builders themselves: `run` failed with a traceback at the first event (exit 1).
        (ENVIRONMENT, ":4: params.environment: expected sandbox or production"),
    ],
    ids=["non-string-key", "nested-150", "unchecked-header", "unchecked-header-event", "environment"],
)
def test_validate_scenarios_and_run_refuse_a_file_with_its_line(main, tmp_path, text, where):
    path = write(tmp_path / "hostile.yaml", text)
    target = f"http://127.0.0.1:{refused_port()}/x"
    for args in (["validate", path], ["scenarios", path], ["run", path, "--target", target, "--speed", "0"]):
        ran = main(*args)
        assert ran.code == 2, (args, ran)
        assert f"{path}{where}" in ran.err and "Traceback" not in ran.err, (args, ran)


def test_every_command_reports_each_bad_fault_with_its_line_and_full_path(main, tmp_path):
    path = write(tmp_path / "faulty.yaml", FAULTS)
    target = f"http://127.0.0.1:{refused_port()}/x"
    for args in (["validate", path], ["scenarios", path], ["run", path, "--target", target, "--speed", "0"]):
        ran = main(*args)
        assert ran.code == 2, (args, ran)
        for where in (":3: faults.drop: ", ":3: faults.reorder: ", ":6: steps[0].faults.duplicate.copies: "):
            assert f"{path}{where}" in ran.err, (args, where, ran)


def test_run_refuses_a_file_that_takes_a_builtin_name(main, tmp_path):
    text = "# mine\nname: syncfy-credential-lifecycle\nprovider: syncfy\nsteps: [{emit: credentials.created}]\n"
    path = write(tmp_path / "copy.yaml", text)
    ran = main("run", path, "--target", f"http://127.0.0.1:{refused_port()}/x", "--speed", "0")
    assert ran.code == 2 and f"{path}:2: name: name 'syncfy-credential-lifecycle' is already used" in ran.err, ran


def test_a_timeline_longer_than_time_is_refused_with_its_line(main, tmp_path):
    text = "name: long\nprovider: syncfy\nsteps:\n  - wait: 1000000000000d\n  - emit: credentials.created\n"
    path = write(tmp_path / "long.yaml", text)
    ran = main("validate", path)
    assert ran.code == 2 and f"{path}:4: steps[0].wait: at its longest" in ran.err, ran
    gap = "name: gap\nprovider: syncfy\nparams:\n  gap: {default: 1s}\nsteps:\n  - wait: '${gap}'\n"
    path = write(tmp_path / "gap.yaml", gap + "  - emit: credentials.created\n")
    target = f"http://127.0.0.1:{refused_port()}/x"
    ran = main("run", path, "--target", target, "--speed", "0", "--param", "gap=1000000000000d")
    assert ran.code == 2 and f"{path}:6: steps[0].wait: at its longest" in ran.err, ran


@pytest.mark.parametrize("kind", ["device", "link", "fifo"])
def test_validate_refuses_what_is_not_a_regular_file(tmp_path, kind):
    """`validate /dev/zero` read 16 GB in 20 s; a FIFO waited for a writer forever."""
    path = {"device": "/dev/zero", "link": str(tmp_path / "zero.yaml"), "fifo": str(tmp_path / "pipe.yaml")}[kind]
    if kind == "link":
        os.symlink("/dev/zero", path)
    elif kind == "fifo":
        os.mkfifo(path)
    ran = capped("validate", path)
    assert ran.returncode == 2, ran.stderr
    # Named as it was given (a link by its own name, as `cat` and `grep` name it), in full.
    assert ran.stderr.strip() == f"error: {path}: not a regular file: expected a YAML file"


def test_a_loop_of_links_is_a_file_that_cannot_be_read(main, tmp_path):
    """`validate` followed the links of each path to find duplicates, and a loop of them crashed it (exit 1)."""
    os.symlink(tmp_path / "b.yaml", tmp_path / "a.yaml")
    os.symlink(tmp_path / "a.yaml", tmp_path / "b.yaml")
    path = str(tmp_path / "a.yaml")
    target = f"http://127.0.0.1:{refused_port()}/x"
    for args in (["validate", path], ["scenarios", path], ["run", path, "--target", target, "--speed", "0"]):
        ran = main(*args)
        assert ran.code == 2, (args, ran)
        assert f"{path}: cannot read: Too many levels of symbolic links" in ran.err, (args, ran)


@pytest.mark.parametrize(
    ("scenario", "params"),
    [("huge.yaml", []), ("basistheory-token-intent-conversion", ["--param", "checkouts=10000000"])],
)
def test_the_timeline_preview_of_a_huge_run_prints_its_first_rows(tmp_path, scenario, params):
    """The preview planned every event before printing any: 40 MB more a second, and nothing shown."""
    huge = "name: huge\nprovider: syncfy\nsteps:\n  - repeat: 1000000000000\n    steps: [{emit: credentials.created}]\n"
    write(tmp_path / "huge.yaml", huge)
    name = str(tmp_path / scenario) if scenario.endswith(".yaml") else scenario
    ran = capped("scenarios", name, "--limit", "5", *params)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("timeline for seed 0: "))
    assert lines[summary].endswith("more than 100000 events, too many to count ahead (a run shows no ETA either)")
    assert [line[:3] for line in lines[summary + 1 :]] == ["  +"] * 5 + ["  …"]


def test_a_broken_file_in_the_folder_leaves_the_server_answering(server: ApiServer, api: httpx.Client, tmp_path):
    """One file with a non-string key (or nested 150 deep) made the list, the API document and every new run,
    of a built-in scenario too, answer 500."""
    folder = tmp_path / "scenarios"
    write(folder / "key.yaml", NON_STRING_KEY)
    write(folder / "deep.yaml", DEEP)
    listed = api.get("/scenarios")
    assert listed.status_code == 200, listed.text
    assert {(Path(e["file"]).name, e["line"]) for e in listed.json()["errors"]} == {("key.yaml", 3), ("deep.yaml", 3)}
    for path in ("/scenarios/api-one-event", "/openapi.json"):
        assert api.get(path).status_code == 200, path
    body = {"scenario": "syncfy-credential-lifecycle", "speed": 0, "target": f"http://127.0.0.1:{refused_port()}/x"}
    assert api.post("/runs", json=body).status_code == 202


def test_post_runs_names_the_wait_its_parameters_make_too_long(api: httpx.Client, tmp_path):
    gap = "name: api-gap\nprovider: syncfy\nparams:\n  gap: {default: 1s}\nsteps:\n  - wait: '${gap}'\n"
    path = write(tmp_path / "scenarios" / "gap.yaml", gap + "  - emit: credentials.created\n")
    target = f"http://127.0.0.1:{refused_port()}/x"
    answer = api.post("/runs", json={"scenario": "api-gap", "target": target, "params": {"gap": "1000000000000d"}})
    assert answer.status_code == 422, answer.text
    error, blamed = answer.json()["errors"]
    assert (error["field"], error["file"], error["line"]) == ("steps[0].wait", path, 6)
    assert blamed["field"] == "params.gap" and "file" not in blamed


def test_the_preview_refuses_a_repeat_that_plans_without_end_between_two_events(tmp_path):
    """A billion passes of a wait, no event among them: the preview planned on without printing (a run too, in
    the server's event loop)."""
    text = "name: spin\nprovider: syncfy\nsteps:\n  - emit: credentials.created\n  - repeat: 1000000000\n"
    path = write(tmp_path / "spin.yaml", text + "    steps: [{wait: 1ms}]\n  - emit: credentials.updated\n")
    ran = capped("scenarios", path, "--limit", "5")
    assert ran.returncode == 2 and f"{path}:5: steps[1].repeat: these steps emit nothing" in ran.stderr, ran.stderr


def test_a_broken_link_is_told_by_the_name_it_was_given(main, tmp_path):
    """It named the missing file the link points to, which the person never typed."""
    link = tmp_path / "linked.yaml"
    link.symlink_to(tmp_path / "gone" / "target.yaml")
    ran = main("validate", str(link))
    assert ran.code == 2 and f"{link}: no such file" in ran.err and "target.yaml" not in ran.err, ran
