"""A scenario folder is text from outside: a file named with a line break and an escape sequence, and a description
holding them, are written escaped by `scenarios` and `validate`, one line per problem. Written raw, the name forged
an `error:` line of its own and the escape sequence rewrote the terminal."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import cli

EVIL = "evil\nerror: forged.yaml:1: all good\x1b[31m.yaml"
DESCRIPTION = "desc \\e[2J\\e[31m RED \\r\\nerror: forged"  # YAML escapes: ESC, CR, LF


def folder(tmp_path: Path) -> Path:
    d = tmp_path / "scenarios"
    d.mkdir()
    (d / "ok.yaml").write_text(
        f'name: probe-esc\nprovider: syncfy\ndescription: "{DESCRIPTION}"\nsteps:\n  - emit: credentials.created\n'
    )
    (d / EVIL).write_text("name: [\n")
    return d


def test_a_folder_with_control_characters_is_listed_and_told_escaped(tmp_path: Path) -> None:
    d = folder(tmp_path)
    listed = cli("scenarios", "--scenarios", str(d))
    assert listed.returncode == 2
    for text in (listed.stdout, listed.stderr):
        assert "\x1b" not in text and "\r" not in text
    [errors] = listed.stderr.splitlines()  # one problem, one line
    assert errors.startswith("error: ") and "evil\\nerror: forged.yaml:1: all good\\x1b[31m.yaml:2: " in errors
    [mine] = [line for line in listed.stdout.splitlines() if line.startswith("probe-esc ")]
    assert mine.endswith("desc \\x1b[2J\\x1b[31m RED error: forged")

    validated = cli("validate", *(str(p) for p in sorted(d.iterdir())))
    assert validated.returncode == 2
    assert "\x1b" not in validated.stderr
    assert len(validated.stderr.splitlines()) == 1

    described = cli("scenarios", str(d / "ok.yaml"))
    assert described.returncode == 0 and "\x1b" not in described.stdout
    assert described.stdout.splitlines()[0] == "probe-esc (syncfy): desc \\x1b[2J\\x1b[31m RED error: forged"
