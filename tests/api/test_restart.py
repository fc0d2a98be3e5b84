"""`webhook-sim serve` as a real process: stopped by SIGTERM or killed by SIGKILL, then started again on the
same database, its schedules are still there and fire, and the deliveries it had not finished are made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """`python -m simulator.cli serve --port 0` with its output in files; `url` once it announced itself."""

    def __init__(self, db: Path, scenarios: Path, logs: Path) -> None:
        self.out, self.err = logs.with_suffix(".out"), logs.with_suffix(".err")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_SIM_")}
        command = [
            sys.executable,
            "-m",
            "simulator.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(db),
            "--scenarios",
            str(scenarios),
            "--log-format",
            "json",
        ]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        self.url = ""

    def wait_ready(self, timeout: float = 20.0) -> httpx.Client:
        def announced() -> bool:
            assert self.proc.poll() is None, self.err.read_text()
            for line in self.out.read_text().splitlines():
                if " serving on " in line:
                    self.url = line.rsplit(" ", 1)[1]
                    return True
            return False

        eventually(announced, timeout, "the server to announce its URL")
        with httpx.Client(base_url=self.url, timeout=10) as probe:
            eventually(lambda: _healthy(probe), timeout, "the server to answer")
        return httpx.Client(base_url=self.url, timeout=10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.err.read_text().splitlines() if line.startswith("{")]


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def statuses(api: httpx.Client, sub_id: str) -> dict[str, dict]:
    return {d["id"]: d for d in api.get("/deliveries", params={"subscription": sub_id}).json()["data"]}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_schedules_and_pending_deliveries_survive_a_restart(
    processes: Callable[[str], ServerProcess], make_receiver: Callable[..., Receiver], stop_signal: int
) -> None:
    receiver = make_receiver()
    receiver.respond(503)
    first = processes("first")
    with first.wait_ready() as api:
        sub = api.post(
            "/subscriptions",
            json={
                "url": receiver.url,
                "events": ["token.created"],
                "signing": "standard",
                "retry": {"delays": [0.3] * 50, "jitter": 0},
            },
        ).json()
        assert "id" in sub, sub
        emitted = [api.post("/events", json={"type": "token.created"}).json() for _ in range(3)]
        ids = {e["deliveries"][0] for e in emitted}
        eventually(
            lambda: (
                set(statuses(api, sub["id"])) == ids
                and all(d["attempts"] >= 1 for d in statuses(api, sub["id"]).values())
            ),
            what="every delivery tried and failed",
        )
        schedule = api.post("/schedules", json={"scenario": "api-one-event", "interval": 1, "speed": 0}).json()
    code = first.stop(stop_signal)
    assert code == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL)
    if stop_signal == signal.SIGTERM:
        assert {"webhook_sim.access"} <= {line["logger"] for line in first.log_lines()}
    assert {r.status for r in receiver.requests} == {503}

    receiver.respond(204)
    restarted_at = time.time()
    second = processes("second")
    with second.wait_ready() as api:
        assert [s["id"] for s in api.get("/schedules").json()["data"]] == [schedule["id"]]
        eventually(
            lambda: all(d["status"] == "succeeded" for d in statuses(api, sub["id"]).values()),
            timeout=15,
            what="the pending deliveries delivered after the restart",
        )
        assert set(statuses(api, sub["id"])) == ids
        delivered = {eid for r in receiver.requests if r.status == 204 for eid in r.event_ids}
        assert delivered == {e["id"] for e in emitted}

        def fired_since_restart() -> bool:
            runs = api.get("/runs").json()["data"]
            return any(datetime.fromisoformat(r["created_at"]).timestamp() >= restarted_at for r in runs)

        eventually(fired_since_restart, timeout=10, what="the schedule to fire after the restart")
    assert second.stop() == 0


def test_a_subscription_with_nothing_pending_gets_new_events_after_a_restart(
    processes: Callable[[str], ServerProcess], make_receiver: Callable[..., Receiver]
) -> None:
    """Everything sent before the stop: the restarted server holds nothing active for the subscription, and its
    next event must still go out at once (it once waited in the store for the start after)."""
    receiver = make_receiver()
    first = processes("first")
    with first.wait_ready() as api:
        sub = api.post("/subscriptions", json={"url": receiver.url, "events": ["token.created"]}).json()
        api.post("/events", json={"type": "token.created"})
        receiver.wait_for(1)
        eventually(lambda: {d["status"] for d in statuses(api, sub["id"]).values()} == {"succeeded"}, what="sent")
    assert first.stop() == 0

    second = processes("second")
    with second.wait_ready() as api:
        emitted = api.post("/events", json={"type": "token.created"}).json()
        [delivery_id] = emitted["deliveries"]
        eventually(
            lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == "succeeded",
            timeout=10,
            what="the event published after the restart to be delivered",
        )
        assert [r.event_ids for r in receiver.wait_for(2)][1] == [emitted["id"]]
    assert second.stop() == 0


PACED = (
    "name: paced\nprovider: basistheory\ndescription: evenly paced tokens\nsteps:\n"
    "  - repeat: 40\n    steps:\n      - emit: token.created\n      - wait: 100ms\n"
)


def run_events(api: httpx.Client, run_id: str) -> list[tuple[int, str, dict]]:
    page = api.get(f"/runs/{run_id}/events", params={"limit": 100}).json()["data"]
    return [(e["seq"], e["id"], e["body"]) for e in page]


def ended(api: httpx.Client, run_id: str, timeout: float = 30) -> dict:
    eventually(lambda: api.get(f"/runs/{run_id}").json()["status"] not in ("pending", "running"), timeout, "its end")
    return api.get(f"/runs/{run_id}").json()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_run_cut_short_goes_on_at_the_next_start_with_the_events_it_would_have_made(
    processes: Callable[[str], ServerProcess],
    make_receiver: Callable[..., Receiver],
    tmp_path: Path,
    stop_signal: int,
) -> None:
    """A server stopped or killed mid-run: the next one on the file goes on with the run from the events the store
    has, keeping its clock. Every event reaches the receiver, and the run's events are byte for byte those of the
    same run played uninterrupted."""
    receiver = make_receiver()
    first = processes("first")
    (tmp_path / "scenarios" / "paced.yaml").write_text(PACED)
    spec = {
        "scenario": "paced",
        "speed": 1,
        "seed": 5,
        "start_time": "2026-01-01T00:00:00Z",
        "target": receiver.url,
        "signing": "standard",
    }
    with first.wait_ready() as api:
        run = api.post("/runs", json=spec).json()
        eventually(lambda: len(receiver.requests) >= 8, what="the run's first deliveries")
        started_at = api.get(f"/runs/{run['id']}").json()["started_at"]
    first.stop(stop_signal)
    cut = len(set(receiver.event_ids()))
    assert cut < 40

    second = processes("second")
    with second.wait_ready() as api:
        done = ended(api, run["id"])
        assert (done["status"], done["events"], done["error"]) == ("completed", 40, None), done
        assert done["started_at"] == started_at, "it keeps its clock"
        resumed = run_events(api, run["id"])
        eventually(lambda: len(set(receiver.event_ids())) == 40, what="every event delivered")
        got = list(receiver.event_ids())
        assert sorted(set(got)) == sorted(e[1] for e in resumed)
        if stop_signal == signal.SIGTERM:
            assert len(got) == 40, "a clean stop lets its attempts end: nothing is sent twice"
        else:
            assert len(got) - 40 <= 2, "at most the attempts under way when it was killed are sent again"
        reference = ended(api, api.post("/runs", json=spec).json()["id"])
        assert reference["status"] == "completed"
        assert resumed == run_events(api, reference["id"])
    assert second.stop() == 0
    logged = [line["message"] for line in [*first.log_lines(), *second.log_lines()]]
    assert any(f"run {run['id']}: the process playing it stopped; it resumes from event" in m for m in logged)
