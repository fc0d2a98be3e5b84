"""Option values the command line or the environment gives are checked as the options are read: exit 2 naming
the option, never a traceback. A negative --limit raised ValueError from a deque, a delay of nan was taken and
made every answer a 500, and a bad value in WEBHOOK_SIM_<OPTION> raised ValueError before any parsing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "env", "option"),
    [
        (["deliveries", "--limit", "-1"], {}, "--limit"),
        (["scenarios", "syncfy-chaos", "--limit", "-3"], {}, "--limit"),
        (["listen", "--delay", "nan"], {}, "--delay"),
        (["trigger", "token.created", "--target", "http://127.0.0.1:9/x", "--wait", "inf"], {}, "--wait"),
        (["run", "syncfy-chaos", "--target", "http://127.0.0.1:9/x", "--failures", "-1"], {}, "--failures"),
        (["run", "syncfy-chaos", "--target", "http://127.0.0.1:9/x"], {"WEBHOOK_SIM_SEED": "abc"}, "--seed"),
        (["run", "syncfy-chaos", "--target", "http://127.0.0.1:9/x"], {"WEBHOOK_SIM_SPEED": "fast"}, "--speed"),
        (["listen"], {"WEBHOOK_SIM_LISTEN_PORT": "abc"}, "--port"),
        (["deliveries"], {"WEBHOOK_SIM_LIMIT": "-1"}, "--limit"),
    ],
)
def test_a_bad_value_is_exit_2_naming_its_option(args: list[str], env: dict[str, str], option: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    command = [sys.executable, "-m", "simulator.cli", *args]
    done = subprocess.run(command, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and f"argument {option}" in done.stderr, done.stderr[-1500:]
    assert "Traceback" not in done.stderr


def test_run_refuses_a_scenarios_folder_that_is_not_there(tmp_path: Path) -> None:
    """It ran without it, and exit 0: a typo in a CI job's `--scenarios` went unseen."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    args = ["run", "syncfy-credential-lifecycle", "--target", "http://127.0.0.1:9/x", "--speed", "0"]
    command = [sys.executable, "-m", "simulator.cli", *args, "--scenarios", str(tmp_path / "nonexist")]
    done = subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--scenarios" in done.stderr and "no such folder" in done.stderr, done.stderr


def test_trigger_refuses_an_override_path_too_deep_naming_it() -> None:
    """In-process `trigger` built the event without its checks' words: a traceback of pydantic's."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    deep = ".".join("abcdefghijklmnopq") + "=1"  # 17 parts: one past the bound
    args = ["trigger", "token.created", "--target", "http://127.0.0.1:9/x", "--override", deep]
    done = subprocess.run([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--override 'a.b.c" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_asyncapi_says_when_it_cannot_write() -> None:
    """A full disk (/dev/full) gave a traceback; `run --report` already said it in one line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    command = [sys.executable, "-m", "simulator.cli", "asyncapi", "--output", "/dev/full"]
    done = subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("error: cannot write /dev/full"), done.stderr
