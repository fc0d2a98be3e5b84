"""An ephemeral store (`--db memory`) is a file in the temporary folder, removed when its store closes. A process
killed outright never closes it: each such `run` left half a megabyte there for good. The next ephemeral store
made removes those no process holds any more, and nothing else."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from simulator.store import Store
from simulator.store.lock import ABANDONED_AFTER
from tests.api.test_restart import ROOT

LONG = "syncfy-credential-lifecycle"  # minutes of events at speed 1: still playing when it is killed


def _stores(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("webhook-sim-")}


def _killed_run(folder: Path) -> set[str]:
    """The files a `run --db memory` killed by SIGKILL while playing leaves in `folder`."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}, "TMPDIR": str(folder)}
    command = [sys.executable, "-m", "simulator.cli", "run", LONG, "--target", "http://127.0.0.1:9/", "--db", "memory"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(name.endswith(".db-wal") for name in _stores(folder)):  # opened, and writing
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
    return _stores(folder)


def _age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    for name in _stores(folder):
        os.utime(folder / name, (then, then))


def _open_and_close_an_ephemeral_store() -> None:
    async def main() -> None:
        await (await Store.open("memory")).close()

    asyncio.run(main())


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of the test's own, for this process and the ones it starts."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_store_of_a_killed_run_is_removed_by_the_next_one(folder: Path) -> None:
    left = _killed_run(folder)
    assert {n.split(".", 1)[1] for n in left} >= {"db", "db-wal", "db.lock"}, left
    _age(folder, ABANDONED_AFTER + 5)
    _open_and_close_an_ephemeral_store()
    assert _stores(folder) == set()


def test_a_store_held_or_just_made_is_left_alone(folder: Path) -> None:
    """A lock a live process holds, or one made within ABANDONED_AFTER (a process between making its file and
    taking its lock), is no abandoned store."""
    left = _killed_run(folder)  # just made: too young to be taken for abandoned
    held = folder / "webhook-sim-held.db"
    held.write_bytes(b"")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('held', flush=True); sys.stdin.read()", f"{held}.lock"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        then = time.time() - ABANDONED_AFTER - 5
        for path in (held, Path(f"{held}.lock")):
            os.utime(path, (then, then))
        _open_and_close_an_ephemeral_store()
        assert _stores(folder) == left | {held.name, f"{held.name}.lock"}
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()
