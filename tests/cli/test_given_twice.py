"""A key given twice in a K=V option (`--param`, `--fault`, `--override`), a second value of a `deliveries` filter,
and a whole number written in other than the ASCII digits (`٣`, `1_000`): each was taken without a word (the last
value kept, `٣` read as 3); each is now exit 2 naming the option, and nothing is sent or served."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer

RUN = ["run", "syncfy-credential-lifecycle", "--seed", "5", "--speed", "0", "--start-time", "2025-01-01T00:00:00Z"]
ARABIC_3 = "\u0663"  # ARABIC-INDIC DIGIT THREE: int() reads it as 3


# -- a key given twice in a K=V option ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--param", "refreshes=1", "--param", "refreshes=2"], "error: --param 'refreshes' is given twice"),
        (["--fault", "drop=0.1", "--fault", "drop=0.2"], "error: --fault 'drop' is given twice"),
        (["--fault", "delay=2s", "--fault", 'delay={"fixed": "3s"}'], "error: --fault 'delay' is given twice"),
    ],
    ids=["param", "fault", "fault-short-then-json"],
)
def test_run_refuses_a_key_given_twice(exit_2, receiver: Receiver, given: list[str], said: str) -> None:
    err = exit_2(*RUN, "--target", receiver.url, *given)
    assert err.startswith(said), err
    assert receiver.requests == []


def test_scenarios_refuses_a_parameter_given_twice(exit_2) -> None:
    err = exit_2("scenarios", "syncfy-credential-lifecycle", "--param", "refreshes=1", "--param", "refreshes=2")
    assert err.startswith("error: --param 'refreshes' is given twice"), err


def test_a_parameter_given_twice_by_the_environment_is_refused_naming_the_variable(
    exit_2, main, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_PARAM", "refreshes=1,refreshes=2")
    err = exit_2(*RUN, "--target", receiver.url)
    assert "--param 'refreshes' is given twice (from the environment: WEBHOOK_SIM_PARAM)" in err, err
    assert receiver.requests == []
    # The command line still replaces the environment's list, repeated key and all.
    ran = main(*RUN, "--target", receiver.url, "--param", "refreshes=1")
    assert ran.code == 0, ran


@pytest.mark.parametrize("through", ["server", "this process"])
def test_trigger_refuses_an_override_path_given_twice(
    exit_2, server: ApiServer, receiver: Receiver, through: str
) -> None:
    where = ["--server", server.url] if through == "server" else []
    given = ["--override", "payload.is_executing=1", "--override", "payload.is_executing=0"]
    err = exit_2("trigger", "credentials.updated", *where, "--target", receiver.url, *given)
    assert err.startswith("error: --override 'payload.is_executing' is given twice"), err
    assert receiver.requests == []


# -- a second value of a `deliveries` filter ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "first", "second"),
    [
        ("--run", "x", "y"),
        ("--subscription", "a", "b"),
        ("--status", "pending", "dead"),
        ("--type", "credentials.created", "credentials.updated"),
        ("--since", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
        ("--until", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
    ],
)
def test_deliveries_refuses_a_filter_given_twice(
    exit_2, main, server: ApiServer, monkeypatch: pytest.MonkeyPatch, option: str, first: str, second: str
) -> None:
    err = exit_2("deliveries", "--server", server.url, option, first, option, second)
    assert f"argument {option}: given twice ('{first}', then '{second}')" in err, err
    # A value from the environment is replaced by the command line's, as before.
    monkeypatch.setenv("WEBHOOK_SIM_" + option.lstrip("-").upper(), first)
    ran = main("deliveries", "--server", server.url, option, second)
    assert ran.code == 0, ran


# -- whole numbers in ASCII digits only -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        ["--seed", ARABIC_3],
        ["--seed", "1_000"],
        ["--seed", "+5"],
        ["--seed", " 5"],
        ["--failures", ARABIC_3],
        ["--max-in-flight", ARABIC_3],
        ["--max-attempts", ARABIC_3],
    ],
    ids=["seed-arabic", "seed-underscore", "seed-plus", "seed-space", "failures", "max-in-flight", "max-attempts"],
)
def test_run_takes_whole_numbers_in_ascii_digits_only(exit_2, receiver: Receiver, given: list[str]) -> None:
    option, value = given
    err = exit_2(*RUN, "--target", receiver.url, option, value)
    assert f"argument {option}: {value!r} is not a whole number written in the digits 0-9" in err, err
    assert receiver.requests == []


def test_a_seed_from_the_environment_in_other_digits_is_refused_naming_the_variable(
    exit_2, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SEED", ARABIC_3)
    err = exit_2("trigger", "credentials.created", "--target", receiver.url)
    assert f"argument --seed: '{ARABIC_3}' is not a whole number" in err, err
    assert "(from the environment: WEBHOOK_SIM_SEED)" in err, err
    assert receiver.requests == []


@pytest.mark.parametrize("option", ["--port", "--max-connections"])
def test_serve_takes_whole_numbers_in_ascii_digits_only(
    exit_2, nothing_served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str
) -> None:
    monkeypatch.chdir(tmp_path)  # a value taken would open the default store here, not in the project
    err = exit_2("serve", option, ARABIC_3)
    assert f"argument {option}: '{ARABIC_3}' is not a whole number" in err, err


# -- decimal numbers in ASCII digits only -----------------------------------------------------------------------

ARABIC_HALF = "\u0660.\u0665"  # ٠.٥: float() reads it as 0.5


@pytest.mark.parametrize("value", [ARABIC_3, "1_0", " 3"], ids=["arabic", "underscore", "space"])
def test_a_speed_is_taken_in_ascii_digits_only(exit_2, value: str) -> None:
    err = exit_2("scenarios", "syncfy-credential-lifecycle", "--speed", value)
    assert f"argument --speed: {value!r} is not a number written in the digits 0-9" in err, err


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--fault", f"drop={ARABIC_HALF}"], f"'{ARABIC_HALF}' is not a number"),
        (["--fault", f"duplicate=0.5:{ARABIC_3}"], f"'{ARABIC_3}' is not a whole number"),
    ],
    ids=["fault-drop", "fault-copies"],
)
def test_a_fault_takes_numbers_in_ascii_digits_only(exit_2, receiver: Receiver, given: list[str], said: str) -> None:
    err = exit_2(*RUN, "--target", receiver.url, *given)
    assert said in err, err
    assert receiver.requests == []


def test_a_number_in_ascii_digits_is_still_taken(main, receiver: Receiver) -> None:
    ran = main(*RUN, "--target", receiver.url, "--fault", "drop=0.0", "--fault", "duplicate=0.0:2")
    assert ran.code == 0, ran
