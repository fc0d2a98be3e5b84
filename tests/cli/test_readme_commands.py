"""The README's command table has a row for every command `webhook-sim --help` lists: `docs` and `worker` had
none."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from simulator.cli import parser

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_command_has_a_row_in_the_readmes_table() -> None:
    [commands] = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## The command line") :].split("\n\n", 1)[1].split("\n\n", 1)[0]
    rows = set(re.findall(r"^\| `([a-z]+)", table, re.M))
    assert set(commands.choices) <= rows, set(commands.choices) - rows
