"""A Ctrl-C while the command's libraries load ends it with 130, whatever the library it lands in makes of it."""

from __future__ import annotations

import pytest
from pydantic_core import SchemaError

import simulator.cli as cli
from simulator.cli import commands

# What pydantic-core raised when a Ctrl-C landed while it built a model's validator, at import: one start in about
# 150 interrupted half a second in printed this as a traceback and exited 1.
DISGUISED = 'Error building "definitions" validator:\n  KeyboardInterrupt: '


def raising(error: BaseException) -> object:
    def main(argv: object = None) -> int:
        raise error

    return main


@pytest.mark.parametrize(
    "error", [KeyboardInterrupt(), SchemaError(DISGUISED)], ids=["interrupt", "interrupt-as-a-schema-error"]
)
def test_a_ctrl_c_as_the_libraries_load_ends_with_130(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    monkeypatch.setattr(commands, "main", raising(error))
    assert cli.main(["scenarios"]) == 130


def test_a_ctrl_c_behind_another_error_ends_with_130(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise ImportError("cannot import name 'x'") from interrupt
    except ImportError as error:
        monkeypatch.setattr(commands, "main", raising(error))
    assert cli.main(["scenarios"]) == 130


def test_any_other_error_is_not_taken_for_a_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "main", raising(SchemaError("Error building validator: invalid schema")))
    with pytest.raises(SchemaError):
        cli.main(["scenarios"])
