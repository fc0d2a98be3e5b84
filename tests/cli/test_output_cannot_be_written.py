"""Standard output that cannot take what a command writes (`> /dev/full`, a full disk) is said in one line, exit 1,
as `--output` to such a file is: it was a traceback from wherever the command happened to print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FULL = Path("/dev/full")  # a device every write to fails with ENOSPC (Linux)

pytestmark = pytest.mark.skipif(not FULL.exists(), reason="/dev/full is missing: no device here fails every write")


@pytest.mark.parametrize(
    "args",
    [["sample", "token.created", "--seed", "1"], ["events"], ["schema", "credentials.created"], ["scenarios"]],
    ids=lambda args: args[0],
)
def test_a_full_standard_output_is_said_in_one_line(args: list[str]) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    with FULL.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "simulator.cli", *args], stdout=out, stderr=subprocess.PIPE, text=True, env=clean,
            timeout=60,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: cannot write the output: No space left on device\n", done.stderr
