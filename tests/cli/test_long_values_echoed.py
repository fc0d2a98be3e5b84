"""A name or value given on the command line that a refusal repeats is repeated cut at 80 characters, its length
said (`'xxx…'… (100000 characters)`): a file pasted in place of an event type was echoed whole, a hundred
kilobytes on one line. The close names of a misspelt one are still suggested."""

from __future__ import annotations

import re

import pytest

from simulator import cli as webhook_sim
from tests.cli.conftest import cli

LONG = "x" * 100_000
SHOWN = f"{'x' * 80}'… (100000 characters)"  # the first 80 characters, and the length
TARGET = ["--target", "http://127.0.0.1:9/hooks"]
RUN = ["run", "syncfy-credential-lifecycle", *TARGET]
# An address no interface here has (TEST-NET-1): a `listen` that took the options would fail to bind at once.
NOWHERE = ["--host", "192.0.2.1", "--port", "0"]


def test_trigger_echoes_a_long_unknown_event_type_cut_in_one_line() -> None:
    done = cli("trigger", LONG, *TARGET)
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr == f"error: unknown event type '{SHOWN}\n"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["sample", LONG], "unknown event type '"),
        (["schema", f"syncfy:{LONG}"], "unknown event type 'syncfy:"),
        (["run", LONG, *TARGET], "unknown scenario '"),
        (["run", "x" * 300, *TARGET], "unknown scenario '"),  # a name too long for a file's was a traceback
        (["scenarios", LONG], "unknown scenario '"),
        (["events", "--provider", LONG], "unknown provider '"),
        (["listen", *NOWHERE, "--server", "http://127.0.0.1:9", "--events", LONG], "unknown event type '"),
        (["trigger", "token.created", *TARGET, "--override", f"payload.{LONG}=1"], "--override 'payload."),
        (["trigger", "token.created", *TARGET, "--override", LONG], "--override '"),
        ([*RUN, "--param", LONG], "--param '"),
        ([*RUN, "--fault", f"{LONG}=1"], "unknown fault '"),
        ([*RUN, "--retry-delays", LONG], "--retry-delays: '"),
        (["trigger", "token.created", "--target", LONG], "argument --target: '"),
        (["trigger", "token.created", *TARGET, "--seed", LONG], "argument --seed: invalid seed value: '"),
        (["trigger", "token.created", *TARGET, "--format", LONG], "argument --format: invalid choice: '"),
        (["deliveries", "--since", LONG], "argument --since: '"),
        (["serve", "--allowed-host", LONG], "argument --allowed-host: '"),
        ([LONG], "invalid choice: '"),
        (["events", LONG], "unrecognized arguments: '"),
    ],
)
def test_a_long_value_a_refusal_repeats_is_cut(args: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = webhook_sim.main(args)
    except SystemExit as exited:  # argparse's refusals
        code = exited.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2, err[-500:]
    assert said in err and re.search(r"x'… \((300|1000\d\d) characters\)", err), err[-500:]
    assert len(err) < 2000 and "Traceback" not in err, err[-500:]


def test_a_misspelt_name_is_echoed_whole_with_the_close_names(capsys: pytest.CaptureFixture[str]) -> None:
    for args, said in [
        (["sample", "credentals.created"], "unknown event type 'credentals.created'; did you mean credentials.created"),
        (["run", "syncfy-credential-lifecyle", *TARGET], "did you mean syncfy-credential-lifecycle"),
        ([*RUN, "--fault", "dorp=0.1"], "unknown fault 'dorp' (did you mean drop?)"),
    ]:
        assert webhook_sim.main(args) == 2
        err = capsys.readouterr().err
        assert said in err and "characters)" not in err, err
