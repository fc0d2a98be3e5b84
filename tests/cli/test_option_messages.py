"""A bad `--secret`, `--speed` or `--server` is exit 2 with a message naming the option, as every other bad value
is. Before: `listen --secret ''` listened without one, `trigger --secret ''` said "the syncfy scheme needs a
secret" without naming the option, `run --speed -1` said "invalid run: speed: …", and `--server notaurl` was exit 1
with httpx's words after the fact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simulator import cli as webhook_sim
from tests.cli.conftest import Ran

TARGET = ["--target", "http://127.0.0.1:9/hooks"]
# An address no interface here has (TEST-NET-1): a `listen` that took the value would fail to bind at once
# rather than serve until stopped.
NOWHERE = ["--host", "192.0.2.1"]
MALFORMED = "not a secret!"


@pytest.mark.parametrize(
    ("args", "option", "words"),
    [
        (["listen", *NOWHERE, "--secret", ""], "--secret", "empty"),
        (["listen", *NOWHERE, "--secret", MALFORMED], "--secret", "whsec_<base64> (standard) or base64 (syncfy)"),
        (["listen", *NOWHERE, "--secret", "whsec_"], "--secret", "not a signing secret"),
        (["trigger", "token.created", *TARGET, "--secret", ""], "--secret", "empty"),
        (["trigger", "token.created", *TARGET, "--secret", MALFORMED], "--secret", "not a signing secret"),
        (["run", "syncfy-credential-lifecycle", *TARGET, "--secret", MALFORMED], "--secret", "not a signing secret"),
        (["run", "syncfy-credential-lifecycle", *TARGET, "--speed", "-1"], "--speed", "expected 0 (no waiting)"),
        (["run", "syncfy-credential-lifecycle", *TARGET, "--speed", "nan"], "--speed", "is not a speed"),
        (["trigger", "token.created", "--server", "notaurl"], "--server", "'notaurl' is not a URL"),
        (["deliveries", "--server", "127.0.0.1:8080"], "--server", "absolute http:// or https:// URL"),
        (["listen", *NOWHERE, "--server", "http://"], "--server", "is not a URL"),
        (["deliveries", "--server", "http://bücher.test:8080"], "--server", "must be ASCII"),
        (["deliveries", "--limit", "99999999999999999999"], "--limit", "is too large: expected at most"),
        (["run", "syncfy-credential-lifecycle", *TARGET, "--retry-delays", ""], "--retry-delays", "empty"),
        (["trigger", "token.created", *TARGET, "--retry-delays", " "], "--retry-delays", "empty"),
        (["scenarios", "--limit", "99999999999999999999"], "--limit", "is too large: expected at most"),
        # An empty filter subscribed to every event: `--events "$UNSET"` widened it to everything.
        (["subscriptions", "create", "http://127.0.0.1:9/", "--events", ""], "--events", "no event type in ''"),
        (["subscriptions", "create", "http://127.0.0.1:9/", "--events", " , "], "--events", "no event type in"),
        (["listen", *NOWHERE, "--server", "http://127.0.0.1:9", "--events", ","], "--events", "no event type in"),
    ],
)
def test_a_bad_value_is_exit_2_naming_its_option(
    args: list[str], option: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        webhook_sim.main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"argument {option}: " in err and words in err, err
    assert MALFORMED not in err  # a secret, even a malformed one, is not repeated


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        # Without --signing, a secret is read as Syncfy's (what the subscription made for --target asks).
        (["--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "--signing standard takes whsec_"),
        (["--signing", "standard", "--secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "must look like whsec_<base64>"),
        (["--signing", "basistheory", "--secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "takes no secret"),
    ],
)
@pytest.mark.parametrize("command", [["trigger", "token.created"], ["run", "syncfy-credential-lifecycle"]])
def test_a_secret_that_does_not_fit_the_scheme_is_named(
    main: Callable[..., Ran], extra: list[str], words: str, command: list[str]
) -> None:
    ran = main(*command, *TARGET, *extra)
    assert ran.code == 2, ran
    assert ran.err.startswith("error: --secret: ") and words in ran.err, ran


@pytest.mark.parametrize("command", [["listen"], ["trigger", "token.created"]])
def test_format_is_taken_in_either_case_as_stripe_cli_users_write_it(command):
    assert webhook_sim.parser().parse_args([*command, "--format", "JSON"]).format == "json"


@pytest.mark.parametrize("text", ["maybe", "2", "enabled"])
@pytest.mark.parametrize(
    ("args", "option", "variable"),
    [
        (["deliveries", "--server", "http://127.0.0.1:9"], "--json", "WEBHOOK_SIM_JSON"),
        (["subscriptions", "list", "--server", "http://127.0.0.1:9"], "--json", "WEBHOOK_SIM_JSON"),
        (["listen", *NOWHERE], "--print-body", "WEBHOOK_SIM_PRINT_BODY"),
    ],
)
def test_a_switch_the_environment_sets_to_neither_on_nor_off_is_exit_2_naming_it_and_its_variable(
    args: list[str],
    option: str,
    variable: str,
    text: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read as off, `WEBHOOK_SIM_JSON=maybe` printed a table where a script asked for JSON."""
    monkeypatch.setenv(variable, text)
    with pytest.raises(SystemExit) as exited:
        webhook_sim.main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"argument {option}: invalid value {text!r} (from the environment: {variable})" in err, err


@pytest.mark.parametrize(("text", "on"), [("1", True), (" TRUE ", True), ("on", True), ("0", False), ("off", False)])
def test_a_switch_the_environment_sets_on_or_off_is_taken(text: str, on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.cli import commands

    monkeypatch.setenv("WEBHOOK_SIM_JSON", text)
    assert commands.parser("deliveries").parse_args(["deliveries"]).json is on


@pytest.mark.parametrize(
    ("outputs", "option", "other"),
    [
        (["--report", "{d}/same.out", "--junit", "{d}/same.out"], "--junit", "--report"),
        (["--junit", "{d}/./scenario.yaml"], "--junit", "the scenario file"),
        (["--report", "{d}/scenario.yaml"], "--report", "the scenario file"),
        (["--db", "{d}/run.db", "--junit", "{d}/run.db"], "--junit", "--db"),
    ],
)
def test_a_report_named_after_another_file_of_the_run_is_exit_2_and_writes_nothing(
    outputs: list[str], option: str, other: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--junit` and `--report` on one file kept one of the two; `--junit scenario.yaml` wrote XML over the
    scenario it played. Each exited 0."""
    scenario = tmp_path / "scenario.yaml"
    text = "name: one\\nprovider: syncfy\\ndescription: one event\\nsteps:\\n  - emit: credentials.created\\n"
    scenario.write_text(text)
    args = ["run", str(scenario), *TARGET, "--speed", "0", *(o.format(d=tmp_path) for o in outputs)]
    assert webhook_sim.main(args) == 2
    err = capsys.readouterr().err
    assert f"{option} " in err and f"is {other}'s file too" in err, err
    assert scenario.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]


def test_an_empty_report_path_is_exit_2_saying_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        webhook_sim.main(["run", "syncfy-credential-lifecycle", *TARGET, "--junit", ""])
    assert exited.value.code == 2
    assert "argument --junit: empty: give a file's path" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--start-time", "yesterday"], "error: --start-time: expected an RFC 3339 time"),
        (["--target", "notaurl"], "error: --target: expected an absolute http:// or https:// URL"),
        # Refused once the store is open, by the run's own check: a Syncfy run's ids hold no such times.
        (["--start-time", "1970-01-01T00:00:00Z"], "error: --start-time: a Syncfy run starts from 1970-01-31"),
        (["--start-time", "2106-02-07T05:00:00Z", "--seed", "3"], "  --start-time: its events run past 2106-02-07"),
    ],
)
def test_a_run_option_the_run_refuses_is_named_as_the_option(
    extra: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said `invalid run: start_time: …`, a field of the control API the command line has no name for; and so
    did the run's own refusal of a start its Syncfy ids cannot hold."""
    assert webhook_sim.main(["run", "syncfy-credential-lifecycle", *TARGET, *extra]) == 2
    assert says in capsys.readouterr().err
