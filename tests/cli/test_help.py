"""`--help` of every command documents every option with its default and its `WEBHOOK_SIM_*` variable; the
command line wins over the environment (lists are replaced, booleans can be turned off)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from simulator import cli
from simulator.cli import commands as cli_commands
from simulator.cli import options

SKIPPED = {"help", "version"}


def commands() -> dict[str, argparse.ArgumentParser]:
    root = cli.parser()
    [sub] = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_command_is_in_the_tree():
    assert set(commands()) == {
        "serve", "worker", "run", "trigger", "deliveries", "resend", "subscriptions", "events", "sample", "schema",
        "asyncapi", "scenarios", "validate", "listen", "docs",
    }  # fmt: skip


def test_the_top_level_help_says_what_the_tool_does(capsys):
    """It printed the module's note on how the command line is built ("one argparse tree")."""
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    described = " ".join(capsys.readouterr().out.split())
    assert "Syncfy and Basis Theory" in described and "argparse" not in described, described


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        (["deliveries", "--bogus"], "webhook-sim deliveries"),
        (["subscriptions", "list", "--bogus"], "webhook-sim subscriptions list"),
    ],
)
def test_an_unknown_option_is_told_with_its_commands_usage(argv, prog, capsys):
    """It was told with the tree's usage, `webhook-sim [-h] [--version] {deliveries} ...`, which names no option."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith(f"usage: {prog} ") and f"{prog}: error: unrecognized arguments: --bogus" in err, err


def test_a_command_line_imports_its_commands_module_alone():
    """Each command's own tree is the whole tree's branch for it, and building it imports no other command."""
    whole = commands()
    assert set(cli_commands.MODULES) == set(whole)
    for name in whole:
        root = cli_commands.parser(name)
        [sub] = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
        assert name in sub.choices and sub.choices[name].format_help() == whole[name].format_help()
    probe = "import sys; from simulator.cli import commands; commands.parser('sample'); print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert "simulator.cli.catalog" in loaded.stdout and "simulator.cli.serve" not in loaded.stdout
    assert "'sqlalchemy'" not in loaded.stdout  # the store's library is half of what a fresh start imports


STORELESS = ["deliveries", "resend", "subscriptions", "trigger", "listen", "validate", "scenarios"]


@pytest.mark.parametrize("name", STORELESS)
def test_a_command_that_opens_no_store_starts_without_the_stores_library(name):
    """These talk to a server or read files: the store's library would be most of what they import."""
    probe = f"import sys; from simulator.cli import commands; commands.parser({name!r}); print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert f"'simulator.cli.{cli_commands.MODULES[name]}'" in loaded.stdout
    assert "'sqlalchemy'" not in loaded.stdout


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_option_has_a_description_a_default_and_a_variable(name, capsys):
    parser = commands()[name]
    assert parser.description, name
    for action in parser._actions:
        if not action.option_strings or action.dest in SKIPPED:
            continue
        variable = _variable(name, action.dest)
        text = action.help or ""
        described = text.split(" (")[0].split("; ")[0]
        assert len(described) > 5, (name, action.dest, text)
        assert "default: " in text, (name, action.dest, text)
        assert f"env {variable}" in text, (name, action.dest, text)
    with pytest.raises(SystemExit) as exit_:
        cli.parser().parse_args([name, "--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    for action in parser._actions:
        if action.option_strings and action.dest not in SKIPPED:
            assert _variable(name, action.dest) in shown, (name, action.dest)


def _variable(command: str, dest: str) -> str:
    """An option's variable: WEBHOOK_SIM_<DEST>, or `listen`'s own where `serve` or `deliveries` use the name
    with another meaning."""
    if command == "listen" and dest in ("host", "port", "status", "seed"):
        return f"WEBHOOK_SIM_LISTEN_{dest.upper()}"
    return options.env_name(dest)


def test_a_list_from_the_environment_is_replaced_by_the_command_line(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SIM_PARAM", "refreshes=5,environment=production")
    monkeypatch.setenv("WEBHOOK_SIM_FAULT", "drop=0.1;duplicate=0.2")
    given = cli.parser().parse_args(["run", "x", "--param", "refreshes=1", "--fault", "delay=2s"])
    assert given.param == ["refreshes=1"]
    assert given.fault == ["delay=2s"]
    given = cli.parser().parse_args(["run", "x", "--param", "a=1", "--param", "b=2"])
    assert given.param == ["a=1", "b=2"]
    unchanged = cli.parser().parse_args(["run", "x"])
    assert unchanged.param == ["refreshes=5", "environment=production"]
    assert unchanged.fault == ["drop=0.1", "duplicate=0.2"]


def test_a_boolean_set_by_the_environment_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SIM_PRINT_BODY", "1")
    assert cli.parser().parse_args(["listen"]).print_body is True
    assert cli.parser().parse_args(["listen", "--no-print-body"]).print_body is False
    monkeypatch.setenv("WEBHOOK_SIM_FOLLOW", "true")
    assert cli.parser().parse_args(["deliveries", "--no-follow"]).follow is False


def test_a_typed_option_reads_its_variable(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SIM_SPEED", "0")
    monkeypatch.setenv("WEBHOOK_SIM_MAX_ATTEMPTS", "2")
    given = cli.parser().parse_args(["run", "x"])
    assert (given.speed, given.max_attempts) == (0.0, 2)


@pytest.mark.parametrize(
    ("argv", "said", "unloaded"),
    [
        # (`serve` still loads SQLAlchemy for its --lease-ttl default, which the store's leases module keeps.)
        (["serve", "--host", "10.1.2.3", "--port", "0", "--db", "x.db"], "without a token", ["simulator.api.app"]),
        (
            ["run", "syncfy-chaos", "--target", "not a url", "--db", "x.db"],
            "target",
            ["simulator.api.app", "sqlalchemy"],
        ),
        (
            ["run", "no-such-scenario", "--target", "http://127.0.0.1:9/", "--db", "x.db"],
            "no-such-scenario",
            ["simulator.api.app", "sqlalchemy", "simulator.core.simulator"],
        ),
        # (`worker`, as `serve`, loads SQLAlchemy for its --lease-ttl default.)
        (["worker", "--db", "x.db"], "not a PostgreSQL URL", ["simulator.api.app", "simulator.core.simulator"]),
        (
            ["worker", "--db", "postgresql://a@/b", "--lease-ttl", "0.1"],
            "lease-ttl: out of range",
            ["simulator.api.app", "simulator.core.simulator"],
        ),
    ],
)
def test_a_command_line_refused_for_an_option_exits_before_importing_the_store(tmp_path, argv, said, unloaded):
    """A command line refused for an option says so without loading the store, the engine and the application."""
    probe = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print(sorted(set({unloaded!r}) & set(sys.modules)), file=sys.stderr))\n"
        "from simulator.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert done.stderr.rstrip().endswith("[]"), done.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_parameter_from_the_environment_may_hold_a_comma(monkeypatch):
    """WEBHOOK_SIM_PARAM is comma-separated: a value holding a comma was cut at it, its rest refused as no K=V."""
    monkeypatch.setenv("WEBHOOK_SIM_PARAM", "institution=Banco Azteca, S.A.,refreshes=5,note=a,b,c")
    for command in (["run", "x"], ["scenarios", "x"]):
        given = cli.parser().parse_args(command)
        assert given.param == ["institution=Banco Azteca, S.A.", "refreshes=5", "note=a,b,c"]
    monkeypatch.setenv("WEBHOOK_SIM_PARAM", "stray,refreshes=5")  # what comes first without `=` stays alone
    assert cli.parser().parse_args(["run", "x"]).param == ["stray", "refreshes=5"]
