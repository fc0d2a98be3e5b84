"""`run`'s reports as a CI step keeps them: one named as the store's file is refused however the store is given
(a `sqlite:` URL too: compared as text, the report was written over the store and the run said exit 0), and a
report that cannot be written leaves the other written (the JUnit file a step collects in any case went with the
JSON's folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.testing.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
RUN = ["run", "syncfy-credential-lifecycle", "--speed", "0", "--seed", "1", "--param", "refreshes=0"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
    command = [sys.executable, "-m", "simulator.cli", *args]
    return subprocess.run(command, cwd=cwd, env={**clean, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("option", ["--junit", "--report"])
@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_a_report_named_as_the_stores_file_given_as_a_url_is_refused(tmp_path: Path, option: str, form: str) -> None:
    store = tmp_path / "store.sqlite"
    url = f"sqlite:///{store}" if form == "absolute" else "sqlite:///store.sqlite"
    done = _cli(*RUN, "--target", "http://127.0.0.1:9/x", option, "store.sqlite", "--db", url, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"{option} 'store.sqlite' is --db's file too" in done.stderr, done.stderr
    assert not store.exists() or store.stat().st_size == 0  # nothing was run, nothing written over


def test_a_report_that_cannot_be_written_leaves_the_other_written(tmp_path: Path) -> None:
    with Receiver() as receiver:
        done = _cli(*RUN, "--target", receiver.url, "--report", "/dev/full", "--junit", "run.xml", cwd=tmp_path)
    assert done.returncode == 1 and "error: cannot write /dev/full" in done.stderr, done.stderr
    assert (tmp_path / "run.xml").read_text().startswith("<?xml"), done.stderr
