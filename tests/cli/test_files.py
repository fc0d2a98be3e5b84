"""Files named by options (a key, a token) are read only if they are regular files of a sane size: /dev/zero
was read until memory ran out, and a FIFO held the command for good. Either is exit 2 naming the option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["serve", "--port", "0"], "--token-file"),
        (["serve", "--port", "0"], "--signing-key"),
        (["listen"], "--public-key"),
    ],
)
@pytest.mark.parametrize("kind", ["device", "fifo", "too-large"])
def test_a_file_option_takes_only_a_regular_file_of_sane_size(
    tmp_path: Path, command: list[str], option: str, kind: str
) -> None:
    path = tmp_path / "file"
    if kind == "device":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)  # no writer ever comes
    else:
        path.write_bytes(b"x" * (2 * 1024 * 1024))
    args = [sys.executable, "-m", "simulator.cli", *command, option, str(path), "--db", str(tmp_path / "sim.db")]
    if command[0] == "listen":
        args = [*args[:-2], "--port", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr[-2000:]
    first = done.stderr.strip().splitlines()[0]
    assert first.startswith("error: ") and option.lstrip("-") in first and "Traceback" not in done.stderr, done.stderr
