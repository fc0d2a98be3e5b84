"""A `webhook-sim run --db FILE` killed (SIGKILL) leaves its run to no one: the next simulator on the file (a
`serve`) ends it failed as interrupted and sends only the deliveries it had made. The run was stored as one to go
on elsewhere, and that `serve` played the rest of the CI step's run to its target, ending it `completed`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from simulator.core.runs import INTERRUPTED
from simulator.core.simulator import Simulator
from simulator.testing.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT, stderr=subprocess.DEVNULL)


async def test_a_killed_run_commands_run_is_not_played_on_by_the_next_simulator(tmp_path: Path) -> None:
    db = tmp_path / "ci.db"
    with Receiver() as receiver:
        receiver.respond(204, delay=0.01)
        args = ["run", "basistheory-http-requests", "--target", receiver.url, "--speed", "0", "--seed", "11"]
        args += ["--param", "duration=3h", "--param", "mean_gap=1s", "--db", str(db)]  # some 10,000 events
        proc = start(args)
        try:
            await receiver.wait_for_async(20, timeout=60)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        sim = await Simulator.open(str(db))  # as `serve` opens it
        try:
            (run,) = await sim.runs.list()
            assert run.status == "failed" and run.error == INTERRUPTED, run
            assert await sim.engine.settled(None, timeout=60)  # what it had made is sent
            made = await sim.store.count_run_events(run.id)
            assert (await sim.runs.get(run.id)).status == "failed"
        finally:
            await sim.close()
    assert made < 5000, made  # the run was not played on
