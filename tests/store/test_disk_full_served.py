"""`webhook-sim serve` on a database whose disk fills up during a run: POST /events and POST /runs answer 503
problem+json and store nothing; once the disk frees, every delivery ends with its attempts recorded; after a
restart nothing is sent again. A real process, a real 2 MiB tmpfs filled by a real file, a real receiver."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, problem, write_scenarios
from tests.api.test_restart import ServerProcess
from tests.store.small_disk import fill, small_disk

FULL = "database or disk is full"
# A token a second for ten minutes: at speed 20 it is still running when the disk fills, and cancelled after.
LONG_RUN = """
name: many-tokens
provider: basistheory
description: A token every second.
steps:
  - repeat: 600
    steps:
      - wait: 1s
      - emit: token.created
"""


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as where:
        yield where


@pytest.fixture
def serve(tmp_path: Path, disk: Path) -> Iterator[Callable[[str], ServerProcess]]:
    """Start `serve` on disk/sim.db (logs outside the small disk); every process is killed before it unmounts."""
    scenarios = write_scenarios(tmp_path / "scenarios")
    (scenarios / "many-tokens.yaml").write_text(LONG_RUN)
    started: list[ServerProcess] = []

    def start(name: str) -> ServerProcess:
        started.append(ServerProcess(disk / "sim.db", scenarios, tmp_path / name))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.stop(signal.SIGKILL)


def deliveries(api: httpx.Client, **query: str) -> list[dict]:
    found, cursor = [], None
    while True:
        page = api.get("/deliveries", params={**query, "limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        found.extend(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def test_a_full_disk_refuses_new_work_with_503_and_loses_no_attempt(
    serve: Callable[[str], ServerProcess], disk: Path, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    first = serve("first")
    with first.wait_ready() as api:
        sub = api.post("/subscriptions", json={"url": receiver.url, "events": ["token.created"]}).json()
        run = api.post("/runs", json={"scenario": "many-tokens", "speed": 20, "seed": 7}).json()
        eventually(lambda: len(receiver.requests) >= 2, timeout=30, what="the run's first deliveries")

        filler = fill(disk)
        eventually(lambda: FULL in first.err.read_text(), timeout=30, what="SQLite to report the full disk")
        assert api.get(f"/runs/{run['id']}").json()["status"] == "running"
        answer = api.post("/events", json={"type": "token.created"})
        assert FULL in problem(answer, 503)["detail"] and answer.headers["retry-after"] == "5"
        refused = problem(api.post("/runs", json={"scenario": "api-one-event", "target": receiver.url}), 503)
        assert FULL in refused["detail"]
        problem(api.post("/subscriptions", json={"url": receiver.url}), 503)
        problem(api.post("/schedules", json={"scenario": "api-one-event", "cron": "0 0 1 1 *"}), 503)

        filler.unlink()
        eventually(lambda: "store writes again" in first.err.read_text(), timeout=30, what="the store to recover")
        api.post(f"/runs/{run['id']}/cancel")

        def settled() -> bool:
            made = deliveries(api, subscription=sub["id"])
            return api.get(f"/runs/{run['id']}").json()["status"] == "cancelled" and all(
                d["status"] == "succeeded" for d in made
            )

        eventually(settled, timeout=60, what="the cancelled run's deliveries to succeed")
        made = deliveries(api, subscription=sub["id"])
        assert {d["run_id"] for d in made} == {run["id"]}  # the refused POST /events stored nothing
        assert [r["id"] for r in api.get("/runs").json()["data"]] == [run["id"]]  # nor did POST /runs
        assert len(api.get("/subscriptions").json()["data"]) == 1
        assert api.get("/schedules").json()["data"] == []
        arrived: dict[str, int] = {}
        for request in list(receiver.requests):
            for event_id in request.event_ids:
                arrived[event_id] = arrived.get(event_id, 0) + 1
        for d in made:
            log = api.get(f"/deliveries/{d['id']}").json()["attempt_log"]
            assert d["attempts"] == len(log) == arrived[d["event_ids"][0]] >= 1, d
        assert sum(arrived.values()) == len(receiver.requests)  # every request that went out is on record
    assert first.stop() == 0

    sent = len(receiver.requests)
    second = serve("second")
    with second.wait_ready() as api:
        assert {d["status"] for d in deliveries(api, subscription=sub["id"])} == {"succeeded"}
        # One new event through the same receiver: once it is in, anything resumed at the start would be too.
        api.post("/events", json={"type": "token.created", "target": receiver.url}).raise_for_status()
        eventually(lambda: len(receiver.requests) > sent, what="the new event after the restart")
        assert len(receiver.requests) == sent + 1
    assert second.stop() == 0
