"""`scenarios` refuses what `run` refuses, and what it would otherwise ignore; `listen` and `serve` refuse an empty
`--host`, and `listen` a `--forward-to` port 0. Each was taken: `--speed inf` wrote `"speed": Infinity` (no
JSON), `--start-time garbage` was a traceback, `scenarios --seed 5` and `scenarios ''` listed every scenario,
`--scenarios /nonexist` listed the built-in ones before its exit 2, `listen --host ''` and `serve --host ''`
listened on every interface and `--forward-to 0` forwarded to a port no service listens on."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from simulator.cli import listen as listen_cli
from simulator.cli import serve as serve_cli
from tests.cli.conftest import Ran

NAME = "syncfy-credential-lifecycle"
# Nothing listens on the discard port: a run that got as far as sending would fail, not deliver.
TARGET = "http://127.0.0.1:9/"


@pytest.fixture
def main(main: Callable[..., Ran], capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """The suite's `main`, argparse's refusals (SystemExit) read as their exit code."""

    def run(*args: str) -> Ran:
        try:
            return main(*args)
        except SystemExit as exc:
            out, err = capsys.readouterr()
            return Ran(exc.code if isinstance(exc.code, int) else 1, out, err)

    return run


@pytest.fixture
def nothing_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """`listen` fails the test if it gets as far as listening: a refused value never binds a port (and a test
    without the fix ends at once rather than serving until killed)."""

    def reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("listened with a value it should have refused")

    monkeypatch.setattr(listen_cli, "bind_tcp", reached)
    monkeypatch.setattr(serve_cli, "bind_tcp", reached)


def expected(err: str) -> str:
    """What a refusal of a speed says is expected: ` is not a speed: expected …` of its last line."""
    return err.strip().splitlines()[-1].split(" is not a speed: ", 1)[1]


# -- 1. `scenarios NAME` takes the speeds and start times a run takes -------------------------------------------


@pytest.mark.parametrize("speed", ["inf", "nan", "0.0001", "1e400", "-1"])
def test_scenarios_refuses_a_speed_run_refuses_in_run_s_words(main, speed: str) -> None:
    described = main("scenarios", NAME, "--speed", speed, "--json")
    assert (described.code, described.out) == (2, ""), described
    assert described.err.startswith("error: --speed: ") and described.err.count("\n") == 1, described
    refused = main("run", NAME, "--target", TARGET, "--speed", speed)
    assert refused.code == 2, refused
    # The value as each read it (`1e400` is inf once read), then run's words and bounds.
    assert expected(described.err) == expected(refused.err)


@pytest.mark.parametrize(
    "start",
    ["garbage", "2025-01-01T00:00:00", "", "2201-01-01T00:00:00Z"],
    ids=["word", "no-offset", "empty", "past-2200"],
)
def test_scenarios_refuses_a_start_time_run_refuses_in_one_line(main, start: str) -> None:
    described = main("scenarios", NAME, "--start-time", start)
    assert (described.code, described.out) == (2, ""), described
    said = "error: --start-time: expected an RFC 3339 time from 1970 to 2200 with its offset"
    assert described.err.startswith(said) and described.err.count("\n") == 1, described
    refused = main("run", NAME, "--target", TARGET, "--seed", "1", "--speed", "0", "--start-time", start)
    assert (refused.code, refused.err) == (2, described.err), refused


def test_a_speed_and_start_time_run_takes_describe_in_json(main) -> None:
    def no_constant(word: str) -> None:
        raise AssertionError(f"{word} is no JSON")

    described = main("scenarios", NAME, "--speed", "1e9", "--start-time", "2025-01-01T02:00:00+02:00", "--json")
    assert described.code == 0, described
    data = json.loads(described.out, parse_constant=no_constant)
    assert (data["speed"], data["start_time"]) == (1e9, "2025-01-01T00:00:00+00:00")


# -- 2. without NAME: no option of NAME, no empty NAME, nothing listed before a refusal --------------------------


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--seed", "5"], "--seed"),
        (["--speed", "2"], "--speed"),
        (["--speed", "nan"], "--speed"),
        (["--param", "a=1"], "--param"),
        (["--start-time", "garbage"], "--start-time"),
        (["--limit", "3"], "--limit"),
    ],
    ids=["seed", "speed", "speed-nan", "param", "start-time", "limit"],
)
def test_scenarios_without_name_refuses_the_options_of_name(main, given: list[str], named: str) -> None:
    listed = main("scenarios", *given)
    assert (listed.code, listed.out) == (2, ""), listed
    assert named in listed.err and "Traceback" not in listed.err, listed


def test_scenarios_without_name_names_every_option_of_name_given(main) -> None:
    listed = main("scenarios", "--seed", "5", "--param", "a=1", "--json")
    assert (listed.code, listed.out) == (2, ""), listed
    assert listed.err.startswith("error: --seed and --param need NAME: "), listed


def test_an_option_of_name_from_the_environment_alone_still_lists(main, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` reads the same variables: a shell that exports them for it still lists the scenarios."""
    monkeypatch.setenv("WEBHOOK_SIM_SEED", "5")
    monkeypatch.setenv("WEBHOOK_SIM_START_TIME", "2025-01-01T00:00:00Z")
    listed = main("scenarios")
    assert listed.code == 0 and NAME in listed.out, listed


@pytest.mark.parametrize("name", ["", "  "], ids=["empty", "blank"])
def test_an_empty_scenario_name_is_refused(main, name: str) -> None:
    listed = main("scenarios", name)
    assert (listed.code, listed.out) == (2, ""), listed
    assert "argument name: empty: give a scenario's name or a YAML file, or leave NAME out" in listed.err, listed


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_a_missing_scenarios_folder_is_refused_before_anything_is_listed(main, tmp_path, as_json: list[str]) -> None:
    missing = tmp_path / "nonexist"
    listed = main("scenarios", "--scenarios", str(missing), *as_json)
    assert (listed.code, listed.out) == (2, ""), listed
    assert listed.err == f"error: {missing}: no such directory: expected a folder of scenario files\n", listed


def test_a_broken_file_in_a_folder_is_said_after_the_rest_are_listed(main, tmp_path) -> None:
    """Unlike a missing folder, a file that does not load leaves the others to list, as `GET /scenarios` does."""
    (tmp_path / "broken.yaml").write_text("name: broken\nprovider: nope\n")
    listed = main("scenarios", "--scenarios", str(tmp_path), "--json")
    assert listed.code == 2 and NAME in {s["name"] for s in json.loads(listed.out)}, listed
    assert f"error: {tmp_path / 'broken.yaml'}:" in listed.err


# -- 3. and 4. `listen`: an empty --host, a --forward-to port 0 --------------------------------------------------


@pytest.mark.parametrize("host", ["", " "], ids=["empty", "blank"])
def test_listen_refuses_an_empty_host(main, nothing_bound, host: str) -> None:
    refused = main("listen", "--port", "0", "--host", host)
    assert (refused.code, refused.out) == (2, ""), refused
    assert refused.err == "error: --host: empty: give an address, or leave the option out\n", refused


@pytest.mark.parametrize("host", ["", " "], ids=["empty", "blank"])
def test_serve_refuses_an_empty_host(main, nothing_bound, tmp_path, host: str) -> None:
    handlers = list(logging.getLogger().handlers)
    refused = main("serve", "--port", "0", "--db", str(tmp_path / "sim.db"), "--token", "t0ken", "--host", host)
    assert (refused.code, refused.out) == (2, ""), refused
    assert refused.err == "error: --host: empty: give an address, or leave the option out\n", refused
    assert not (tmp_path / "sim.db").exists()  # refused before the store was opened
    # Nor was the logging set up: it sends every record to the stderr of the moment, which a test's capture closes.
    assert logging.getLogger().handlers == handlers


@pytest.mark.parametrize("forward_to", ["0", "-1", "+3000", "localhost:0/hooks", "http://127.0.0.1:0/hooks"])
def test_listen_refuses_a_forward_to_port_0_as_it_refuses_70000(main, nothing_bound, forward_to: str) -> None:
    refused = main("listen", "--port", "0", "--forward-to", forward_to)
    assert (refused.code, refused.out) == (2, ""), refused
    assert refused.err == "error: --forward-to: the port must be a number from 1 to 65535\n", refused
    assert main("listen", "--port", "0", "--forward-to", "70000").err == refused.err
