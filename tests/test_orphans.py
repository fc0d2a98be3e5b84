"""The child processes (the store's rows process, a run's building process) end with their parent, even when
they were stopped as it was killed: a stopped child never reads the end of its input, and stayed for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

# Each parent prints its child's pid once the child has answered (so it is past its start, where it asks to end
# with its parent), then waits to be killed.
ROWS_PARENT = """
import asyncio, sys
from simulator.store import Store, rows_process
from tests.store.test_rows_process import started, write
rows_process.START_AFTER = 3

async def main():
    store = await Store.open(sys.argv[1], secret_key="rows")
    process = await started(store)
    for i in range(1000):
        if process.transactions:
            break
        await write(store, f"more-{i}")
    print(process.pid, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""

BUILDING_PARENT = """
import asyncio
from simulator.scenarios import offload
from tests.scenarios.test_offload import mixed, played

real = offload._message
answered = asyncio.Event()

async def spied(process):
    message = await real(process)
    if not answered.is_set():
        print(process.pid, flush=True)
        answered.set()
    return message

async def hold(n):
    if answered.is_set():
        await asyncio.sleep(3600)  # the run waits on an event built there: the building process lives

offload._message = spied
asyncio.run(played(mixed(5000), handoff=10, on_event=hold))
"""


def state(pid: int) -> str | None:
    """The process's state letter (R, S, T for stopped, Z for ended but not yet reaped), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {TIMEOUT}s waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("script", [ROWS_PARENT, BUILDING_PARENT], ids=["rows process", "building process"])
def test_a_child_stopped_when_its_parent_is_killed_ends_with_it(script: str, tmp_path: Path) -> None:
    argv = [sys.executable, "-c", script, str(tmp_path / "rows.db")]
    child = None
    with subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True) as parent:
        # A parent that never prints ends (and its pipe with it) at the timer's kill.
        timer = threading.Timer(TIMEOUT, parent.kill)
        timer.start()
        try:
            assert parent.stdout is not None
            line = parent.stdout.readline()
            assert line.strip().isdigit(), f"the parent printed no child: {line!r}, exit {parent.poll()}"
            child = int(line)
            os.kill(child, signal.SIGSTOP)
            wait_for(lambda: state(child) == "T", "the child to stop")
            parent.kill()
            parent.wait(TIMEOUT)
            wait_for(lambda: state(child) in (None, "Z"), "the stopped child to end with its parent")
        finally:
            timer.cancel()
            parent.kill()
            if child is not None and state(child) not in (None, "Z"):
                os.kill(child, signal.SIGKILL)


def test_a_child_whose_parent_is_already_gone_exits_at_once() -> None:
    """The parent died before the child asked to die with it: the child is someone else's by then, and exits."""
    code = "import sys; from simulator.orphans import end_with_parent; end_with_parent(int(sys.argv[1])); print('on')"
    for parent, code_then, says in ((1, 1, ""), (os.getpid(), 0, "on\n")):  # pid 1 never started this test's child
        ran = subprocess.run([sys.executable, "-c", code, str(parent)], cwd=ROOT, timeout=TIMEOUT, capture_output=True)
        assert (ran.returncode, ran.stdout) == (code_then, says.encode()), ran
