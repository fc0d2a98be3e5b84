"""`run NAME --scenarios DIR` (and `scenarios NAME`) where two files declare NAME: exit 2 naming both files and the
line of each `name:`, and nothing sent. It played the file read first, without a word, and the author of the
other may have been editing that one. A name no file declares says which files could not be read, and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenarios import builtin_dir
from simulator.testing.receiver import Receiver
from tests.cli.conftest import cli

ONE = "# first\nname: my-flow\nprovider: basistheory\nsteps:\n  - emit: token.created\n"
OTHER = "name: my-flow\nprovider: basistheory\nsteps:\n  - emit: token.updated\n"


def folder(tmp_path: Path, **files: str) -> Path:
    made = tmp_path / "scenarios"
    made.mkdir()
    for name, text in files.items():
        (made / f"{name}.yaml").write_text(text)
    return made


@pytest.mark.parametrize("command", ["run", "scenarios"])
def test_a_name_two_files_declare_is_refused_naming_both(tmp_path: Path, receiver: Receiver, command: str) -> None:
    dirs = folder(tmp_path, a=ONE, b=OTHER)
    more = ["--target", receiver.url, "--speed", "0", "--max-attempts", "1"] if command == "run" else []
    done = cli(command, "my-flow", "--scenarios", str(dirs), *more)
    assert done.returncode == 2, done
    assert done.stderr == (
        f"error: scenario 'my-flow' is declared by 2 files, {dirs / 'a.yaml'}:2 and {dirs / 'b.yaml'}:1: "
        "give each a name of its own\n"
    ), done.stderr
    assert receiver.requests == []


@pytest.mark.parametrize(("mine", "other"), [("a", "b"), ("b", "a")])
def test_either_file_of_a_name_two_declare_is_refused_by_its_path(
    main, tmp_path: Path, receiver: Receiver, mine: str, other: str
) -> None:
    """The file read first was played by its path, though by name neither is anyone's."""
    dirs = folder(tmp_path, a=ONE, b=OTHER)
    ran = main("run", str(dirs / f"{mine}.yaml"), "--scenarios", str(dirs), "--target", receiver.url, "--speed", "0")
    assert ran.code == 2, ran
    assert f"'my-flow' is already used by the scenario in {dirs / f'{other}.yaml'}" in ran.err, ran.err
    assert receiver.requests == []


def test_a_file_taking_a_builtin_name_makes_that_name_ambiguous(main, tmp_path: Path, receiver: Receiver) -> None:
    """The built-in was played, and the folder's file by that name skipped unsaid."""
    dirs = folder(tmp_path, mine=ONE.replace("my-flow", "syncfy-two-factor"))
    ran = main("run", "syncfy-two-factor", "--scenarios", str(dirs), "--target", receiver.url, "--speed", "0")
    assert ran.code == 2, ran
    builtin = builtin_dir().resolve() / "syncfy-two-factor.yaml"
    assert f"the built-in {builtin}:1 and {dirs / 'mine.yaml'}:2" in ran.err, ran.err
    assert receiver.requests == []


def test_the_file_of_a_name_declared_once_still_runs_by_its_name_and_its_path(main, tmp_path, receiver) -> None:
    dirs = folder(tmp_path, a=ONE, b=OTHER.replace("my-flow", "their-flow"))
    for named in ("my-flow", str(dirs / "a.yaml")):
        ran = main("run", named, "--scenarios", str(dirs), "--target", receiver.url, "--speed", "0")
        assert ran.code == 0, ran
    assert len(receiver.requests) == 2


def test_an_unknown_name_names_the_files_that_could_not_be_read_with_their_lines(main, tmp_path: Path) -> None:
    dirs = folder(
        tmp_path,
        typo=ONE.replace("token.created", "token.craeted").replace("my-flow", "typo"),
        unclosed="name: [unclosed\n",
    )
    ran = main("run", "my-flow", "--scenarios", str(dirs), "--target", "http://127.0.0.1:9/", "--speed", "0")
    assert ran.code == 2, ran
    assert "unknown scenario 'my-flow'" in ran.err and "2 scenario files could not be loaded" in ran.err, ran.err
    assert f"{dirs / 'typo.yaml'}:5: steps[0].emit: unknown basistheory event type 'token.craeted'" in ran.err
    assert f"{dirs / 'unclosed.yaml'}:2: invalid YAML" in ran.err, ran.err
